// HttpServer over Boost.Beast: one coroutine per connection on its own strand, with read
// deadlines, header and body limits enforced while reading, and handlers on a worker pool so a
// handler waiting on the store never stalls socket I/O.
#include "api/http_server.h"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "api/errors.h"
#include "common/client_address.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/mutex.h"

namespace relay::api {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

constexpr auto kTuple = net::as_tuple(net::use_awaitable);

int64_t SteadyNanos() { return std::chrono::steady_clock::now().time_since_epoch().count(); }

struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  // A complete request head arrived and the request is being read, handled or answered: such a
  // connection is never evicted. Written on the connection's strand, read by the acceptor.
  std::atomic<bool> busy{false};
  // Since when it has been waiting for a complete request head (idle, or reading one).
  std::atomic<int64_t> waiting_since{SteadyNanos()};
  std::atomic<bool> evicted{false};
};

void CloseIfWaiting(const std::shared_ptr<Connection>& conn) {
  net::post(conn->stream.get_executor(), [conn] {
    if (!conn->busy) {
      beast::error_code ec;
      conn->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
      conn->stream.socket().close(ec);
    }
  });
}

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

http::response<http::string_body> MakeBeastResponse(const HttpResponse& r, unsigned version,
                                                    bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "consent-relay");
  if (!r.body.empty() || r.status >= 200) res.set(http::field::content_type, r.content_type);
  for (const auto& [k, v] : r.headers) res.set(k, v);
  res.body() = r.body;
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

class HttpServerImpl final : public HttpServer {
 public:
  HttpServerImpl(const HttpServerOptions& options, HttpHandler handler)
      : options_(options),
        handler_(std::move(handler)),
        ioc_(options.io_threads),
        acceptor_(net::make_strand(ioc_)),
        workers_(static_cast<size_t>(options.worker_threads)),
        request_prefix_(crypto::HexEncode(crypto::RandomBytes(4))) {}

  ~HttpServerImpl() override { Stop(0); }

  Status Listen() {
    beast::error_code ec;
    auto address = net::ip::make_address(options_.host, ec);
    if (ec) return InvalidArgument("invalid listen address '" + options_.host + "'");
    tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return Unavailable("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                         ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    return Status::Ok();
  }

  void Run() {
    net::co_spawn(acceptor_.get_executor(), Accept(), net::detached);
    for (int i = 0; i < options_.io_threads; ++i) {
      threads_.emplace_back([this] { ioc_.run(); });
    }
  }

  uint16_t port() const override { return port_; }

  void Stop(int grace_seconds) override {
    if (stopped_.exchange(true)) return;
    stopping_ = true;
    net::post(acceptor_.get_executor(), [this] {
      beast::error_code ec;
      acceptor_.close(ec);
    });
    {
      MutexLock lock(mu_);
      for (auto& [id, conn] : connections_) CloseIfWaiting(conn);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(grace_seconds);
      while (!connections_.empty() && std::chrono::steady_clock::now() < deadline) {
        lock.WaitFor(connections_changed_, deadline - std::chrono::steady_clock::now());
      }
    }
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    workers_.join();
  }

 private:
  // --max-connections is a cap on the client sockets this process holds. At the cap, the next
  // connection stays in the kernel's backlog until one closes: the one that has waited longest
  // without a complete request head is closed for it, so a flood of silent or trickling sockets
  // cannot lock newcomers out, and a request in progress is never cut.
  net::awaitable<void> Accept() {
    while (!stopping_) {
      while (!stopping_ && !HasRoom()) {
        EvictLongestWaiting();
        net::steady_timer pause(co_await net::this_coro::executor, 5ms);
        co_await pause.async_wait(kTuple);
      }
      if (stopping_) co_return;
      auto [ec, socket] = co_await acceptor_.async_accept(net::make_strand(ioc_), kTuple);
      if (ec) {
        if (stopping_ || ec == net::error::operation_aborted) co_return;
        log::Warn("accept failed", {{"error", ec.message()}});
        // Out of descriptors: give connections a moment to close rather than spin.
        net::steady_timer pause(co_await net::this_coro::executor, 50ms);
        co_await pause.async_wait(kTuple);
        continue;
      }
      auto conn = std::make_shared<Connection>(std::move(socket));
      uint64_t id = next_connection_id_++;
      {
        MutexLock lock(mu_);
        connections_[id] = conn;
      }
      net::co_spawn(conn->stream.get_executor(), Serve(conn), [this, id, conn](std::exception_ptr) {
        // The socket closes before the connection leaves the count, whoever still
        // holds the Connection (a posted eviction): the cap counts sockets.
        beast::error_code ec;
        conn->stream.socket().close(ec);
        MutexLock lock(mu_);
        connections_.erase(id);
        connections_changed_.notify_all();
      });
    }
  }

  bool HasRoom() {
    MutexLock lock(mu_);
    return connections_.size() < options_.max_connections;
  }

  // Closes the connection waiting longest for a complete request head (once; its socket is gone
  // when its coroutine ends). None waiting: every connection is serving a request, and the
  // acceptor waits for one to finish.
  void EvictLongestWaiting() {
    MutexLock lock(mu_);
    std::shared_ptr<Connection> victim;
    for (auto& [id, conn] : connections_) {
      if (conn->busy || conn->evicted) continue;
      if (!victim || conn->waiting_since < victim->waiting_since) victim = conn;
    }
    if (!victim) return;
    victim->evicted = true;
    CloseIfWaiting(victim);
  }

  net::awaitable<void> WriteAndClose(Connection& c, const HttpResponse& r, unsigned version) {
    auto res = MakeBeastResponse(r, version, false);
    c.stream.expires_after(10s);
    auto [wec, wn] = co_await http::async_write(c.stream, res, kTuple);
    if (wec) co_return;
    beast::error_code ec;
    c.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    // Lingering close: the client may still be sending (the rest of a refused body). Closing
    // with unread data makes the kernel reset the connection, which can destroy our answer before
    // the client reads it; so read and drop what arrives, for at most 2 s and 4 MiB.
    c.stream.expires_after(2s);
    char scratch[16384];
    for (size_t drained = 0; drained < (4u << 20);) {
      auto [rec, n] = co_await c.stream.async_read_some(net::buffer(scratch), kTuple);
      if (rec) break;
      drained += n;
    }
  }

  HttpRequest ToRequest(http::request<http::string_body>& req, const Connection& c) {
    HttpRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    for (const auto& field : req) {
      std::string name = LowerAscii(field.name_string());
      auto [it, inserted] = r.headers.emplace(name, std::string(field.value()));
      if (!inserted) it->second += ", " + std::string(field.value());
    }
    r.body = std::move(req.body());
    beast::error_code ec;
    auto ep = c.stream.socket().remote_endpoint(ec);
    if (!ec) {
      auto forwarded = r.headers.find("x-forwarded-for");
      r.remote_address =
          ClientAddress(ep.address().to_string(),
                        forwarded == r.headers.end() ? "" : std::string_view(forwarded->second),
                        options_.trusted_proxies);
    }
    r.request_id = "req_" + request_prefix_ + std::to_string(next_request_id_++);
    return r;
  }

  net::awaitable<void> Serve(std::shared_ptr<Connection> conn) {
    Connection& c = *conn;
    beast::flat_buffer buffer;
    bool first = true;
    while (!stopping_) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
      parser.body_limit(options_.max_body_bytes);
      // Wait for the request's first byte as long as a kept-alive connection may idle (a new
      // connection gets the header timeout), then give the whole head the header timeout:
      // a client trickling its head byte by byte is cut off (slow loris).
      if (buffer.size() == 0) {
        c.stream.expires_after(std::chrono::seconds(first ? options_.header_timeout_seconds
                                                          : options_.idle_timeout_seconds));
        auto [rec, rn] = co_await c.stream.async_read_some(buffer.prepare(4096), kTuple);
        if (rec) co_return;
        buffer.commit(rn);
      }
      first = false;
      c.stream.expires_after(std::chrono::seconds(options_.header_timeout_seconds));
      auto [ec, n] = co_await http::async_read_header(c.stream, buffer, parser, kTuple);
      if (!ec) c.busy = true;  // a whole head: from here on the request is served, not evicted
      if (ec == http::error::header_limit) {
        co_await WriteAndClose(c, ErrorResponse(431, "request header too large"), 11);
        co_return;
      }
      if (ec == http::error::body_limit) {
        co_await WriteAndClose(c, ErrorResponse(413, "request body larger than 1 MiB"), 11);
        co_return;
      }
      if (ec) {
        // Only a request that is not HTTP gets an answer; timeouts and closes end quietly.
        if (ec != http::error::end_of_stream &&
            ec.category() == http::make_error_code(http::error::bad_method).category()) {
          co_await WriteAndClose(c, ErrorResponse(400, "malformed HTTP request"), 11);
        }
        co_return;
      }
      const auto& head = parser.get();
      if (beast::iequals(head[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, head.version()};
        auto [wec, wn] = co_await http::async_write(c.stream, cont, kTuple);
        if (wec) co_return;
      }
      if (!parser.is_done()) {
        c.stream.expires_after(std::chrono::seconds(options_.body_timeout_seconds));
        auto [bec, bn] = co_await http::async_read(c.stream, buffer, parser, kTuple);
        if (bec == http::error::body_limit) {
          co_await WriteAndClose(c, ErrorResponse(413, "request body larger than 1 MiB"),
                                 head.version());
          co_return;
        }
        if (bec) co_return;
      }
      http::request<http::string_body> req = parser.release();
      unsigned version = req.version();
      bool keep_alive = req.keep_alive();
      HttpRequest request = ToRequest(req, c);
      auto parsed = boost::urls::parse_origin_form(request.target);
      HttpResponse response;
      if (!parsed) {
        response = ErrorResponse(400, "malformed request target");
      } else {
        request.path = parsed->path();
        for (auto param : parsed->params()) request.query.emplace(param.key, param.value);
        // Run the handler on the worker pool; this coroutine resumes on its strand afterwards.
        response = co_await net::co_spawn(
            workers_.get_executor(),
            [this, &request]() -> net::awaitable<HttpResponse> { co_return CallHandler(request); },
            net::use_awaitable);
      }
      response.headers.emplace_back("X-Request-Id", request.request_id);
      keep_alive = keep_alive && !stopping_;
      auto res = MakeBeastResponse(response, version, keep_alive);
      c.stream.expires_after(30s);
      auto [wec, wn] = co_await http::async_write(c.stream, res, kTuple);
      c.waiting_since = SteadyNanos();
      c.busy = false;
      if (wec) co_return;
      if (!keep_alive) break;
    }
    beast::error_code ec;
    c.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  HttpResponse CallHandler(HttpRequest& request) {
    try {
      return handler_(request);
    } catch (const std::exception& e) {
      log::Error("handler threw", {{"request_id", request.request_id}, {"error", e.what()}});
    } catch (...) {
      log::Error("handler threw", {{"request_id", request.request_id}});
    }
    return ErrorResponse(500, "internal error");
  }

  HttpServerOptions options_;
  HttpHandler handler_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  net::thread_pool workers_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  std::string request_prefix_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> next_connection_id_{1};
  std::atomic<uint64_t> next_request_id_{1};
  Mutex mu_;
  std::condition_variable connections_changed_;
  std::map<uint64_t, std::shared_ptr<Connection>> connections_ GUARDED_BY(mu_);  // oldest first
};

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      HttpHandler handler) {
  auto server = std::make_unique<HttpServerImpl>(options, std::move(handler));
  RELAY_RETURN_IF_ERROR(server->Listen());
  server->Run();
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace relay::api
