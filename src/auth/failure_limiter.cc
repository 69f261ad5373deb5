// FailureLimiter implementation.
#include "auth/failure_limiter.h"

namespace relay::auth {

void FailureLimiter::Expire(std::deque<int64_t>& failures, int64_t now) const {
  while (!failures.empty() && failures.front() <= now - window_) failures.pop_front();
}

std::optional<int64_t> FailureLimiter::Blocked(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = failures_.find(key);
  if (it == failures_.end()) return std::nullopt;
  const int64_t now = clock_.NowMillis();
  Expire(it->second, now);
  if (static_cast<int>(it->second.size()) < max_failures_) return std::nullopt;
  int64_t wait_ms = it->second.front() + window_ - now;
  return std::max<int64_t>(1, (wait_ms + 999) / 1000);
}

void FailureLimiter::RecordFailure(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = clock_.NowMillis();
  if (failures_.size() >= max_keys_ && !failures_.count(key)) {
    for (auto it = failures_.begin(); it != failures_.end();) {
      Expire(it->second, now);
      it = it->second.empty() ? failures_.erase(it) : std::next(it);
    }
    if (failures_.size() >= max_keys_) failures_.clear();
  }
  auto& list = failures_[key];
  Expire(list, now);
  list.push_back(now);
  while (static_cast<int>(list.size()) > max_failures_) list.pop_front();
}

}  // namespace relay::auth
