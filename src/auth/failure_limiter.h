// FailureLimiter: slows down guessing. Counts failed attempts per key (a client and an API key,
// or a client) over a sliding window; past the limit, the key is refused until its oldest failure
// in the window has aged out. In memory and per process: several nodes each apply the limit.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/clock.h"
#include "common/mutex.h"

namespace relay::auth {

class FailureLimiter {
 public:
  // At most `max_failures` failures per `window_millis`; remembers at most `max_keys` keys. When
  // the table is full, expired entries go first, then the tenth whose last failure is oldest:
  // never everything at once, so a flood of new keys cannot free a key being guessed.
  FailureLimiter(const Clock& clock, int max_failures = 10, int64_t window_millis = 60'000,
                 size_t max_keys = 100'000)
      : clock_(clock), max_failures_(max_failures), window_(window_millis), max_keys_(max_keys) {}

  // nullopt when `key` may try; else the seconds until it may (at least 1). Thread-safe.
  std::optional<int64_t> Blocked(const std::string& key);
  void RecordFailure(const std::string& key);

 private:
  void Expire(std::deque<int64_t>& failures, int64_t now) const;

  const Clock& clock_;
  const int max_failures_;
  const int64_t window_;
  const size_t max_keys_;
  Mutex mu_;
  std::unordered_map<std::string, std::deque<int64_t>> failures_ GUARDED_BY(mu_);
};

}  // namespace relay::auth
