// HttpServer: an asynchronous HTTP/1.1 server (Boost.Beast, C++20 coroutines) with keep-alive.
// Beast stays inside http_server.cc; this header is cheap to include.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "api/http_types.h"
#include "common/destination_guard.h"
#include "common/status.h"

namespace relay::api {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;     // 0 picks a free port; see HttpServer::port()
  int io_threads = 2;       // threads running sockets and parsing
  int worker_threads = 16;  // threads running handlers (which may block on the store)
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 16 << 10;
  int header_timeout_seconds = 10;  // from a request's first byte to the end of its head
  int body_timeout_seconds = 30;    // to receive a whole body
  int idle_timeout_seconds = 60;    // waiting for a request's first byte (keep-alive)
  // Client sockets held at most. At the cap, the connection waiting longest for a complete
  // request head is closed to make room (a request in progress never is), so a flood of idle or
  // trickling sockets cannot lock others out; newcomers wait in the kernel backlog meanwhile.
  size_t max_connections = 4096;
  // Peers whose X-Forwarded-For is believed (load balancers): HttpRequest::remote_address is
  // then the client they name (ClientAddress). Empty: the header is ignored.
  std::vector<Cidr> trusted_proxies;
};

// Handlers run on the worker threads, may block, and must not throw (a throw becomes a 500).
using HttpHandler = std::function<HttpResponse(HttpRequest&)>;

class HttpServer {
 public:
  // Binds and starts serving. kUnavailable when the address cannot be bound.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                   HttpHandler handler);
  virtual ~HttpServer() = default;

  virtual uint16_t port() const = 0;
  // Stops accepting, closes idle connections, lets requests in progress finish (up to
  // `grace_seconds`), then stops the threads. Idempotent; blocks until done.
  virtual void Stop(int grace_seconds) = 0;
};

}  // namespace relay::api
