// Fuzzes the small parsers that read what endpoints and operators send: Retry-After, retry
// schedules, durations, timestamps, and OAuth token responses.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/time_format.h"
#include "delivery/oauth.h"
#include "delivery/retry_policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const int64_t now = 1'795'910'571'000;
  if (auto delay = relay::delivery::ParseRetryAfter(text, now)) {
    if (*delay < 0) __builtin_trap();
  }
  (void)relay::delivery::ParseRetrySchedule(text);
  (void)relay::ParseDurationMillis(text);
  if (auto t = relay::ParseTimestamp(text)) (void)relay::FormatTimestamp(*t);
  long status = 100 + data[0] * 2;
  auto token = relay::delivery::ParseTokenResponse(status, text);
  if (token.ok()) {
    if (token->token.empty() || status < 200 || status > 299) __builtin_trap();
    (void)relay::delivery::TokenCacheMillis(*token);
  }
  return 0;
}
