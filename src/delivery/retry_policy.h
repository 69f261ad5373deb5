// RetryPolicy: when a failed delivery is tried again, and when it is given up (dead).
//
// Policy: the default schedule follows Didomi's "at least five times during five minutes":
// after the first attempt, retries 10 s, 30 s, 1 min, 1 min 30 s and 1 min 50 s later. Each delay
// grows by up to 10 % random jitter, so endpoints coming back are not hit by a synchronized wave.
// On 429 and 503, a Retry-After (seconds or an HTTP date) longer than the scheduled delay is
// honoured, capped at one hour. After the last retry fails, the delivery is dead (kept, and
// replayable). A re-queued delivery starts the schedule afresh.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/random.h"
#include "common/status.h"

namespace relay::delivery {

inline constexpr int64_t kMaxRetryAfterMillis = 3600 * 1000;

// "10s,30s,1m,90s,110s": each delay a number with a unit (ms, s, m, h). At least one, at most 100.
Result<std::vector<int64_t>> ParseRetrySchedule(std::string_view text);
std::vector<int64_t> DefaultRetrySchedule();

// Retry-After as delay-seconds ("120") or an HTTP date; the delay in milliseconds from
// `now_millis` (0 for a date in the past), or nullopt when malformed.
std::optional<int64_t> ParseRetryAfter(std::string_view value, int64_t now_millis);

class RetryPolicy {
 public:
  // `random` must outlive the policy.
  RetryPolicy(std::vector<int64_t> delays_millis, Random& random)
      : delays_(std::move(delays_millis)), random_(random) {}

  // After `attempts_in_cycle` attempts (counting the one that just failed) of the current cycle:
  // the delay before the next attempt, or nullopt when that was the last. `retry_after_millis`
  // is the endpoint's Retry-After on 429/503.
  std::optional<int64_t> NextDelay(int64_t attempts_in_cycle,
                                   std::optional<int64_t> retry_after_millis) const;

  size_t retries() const { return delays_.size(); }

 private:
  std::vector<int64_t> delays_;
  Random& random_;
};

}  // namespace relay::delivery
