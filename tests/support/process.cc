// Child-process helpers for tests: fork/exec, output to files, waits with deadlines.
#include "support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace relay::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pid_t Spawn(const std::vector<std::string>& args, const std::vector<std::string>& env,
            const std::string& out_path, const std::string& err_path) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int in = open("/dev/null", O_RDONLY);
  dup2(in, 0);
  dup2(out, 1);
  dup2(err, 2);
  for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
  std::vector<char*> argv;
  std::string binary = RelayBinary();
  argv.push_back(binary.data());
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv(binary.c_str(), argv.data());
  _exit(127);
}

// Waits for `pid` until `deadline`; returns the exit status as CommandResult codes, -1 if alive.
int WaitUntil(pid_t pid, Clock::time_point deadline) {
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    if (Clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string TempPath(const std::string& stem) {
  static int counter = 0;
  return std::filesystem::temp_directory_path().string() + "/relay-test-" +
         std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" + stem;
}

}  // namespace

std::string RelayBinary() { return RELAY_BINARY_PATH; }

CommandResult RunRelay(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::string out_path = TempPath("out"), err_path = TempPath("err");
  pid_t pid = Spawn(args, env, out_path, err_path);
  CommandResult result;
  result.exit_code = WaitUntil(pid, Clock::now() + std::chrono::seconds(30));
  if (result.exit_code == -1) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  return result;
}

TempDir::TempDir() {
  std::string pattern = std::filesystem::temp_directory_path().string() + "/relay-test-XXXXXX";
  path_ = mkdtemp(pattern.data());
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

bool ServerProcess::Start(const std::vector<std::string>& args,
                          const std::vector<std::string>& env) {
  std::vector<std::string> full = {"serve", "--listen", "127.0.0.1:0"};
  full.insert(full.end(), args.begin(), args.end());
  std::string out_path = TempPath("server-out");
  log_path_ = TempPath("server-log");
  pid_ = Spawn(full, env, out_path, log_path_);
  static const std::regex kListening("listening on http://127\\.0\\.0\\.1:([0-9]+)");
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    std::smatch m;
    std::string out = ReadFile(out_path);
    if (std::regex_search(out, m, kListening)) {
      port_ = std::stoi(m[1]);
      std::filesystem::remove(out_path);
      return true;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      error_ = "server exited at start: " + ReadFile(log_path_);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  error_ = "server did not report its port within 20 s: " + ReadFile(log_path_);
  Kill();
  return false;
}

int ServerProcess::Stop(std::chrono::seconds timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int code = WaitUntil(pid_, Clock::now() + timeout);
  if (code == -1) {
    Kill();
  } else {
    pid_ = -1;
  }
  return code;
}

void ServerProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

ServerProcess::~ServerProcess() {
  Kill();
  if (!log_path_.empty()) std::filesystem::remove(log_path_);
}

std::string ServerProcess::Logs() const { return ReadFile(log_path_); }

}  // namespace relay::testing
