// Logger implementation: formats a whole line, then writes it with one call under a mutex.
#include "common/log.h"

#include <atomic>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <mutex>

#include "common/clock.h"
#include "common/time_format.h"

namespace relay::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<int> g_format{static_cast<int>(Format::kText)};
std::mutex g_write_mu;

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

bool NeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) return true;
  }
  return false;
}

}  // namespace

void Configure(Level level, Format format) {
  g_level = static_cast<int>(level);
  g_format = static_cast<int>(format);
}

bool ParseLevel(std::string_view name, Level* out) {
  if (name == "debug")
    *out = Level::kDebug;
  else if (name == "info")
    *out = Level::kInfo;
  else if (name == "warn" || name == "warning")
    *out = Level::kWarn;
  else if (name == "error")
    *out = Level::kError;
  else
    return false;
  return true;
}

bool Enabled(Level level) { return static_cast<int>(level) >= g_level.load(); }

void Write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (!Enabled(level)) return;
  std::string ts = FormatTimestamp(SystemClock::Instance().NowMillis());
  std::string line;
  if (g_format.load() == static_cast<int>(Format::kJson)) {
    boost::json::object obj;
    obj["ts"] = ts;
    obj["level"] = LevelName(level);
    obj["msg"] = message;
    for (const auto& [k, v] : fields) obj[k] = v;
    line = boost::json::serialize(obj);
  } else {
    line = ts + " " + LevelName(level) + " " + std::string(message);
    for (const auto& [k, v] : fields) {
      line += " ";
      line += k;
      line += "=";
      line += NeedsQuotes(v) ? boost::json::serialize(boost::json::value(v)) : v;
    }
  }
  line += '\n';
  std::lock_guard<std::mutex> lock(g_write_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace relay::log
