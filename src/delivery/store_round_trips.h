// StoreRoundTrips: the dispatcher's store round trips, on a thread of their own. The dispatcher
// hands it the outcomes recorded since the last round trip and, when it has room, a claim; it runs
// them as one Store::RecordAndClaim while the dispatcher keeps sending, then calls `on_reply`
// (which wakes the dispatcher) and holds the reply until the dispatcher takes it. One round trip
// at a time: the next one carries whatever piled up meanwhile, so batches grow with the load.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "store/outbox_store.h"

namespace relay::delivery {

class StoreRoundTrips {
 public:
  struct Reply {
    Status status;
    std::vector<store::DeliveryOutcome> outcomes;  // given back when the round trip failed
    int64_t now = 0;                               // when the outcomes were recorded
    std::optional<store::ClaimRequest> claim;      // the claim that was asked for, if any
    std::vector<store::HeldLease> renew;           // leases to extend first (the heartbeat)
    int64_t renew_until = 0;
    std::vector<store::ClaimedDelivery> claimed;
    std::vector<store::HealthReport> health;  // of the integrations the outcomes touched
    double seconds = 0;                       // how long the round trip took
  };

  // Outcomes are recorded under `policy` (endpoint health).
  StoreRoundTrips(store::OutboxStore& store, store::HealthPolicy policy,
                  std::function<void()> on_reply);
  ~StoreRoundTrips();  // waits for a round trip in progress, then stops the thread
  StoreRoundTrips(const StoreRoundTrips&) = delete;
  StoreRoundTrips& operator=(const StoreRoundTrips&) = delete;

  // Starts a round trip: leases renewed, outcomes recorded, then the claim. Only while !busy().
  void Submit(std::vector<store::DeliveryOutcome> outcomes, int64_t now,
              std::optional<store::ClaimRequest> claim, std::vector<store::HeldLease> renew = {},
              int64_t renew_until = 0);
  // A round trip was submitted and its reply not taken yet.
  bool busy() const;
  bool has_reply() const;
  std::optional<Reply> TakeReply();

 private:
  void Loop();

  store::OutboxStore& store_;
  const store::HealthPolicy policy_;
  std::function<void()> on_reply_;
  mutable Mutex mu_;
  std::condition_variable work_;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool busy_ GUARDED_BY(mu_) = false;
  std::optional<Reply> request_ GUARDED_BY(mu_);  // submitted, not started
  std::optional<Reply> reply_ GUARDED_BY(mu_);    // finished, not taken
  std::thread thread_;
};

}  // namespace relay::delivery
