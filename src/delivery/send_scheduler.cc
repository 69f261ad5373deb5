#include "delivery/send_scheduler.h"

#include <algorithm>

namespace relay::delivery {

void SendScheduler::Queue(const std::string& integration, int64_t seq, bool front) {
  ++claimed_[integration];
  auto& queue = queued_[integration];
  if (front) {
    queue.push_front(seq);
  } else {
    queue.push_back(seq);
  }
}

int SendScheduler::claimed(const std::string& integration) const {
  auto it = claimed_.find(integration);
  return it == claimed_.end() ? 0 : it->second;
}

std::vector<std::string> SendScheduler::ClaimedAtLeast(int count) const {
  std::vector<std::string> out;
  for (const auto& [integration, n] : claimed_) {
    if (n >= count) out.push_back(integration);
  }
  return out;
}

std::vector<int64_t> SendScheduler::TakeStartable(
    const std::function<Candidate(int64_t)>& describe) {
  std::vector<int64_t> start;
  if (queued_.empty() || sending_total_ >= limits_.max_in_flight) return start;
  for (auto it = queued_.begin(); it != queued_.end();) {
    const std::string& integration = it->first;
    auto& queue = it->second;
    int& sending = sending_[integration];
    const bool suspect = Suspect(integration);
    while (!queue.empty() && sending < limits_.per_integration &&
           sending_total_ < limits_.max_in_flight) {
      const Candidate c = describe(queue.front());
      if (suspect && !c.probe) break;
      if (c.rate_per_second > 0 && !TakeRateToken(integration, c.rate_per_second)) break;
      start.push_back(queue.front());
      queue.pop_front();
      ++sending;
      ++sending_total_;
    }
    if (sending == 0) sending_.erase(integration);
    it = queue.empty() ? queued_.erase(it) : std::next(it);
  }
  return start;
}

bool SendScheduler::TakeRateToken(const std::string& integration, int rate) {
  const int64_t now = clock_.NowMillis();
  RateBucket& b =
      buckets_.try_emplace(integration, RateBucket{static_cast<double>(rate), now}).first->second;
  b.tokens = std::min<double>(rate, b.tokens + static_cast<double>(now - b.at) * rate / 1000.0);
  b.at = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

void SendScheduler::Done(const std::string& integration, bool was_sending) {
  if (was_sending) {
    --sending_total_;
    auto it = sending_.find(integration);
    if (it != sending_.end() && --it->second <= 0) sending_.erase(it);
  }
  auto it = claimed_.find(integration);
  if (it != claimed_.end() && --it->second <= 0) claimed_.erase(it);
}

std::vector<int64_t> SendScheduler::TakeQueuedOf(const std::string& integration,
                                                 const std::function<bool(int64_t)>& keep) {
  std::vector<int64_t> taken;
  auto it = queued_.find(integration);
  if (it == queued_.end()) return taken;
  std::deque<int64_t> kept;
  for (int64_t seq : it->second) {
    if (keep(seq)) {
      kept.push_back(seq);
    } else {
      taken.push_back(seq);
      Done(integration, /*was_sending=*/false);
    }
  }
  if (kept.empty()) {
    queued_.erase(it);
  } else {
    it->second = std::move(kept);
  }
  return taken;
}

std::vector<std::pair<std::string, int64_t>> SendScheduler::TakeAllQueued() {
  std::vector<std::pair<std::string, int64_t>> taken;
  for (const auto& [integration, queue] : queued_) {
    for (int64_t seq : queue) taken.emplace_back(integration, seq);
  }
  for (const auto& [integration, seq] : taken) Done(integration, /*was_sending=*/false);
  queued_.clear();
  return taken;
}

void SendScheduler::Clear() {
  queued_.clear();
  sending_.clear();
  claimed_.clear();
  sending_total_ = 0;
}

void SendScheduler::NoteAttempt(const std::string& integration, bool succeeded) {
  if (succeeded) {
    breakers_.erase(integration);
  } else {
    ++breakers_[integration].unreported;
  }
}

void SendScheduler::Submitted() {
  for (auto& [id, b] : breakers_) {
    b.submitted += b.unreported;
    b.unreported = 0;
  }
}

void SendScheduler::SubmitFailed() {
  for (auto& [id, b] : breakers_) {
    b.unreported += b.submitted;
    b.submitted = 0;
  }
}

void SendScheduler::Reported(const std::vector<store::HealthReport>& reports) {
  for (auto& [id, b] : breakers_) b.submitted = 0;
  for (const auto& r : reports) {
    if (r.held()) {
      breakers_.erase(r.integration_id);  // nothing of it is claimed until it may send again
    } else {
      breakers_[r.integration_id].known = r.health.consecutive_failures;
    }
  }
  for (auto it = breakers_.begin(); it != breakers_.end();) {
    const Breaker& b = it->second;
    it =
        b.known == 0 && b.unreported == 0 && b.submitted == 0 ? breakers_.erase(it) : std::next(it);
  }
}

bool SendScheduler::Suspect(const std::string& integration) const {
  auto it = breakers_.find(integration);
  if (it == breakers_.end() || limits_.breaker_failures <= 0) return false;
  const Breaker& b = it->second;
  const int64_t local = b.unreported + b.submitted;
  return local > 0 && b.known + local >= limits_.breaker_failures;
}

}  // namespace relay::delivery
