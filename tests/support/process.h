// Running the real consent-relay binary from tests: one-shot CLI commands and a server process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace relay::testing {

// Path of the consent-relay binary under test (set by CMake).
std::string RelayBinary();

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the binary with `args` to completion (at most 30 s) and captures its output.
CommandResult RunRelay(const std::vector<std::string>& args,
                       const std::vector<std::string>& env = {});

// A temporary directory removed (recursively) when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// `consent-relay serve` in a child process on a free port. The destructor kills it if running.
class ServerProcess {
 public:
  // Starts the server with `args` appended after "serve --listen 127.0.0.1:0", and waits (up to
  // 20 s) for the line saying where it listens. Returns false with `error()` set on failure.
  bool Start(const std::vector<std::string>& args, const std::vector<std::string>& env = {});
  // SIGTERM, then waits up to `timeout` for the exit; returns the exit code (-1 on timeout,
  // 128+N when killed by signal N).
  int Stop(std::chrono::seconds timeout = std::chrono::seconds(20));
  void Kill();  // SIGKILL and reap
  ~ServerProcess();

  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& error() const { return error_; }
  // Everything the server wrote to stderr (its logs) up to now.
  std::string Logs() const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string error_;
  std::string log_path_;
};

}  // namespace relay::testing
