// HttpClient: outbound HTTP over libcurl's multi interface — many transfers on one thread,
// connections kept alive and reused per host, HTTP/2 over TLS when offered, TLS verified against
// the system CAs (or --ca-file). Redirects are never followed, proxies from the environment are
// ignored, and every new connection's resolved address passes the DestinationGuard first.
// curl stays inside http_client.cc.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/destination_guard.h"

namespace relay::delivery {

struct HttpCall {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // POSTed
  int timeout_ms = 10000;            // the whole request
  int connect_timeout_ms = 5000;
};

struct HttpCallResult {
  std::optional<int> status;  // nullopt when no response arrived
  std::string error;          // why no response (timeout, refused destination, TLS...)
  std::string body;           // the first kMaxResponseBytes
  std::map<std::string, std::string> headers;  // lower-cased names
  int64_t duration_ms = 0;
};

inline constexpr size_t kMaxResponseBytes = 4096;

struct HttpClientOptions {
  std::string user_agent;
  std::string ca_file;  // empty: the system CAs
};

// What the dispatcher sends through: HttpClient, or a test's fake that answers as the test says.
// Single-threaded: Start and Poll from one thread (the dispatcher's); Wakeup from any thread.
class Sender {
 public:
  using Callback = std::function<void(HttpCallResult)>;
  virtual ~Sender() = default;
  // Starts a POST; `done` runs inside a later Poll.
  virtual void Start(HttpCall call, Callback done) = 0;
  // Runs transfers for up to `timeout_ms` (less when something completes or Wakeup is called) and
  // invokes the callbacks of finished transfers.
  virtual void Poll(int timeout_ms) = 0;
  // Makes a blocked Poll return early. Thread-safe.
  virtual void Wakeup() = 0;
};

class HttpClient final : public Sender {
 public:
  // `guard` must outlive the client.
  HttpClient(const DestinationGuard& guard, HttpClientOptions options);
  ~HttpClient() override;
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  void Start(HttpCall call, Callback done) override;
  void Poll(int timeout_ms) override;
  void Wakeup() override;
  size_t active() const { return active_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  size_t active_ = 0;
};

}  // namespace relay::delivery
