// Retry schedule parsing and the delay computation.
#include "delivery/retry_policy.h"

#include <curl/curl.h>

#include <algorithm>
#include <charconv>
#include <string>

#include "common/time_format.h"

namespace relay::delivery {

std::vector<int64_t> DefaultRetrySchedule() { return {10000, 30000, 60000, 90000, 110000}; }

Result<std::vector<int64_t>> ParseRetrySchedule(std::string_view text) {
  std::vector<int64_t> out;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string_view item = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    auto delay = ParseDurationMillis(item);
    if (!delay || *delay > 24 * 3'600'000LL) {
      return InvalidArgument("invalid retry delay '" + std::string(item) +
                             "': use a number and a unit (ms, s, m, h), e.g. 10s,30s,1m");
    }
    out.push_back(*delay);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (out.size() > 100) return InvalidArgument("at most 100 retry delays");
  return out;
}

std::optional<int64_t> ParseRetryAfter(std::string_view value, int64_t now_millis) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty() || value.size() > 64) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    int64_t seconds = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc()) return kMaxRetryAfterMillis;  // absurdly large: the cap applies
    return std::min(seconds, kMaxRetryAfterMillis / 1000) * 1000;
  }
  std::string date(value);
  time_t when = curl_getdate(date.c_str(), nullptr);
  if (when < 0) return std::nullopt;
  // Compare in seconds first: a date thousands of years ahead would overflow in milliseconds.
  if (static_cast<int64_t>(when) > now_millis / 1000 + kMaxRetryAfterMillis / 1000) {
    return kMaxRetryAfterMillis;
  }
  return std::max<int64_t>(0, static_cast<int64_t>(when) * 1000 - now_millis);
}

std::optional<int64_t> RetryPolicy::NextDelay(int64_t attempts_in_cycle,
                                              std::optional<int64_t> retry_after_millis) const {
  if (attempts_in_cycle < 1 || attempts_in_cycle > static_cast<int64_t>(delays_.size())) {
    return std::nullopt;
  }
  int64_t base = delays_[static_cast<size_t>(attempts_in_cycle - 1)];
  int64_t delay = base + static_cast<int64_t>(static_cast<double>(base) * 0.1 * random_.Uniform());
  if (retry_after_millis && *retry_after_millis > delay) {
    delay = std::min(*retry_after_millis, kMaxRetryAfterMillis);
  }
  return delay;
}

}  // namespace relay::delivery
