// Timestamp formatting and parsing without locale or time zone database dependencies.
#include "common/time_format.h"

#include <chrono>
#include <cstdio>
#include <string>

namespace relay {
namespace {

bool ReadDigits(std::string_view s, size_t pos, size_t count, int* out) {
  if (pos + count > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < count; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

std::string FormatTimestamp(int64_t unix_millis) {
  using namespace std::chrono;
  int64_t ms = unix_millis % 1000;
  int64_t secs = unix_millis / 1000;
  if (ms < 0) {
    ms += 1000;
    secs -= 1;
  }
  sys_seconds tp{seconds{secs}};
  auto day = floor<days>(tp);
  year_month_day ymd{day};
  hh_mm_ss hms{tp - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()),
                static_cast<int>(ms));
  return buf;
}

std::optional<int64_t> ParseTimestamp(std::string_view s) {
  using namespace std::chrono;
  int y, mo, d, h, mi, se;
  if (!ReadDigits(s, 0, 4, &y) || s.size() < 19 || s[4] != '-' || !ReadDigits(s, 5, 2, &mo) ||
      s[7] != '-' || !ReadDigits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
      !ReadDigits(s, 11, 2, &h) || s[13] != ':' || !ReadDigits(s, 14, 2, &mi) || s[16] != ':' ||
      !ReadDigits(s, 17, 2, &se)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return std::nullopt;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  size_t pos = 19;
  int64_t millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      millis += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start || pos - start > 9) return std::nullopt;
  }
  int offset_minutes = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!ReadDigits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !ReadDigits(s, pos + 4, 2, &om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_minutes = (oh * 60 + om) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  int64_t secs = sys_days{ymd}.time_since_epoch().count() * 86400LL + h * 3600LL + mi * 60LL + se -
                 offset_minutes * 60LL;
  return secs * 1000 + millis;
}

std::optional<int64_t> ParseDurationMillis(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 12) return std::nullopt;
  int64_t value = std::stoll(std::string(text.substr(0, digits)));
  std::string_view unit = text.substr(digits);
  int64_t scale = unit == "ms"  ? 1
                  : unit == "s" ? 1000
                  : unit == "m" ? 60'000
                  : unit == "h" ? 3'600'000
                  : unit == "d" ? 86'400'000
                                : 0;
  if (scale == 0) return std::nullopt;
  constexpr int64_t kMax = 100LL * 365 * 86'400'000;
  if (value > kMax / scale) return std::nullopt;
  return value * scale;
}

}  // namespace relay
