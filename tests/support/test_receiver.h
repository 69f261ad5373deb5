// TestReceiver: a real HTTP/1.1 server on 127.0.0.1 for tests — webhook endpoints and OAuth
// token endpoints — with behaviour chosen per request, and every request recorded.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace relay::testing {

struct ReceivedRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
  std::chrono::steady_clock::time_point at;
  std::string Header(const std::string& lower_name) const;
};

struct Reply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body = "ok";
  int delay_ms = 0;  // wait before answering (interrupted by Stop)
  bool close_without_reply = false;
  bool endless_body = false;  // after the head, stream body bytes until the peer goes away
  int trickle_ms = 0;         // send the whole answer one byte per trickle_ms
  std::string raw;            // when set, sent as is instead of an HTTP answer
};

// A plain reply: `status` and `body`, after `delay_ms`, with `headers`.
inline Reply ReplyWith(int status, std::string body = "ok", int delay_ms = 0,
                       std::vector<std::pair<std::string, std::string>> headers = {}) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  r.delay_ms = delay_ms;
  r.headers = std::move(headers);
  return r;
}

class TestReceiver {
 public:
  using Handler = std::function<Reply(const ReceivedRequest&)>;

  // Listens on 127.0.0.1 at a free port; answers 200 "ok" until SetHandler says otherwise.
  TestReceiver();
  ~TestReceiver();

  void SetHandler(Handler handler);
  int port() const { return port_; }
  std::string Url(const std::string& path = "/hook") const;

  std::vector<ReceivedRequest> Requests() const;
  size_t Count() const;
  // Waits until at least `n` requests arrived; false after `timeout`.
  bool WaitForCount(size_t n, std::chrono::milliseconds timeout) const;
  void Stop();

 private:
  void AcceptLoop();
  void Serve(int fd);

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  Handler handler_;                        // guarded by mu_
  std::vector<ReceivedRequest> requests_;  // guarded by mu_
  std::vector<std::thread> workers_;       // guarded by mu_
  std::vector<int> open_fds_;              // guarded by mu_
};

// Polls `condition` until it holds or `timeout` passes.
bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

}  // namespace relay::testing
