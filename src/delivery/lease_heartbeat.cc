// LeaseHeartbeat implementation.
#include "delivery/lease_heartbeat.h"

#include <chrono>

#include "common/log.h"

namespace relay::delivery {

LeaseHeartbeat::LeaseHeartbeat(store::OutboxStore& store, const Clock& clock, int64_t lease_millis)
    : store_(store), clock_(clock), lease_millis_(lease_millis), thread_([this] { Loop(); }) {}

LeaseHeartbeat::~LeaseHeartbeat() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void LeaseHeartbeat::Hold(std::vector<store::HeldLease> held) {
  MutexLock lock(mu_);
  held_ = std::move(held);
}

int64_t LeaseHeartbeat::renewals() const {
  MutexLock lock(mu_);
  return renewals_;
}

void LeaseHeartbeat::Loop() {
  const auto period = std::chrono::milliseconds(std::max<int64_t>(1, lease_millis_ / 4));
  while (true) {
    std::vector<store::HeldLease> held;
    {
      MutexLock lock(mu_);
      lock.WaitFor(wake_, period);
      if (stopping_) return;
      held = held_;
    }
    if (held.empty()) continue;
    auto renewed = store_.RenewLeases(held, clock_.NowMillis() + lease_millis_);
    if (!renewed.ok()) {
      log::Warn("renewing the leases held failed; trying again within a quarter lease",
                {{"error", renewed.status().message()}, {"held", std::to_string(held.size())}});
    }
    MutexLock lock(mu_);
    ++renewals_;
  }
}

}  // namespace relay::delivery
