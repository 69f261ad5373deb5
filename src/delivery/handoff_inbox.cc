#include "delivery/handoff_inbox.h"

namespace relay::delivery {

std::optional<store::HandoffLease> HandoffInbox::Reserve(const std::string& integration_id,
                                                         int64_t now) {
  MutexLock lock(mu_);
  if (closed_ || held_ + reserved_ >= options_.capacity) return std::nullopt;
  int& mine = reserved_by_integration_[integration_id];
  if (mine >= options_.per_integration) return std::nullopt;
  ++mine;
  ++reserved_;
  return store::HandoffLease{options_.lease_token, now + options_.lease_millis};
}

void HandoffInbox::Unreserve(const std::string& integration) {
  --reserved_;
  auto it = reserved_by_integration_.find(integration);
  if (it != reserved_by_integration_.end() && --it->second <= 0) {
    reserved_by_integration_.erase(it);
  }
}

void HandoffInbox::Deliver(std::vector<store::ClaimedDelivery> claimed) {
  {
    MutexLock lock(mu_);
    for (auto& c : claimed) {
      Unreserve(c.integration_id);
      ++held_;  // the loop's next SetHeld counts it again, as its own
      delivered_.push_back(std::move(c));
    }
    if (closed_) return;
  }
  wake_();
}

void HandoffInbox::Cancel(const std::vector<std::string>& integrations) {
  MutexLock lock(mu_);
  for (const auto& integration : integrations) Unreserve(integration);
}

std::vector<store::ClaimedDelivery> HandoffInbox::Take() {
  MutexLock lock(mu_);
  std::vector<store::ClaimedDelivery> out;
  out.swap(delivered_);
  return out;
}

void HandoffInbox::SetHeld(int held) {
  MutexLock lock(mu_);
  held_ = held + static_cast<int>(delivered_.size());
}

void HandoffInbox::Close() {
  MutexLock lock(mu_);
  closed_ = true;
}

}  // namespace relay::delivery
