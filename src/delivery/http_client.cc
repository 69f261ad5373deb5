// libcurl multi implementation of HttpClient.
#include "delivery/http_client.h"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <set>

namespace relay::delivery {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Transfer {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  HttpCall call;
  HttpClient::Callback done;
  HttpCallResult result;
  const DestinationGuard* guard = nullptr;
  std::string refused;  // set when the guard refused the address curl was about to connect to
  int64_t started_ms = 0;
  bool truncated = false;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  size_t room = kMaxResponseBytes - t->result.body.size();
  t->result.body.append(data, std::min(room, len));
  if (len > room) {
    // Keep the first 4 KiB and stop reading: an endless body must not hold a worker.
    t->truncated = true;
    return 0;
  }
  return len;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  size_t colon = line.find(':');
  if (colon != std::string_view::npos && t->result.headers.size() < 64) {
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == "retry-after" || name == "www-authenticate" || name == "content-type") {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
      }
      while (!value.empty() &&
             (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
        value.remove_suffix(1);
      }
      t->result.headers[name] = std::string(value.substr(0, 512));
    }
  }
  return size * n;
}

// Runs before every new connection, with the address DNS gave: the SSRF check.
curl_socket_t OnOpenSocket(void* user, curlsocktype purpose, curl_sockaddr* address) {
  auto* t = static_cast<Transfer*>(user);
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  auto ip = FromSockaddr(&address->addr);
  if (!ip) {
    t->refused = "destination refused: unsupported address family";
    return CURL_SOCKET_BAD;
  }
  Status s = t->guard->Check(*ip);
  if (!s.ok()) {
    t->refused = s.message();
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype, address->protocol);
}

// The epoll set curl's sockets are watched in, and curl's timer.
struct SocketLoop {
  int epoll_fd = -1;
  int64_t timer_deadline_ms = -1;  // when curl wants CURL_SOCKET_TIMEOUT; -1: no timer
};

}  // namespace

// Transfers run through curl_multi_socket_action on an epoll set: each wake-up does the work of the
// sockets that are ready, instead of curl_multi_perform walking every transfer (which showed as
// the dispatcher's largest cost with many transfers in flight).
struct HttpClient::Impl {
  const DestinationGuard& guard;
  HttpClientOptions options;
  CURLM* multi = nullptr;
  SocketLoop loop;
  int wake_fd = -1;          // an eventfd in the epoll set: Wakeup() writes to it
  std::set<Transfer*> live;  // transfers started and not yet finished
  // Easy handles of finished transfers, kept for the next ones (Start sets every option): one per
  // transfer was a measurable share of the dispatcher's time (allocation and setup).
  std::vector<CURL*> idle;
};

namespace {
constexpr size_t kMaxIdleHandles = 1024;

int OnSocket(CURL*, curl_socket_t fd, int what, void* user, void*) {
  auto* impl = static_cast<SocketLoop*>(user);
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(impl->epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
    return 0;
  }
  epoll_event ev{};
  ev.data.fd = fd;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) ev.events |= EPOLLIN;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) ev.events |= EPOLLOUT;
  if (epoll_ctl(impl->epoll_fd, EPOLL_CTL_MOD, fd, &ev) != 0) {
    epoll_ctl(impl->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
  }
  return 0;
}

int OnTimer(CURLM*, long timeout_ms, void* user) {
  auto* impl = static_cast<SocketLoop*>(user);
  impl->timer_deadline_ms = timeout_ms < 0 ? -1 : NowMs() + timeout_ms;
  return 0;
}

void Free(CURLM* multi, std::vector<CURL*>& idle, Transfer* t) {
  curl_multi_remove_handle(multi, t->easy);
  if (idle.size() < kMaxIdleHandles) {
    // Not reset: Start sets every option a transfer uses, pointers included, before the handle
    // runs again (a reset per transfer was 4% of the drain's CPU).
    idle.push_back(t->easy);
  } else {
    curl_easy_cleanup(t->easy);
  }
  curl_slist_free_all(t->headers);
  delete t;
}
}  // namespace

HttpClient::HttpClient(const DestinationGuard& guard, HttpClientOptions options)
    : impl_(new Impl{guard, std::move(options), nullptr, {}, -1, {}, {}}) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  impl_->loop.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  impl_->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event wake{};
  wake.events = EPOLLIN;
  wake.data.fd = impl_->wake_fd;
  epoll_ctl(impl_->loop.epoll_fd, EPOLL_CTL_ADD, impl_->wake_fd, &wake);
  impl_->multi = curl_multi_init();
  curl_multi_setopt(impl_->multi, CURLMOPT_SOCKETFUNCTION, OnSocket);
  curl_multi_setopt(impl_->multi, CURLMOPT_SOCKETDATA, &impl_->loop);
  curl_multi_setopt(impl_->multi, CURLMOPT_TIMERFUNCTION, OnTimer);
  curl_multi_setopt(impl_->multi, CURLMOPT_TIMERDATA, &impl_->loop);
  curl_multi_setopt(impl_->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 64L);
  curl_multi_setopt(impl_->multi, CURLMOPT_MAXCONNECTS, 1024L);
}

HttpClient::~HttpClient() {
  // Abandon transfers still running (shutdown): free them without calling back.
  for (Transfer* t : impl_->live) Free(impl_->multi, impl_->idle, t);
  for (CURL* e : impl_->idle) curl_easy_cleanup(e);
  curl_multi_cleanup(impl_->multi);
  close(impl_->wake_fd);
  close(impl_->loop.epoll_fd);
}

void HttpClient::Start(HttpCall call, Callback done) {
  auto* t = new Transfer();
  t->call = std::move(call);
  t->done = std::move(done);
  t->guard = &impl_->guard;
  t->started_ms = NowMs();
  CURL* e = nullptr;
  if (!impl_->idle.empty()) {
    e = impl_->idle.back();
    impl_->idle.pop_back();
  } else {
    e = curl_easy_init();
  }
  t->easy = e;
  for (const auto& h : t->call.headers) t->headers = curl_slist_append(t->headers, h.c_str());
  t->headers = curl_slist_append(t->headers, "Expect:");
  curl_easy_setopt(e, CURLOPT_URL, t->call.url.c_str());
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->call.body.data());
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->call.body.size()));
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(e, CURLOPT_USERAGENT, impl_->options.user_agent.c_str());
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(t->call.timeout_ms));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(t->call.connect_timeout_ms, t->call.timeout_ms)));
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_PROXY, "");
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!impl_->options.ca_file.empty()) {
    curl_easy_setopt(e, CURLOPT_CAINFO, impl_->options.ca_file.c_str());
  }
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, OnOpenSocket);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t);
  curl_easy_setopt(e, CURLOPT_PRIVATE, t);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_multi_add_handle(impl_->multi, e);
  impl_->live.insert(t);
  ++active_;
}

void HttpClient::Poll(int timeout_ms) {
  Impl& impl = *impl_;
  int running = 0;
  // Wait for a ready socket, a wake-up or curl's own timer, whichever comes first.
  int wait_ms = timeout_ms;
  if (impl.loop.timer_deadline_ms >= 0) {
    wait_ms = static_cast<int>(
        std::clamp<int64_t>(impl.loop.timer_deadline_ms - NowMs(), 0, std::max(timeout_ms, 0)));
  }
  epoll_event events[64];
  int n = epoll_wait(impl.loop.epoll_fd, events, 64, std::max(wait_ms, 0));
  for (int i = 0; i < n; ++i) {
    int fd = events[i].data.fd;
    if (fd == impl.wake_fd) {
      uint64_t count = 0;
      (void)!read(impl.wake_fd, &count, sizeof count);
      continue;
    }
    int flags = 0;
    if (events[i].events & EPOLLIN) flags |= CURL_CSELECT_IN;
    if (events[i].events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
    if (events[i].events & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
    curl_multi_socket_action(impl.multi, fd, flags, &running);
  }
  if (impl.loop.timer_deadline_ms >= 0 && impl.loop.timer_deadline_ms <= NowMs()) {
    impl.loop.timer_deadline_ms = -1;
    curl_multi_socket_action(impl.multi, CURL_SOCKET_TIMEOUT, 0, &running);
  }
  int queued = 0;
  while (CURLMsg* m = curl_multi_info_read(impl_->multi, &queued)) {
    if (m->msg != CURLMSG_DONE) continue;
    CURL* e = m->easy_handle;
    CURLcode code = m->data.result;
    Transfer* t = nullptr;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, &t);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    t->result.duration_ms = NowMs() - t->started_ms;
    bool complete_response = code == CURLE_OK || (code == CURLE_WRITE_ERROR && t->truncated);
    if (status > 0 && complete_response) {
      t->result.status = static_cast<int>(status);
    } else if (!t->refused.empty()) {
      t->result.error = t->refused;
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
      t->result.error = "timeout after " + std::to_string(t->result.duration_ms) + " ms";
    } else {
      t->result.error = curl_easy_strerror(code);
      if (status > 0) t->result.error += " (after HTTP " + std::to_string(status) + ")";
    }
    --active_;
    impl_->live.erase(t);
    Callback done = std::move(t->done);
    HttpCallResult result = std::move(t->result);
    Free(impl_->multi, impl_->idle, t);
    done(std::move(result));
  }
}

void HttpClient::Wakeup() {
  uint64_t one = 1;
  (void)!write(impl_->wake_fd, &one, sizeof one);
}

}  // namespace relay::delivery
