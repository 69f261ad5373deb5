// FailureLimiter implementation.
#include "auth/failure_limiter.h"

#include <algorithm>
#include <vector>

namespace relay::auth {

void FailureLimiter::Expire(std::deque<int64_t>& failures, int64_t now) const {
  while (!failures.empty() && failures.front() <= now - window_) failures.pop_front();
}

std::optional<int64_t> FailureLimiter::Blocked(const std::string& key) {
  MutexLock lock(mu_);
  auto it = failures_.find(key);
  if (it == failures_.end()) return std::nullopt;
  const int64_t now = clock_.NowMillis();
  Expire(it->second, now);
  if (static_cast<int>(it->second.size()) < max_failures_) return std::nullopt;
  int64_t wait_ms = it->second.front() + window_ - now;
  return std::max<int64_t>(1, (wait_ms + 999) / 1000);
}

void FailureLimiter::RecordFailure(const std::string& key) {
  MutexLock lock(mu_);
  const int64_t now = clock_.NowMillis();
  if (failures_.size() >= max_keys_ && !failures_.count(key)) {
    for (auto it = failures_.begin(); it != failures_.end();) {
      Expire(it->second, now);
      it = it->second.empty() ? failures_.erase(it) : std::next(it);
    }
    if (failures_.size() >= max_keys_) {
      // Still full of live entries: forget the tenth that failed longest ago.
      std::vector<std::pair<int64_t, std::string>> by_last;
      by_last.reserve(failures_.size());
      for (const auto& [k, list] : failures_) by_last.emplace_back(list.back(), k);
      const size_t drop = std::max<size_t>(1, by_last.size() / 10);
      std::nth_element(by_last.begin(), by_last.begin() + static_cast<std::ptrdiff_t>(drop - 1),
                       by_last.end());
      for (size_t i = 0; i < drop; ++i) failures_.erase(by_last[i].second);
    }
  }
  auto& list = failures_[key];
  Expire(list, now);
  list.push_back(now);
  while (static_cast<int>(list.size()) > max_failures_) list.pop_front();
}

}  // namespace relay::auth
