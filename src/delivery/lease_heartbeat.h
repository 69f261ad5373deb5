// LeaseHeartbeat: extends the leases this node holds, on a thread of its own, every quarter lease.
// The dispatcher tells it what it holds; no store round trip in progress, however slow, delays a
// renewal, so a lease never runs out under a live holder (and no other node sends the same
// delivery meanwhile).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "store/outbox_store.h"

namespace relay::delivery {

class LeaseHeartbeat {
 public:
  // `clock` and `store` must outlive it. Renews to now + lease_millis.
  LeaseHeartbeat(store::OutboxStore& store, const Clock& clock, int64_t lease_millis);
  ~LeaseHeartbeat();  // stops the thread (a renewal in progress finishes first)
  LeaseHeartbeat(const LeaseHeartbeat&) = delete;
  LeaseHeartbeat& operator=(const LeaseHeartbeat&) = delete;

  // What this node holds now: the next renewals extend these (and only these).
  void Hold(std::vector<store::HeldLease> held);
  // Renewals that reached the store, failed or not (tests wait on it).
  int64_t renewals() const;

 private:
  void Loop();

  store::OutboxStore& store_;
  const Clock& clock_;
  const int64_t lease_millis_;
  mutable Mutex mu_;
  std::condition_variable wake_;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::vector<store::HeldLease> held_ GUARDED_BY(mu_);
  int64_t renewals_ GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace relay::delivery
