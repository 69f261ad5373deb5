// libcurl multi implementation of HttpClient.
#include "delivery/http_client.h"

#include <curl/curl.h>
#include <sys/socket.h>

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

}  // namespace

struct HttpClient::Impl {
  const DestinationGuard& guard;
  HttpClientOptions options;
  CURLM* multi = nullptr;
  std::set<Transfer*> live;  // transfers started and not yet finished
  // Easy handles of finished transfers, reset and kept for the next ones: creating one per
  // transfer was a measurable share of the dispatcher's time (allocation and setup).
  std::vector<CURL*> idle;
};

namespace {
constexpr size_t kMaxIdleHandles = 1024;

void Free(CURLM* multi, std::vector<CURL*>& idle, Transfer* t) {
  curl_multi_remove_handle(multi, t->easy);
  if (idle.size() < kMaxIdleHandles) {
    curl_easy_reset(t->easy);
    idle.push_back(t->easy);
  } else {
    curl_easy_cleanup(t->easy);
  }
  curl_slist_free_all(t->headers);
  delete t;
}
}  // namespace

HttpClient::HttpClient(const DestinationGuard& guard, HttpClientOptions options)
    : impl_(new Impl{guard, std::move(options), nullptr, {}, {}}) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  impl_->multi = curl_multi_init();
  curl_multi_setopt(impl_->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 64L);
  curl_multi_setopt(impl_->multi, CURLMOPT_MAXCONNECTS, 1024L);
}

HttpClient::~HttpClient() {
  // Abandon transfers still running (shutdown): free them without calling back.
  for (Transfer* t : impl_->live) Free(impl_->multi, impl_->idle, t);
  for (CURL* e : impl_->idle) curl_easy_cleanup(e);
  curl_multi_cleanup(impl_->multi);
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
  int running = 0;
  curl_multi_perform(impl_->multi, &running);
  if (active_ > 0 || timeout_ms > 0) {
    curl_multi_poll(impl_->multi, nullptr, 0, timeout_ms, nullptr);
    curl_multi_perform(impl_->multi, &running);
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

void HttpClient::Wakeup() { curl_multi_wakeup(impl_->multi); }

}  // namespace relay::delivery
