// RetentionWorker: purges finished deliveries after their retention, in small batches on its own
// thread, so the dispatcher is never blocked for long.
//
// Policy: succeeded and cancelled deliveries (with their attempts, and messages left without
// deliveries) go after --retention (default 30 days). Dead deliveries are the permanent storage
// Didomi promises: kept until replayed, or until --dead-retention if the operator sets one.
// Idempotency-Key answers go after 24 hours. Erasure comes first: within a second of finishing,
// a deleted user's deliveries lose their payloads and response bodies (Store::EraseFinished),
// and a last pass runs at Stop.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>

#include "common/clock.h"
#include "common/mutex.h"
#include "store/outbox_store.h"

namespace relay::delivery {

struct RetentionOptions {
  int64_t retention_millis = 30LL * 24 * 3600 * 1000;
  std::optional<int64_t> dead_retention_millis;  // nullopt: dead deliveries are kept
  int64_t interval_millis = 60'000;
  // How long an Idempotency-Key answer is kept (app/ sets the consent service's window).
  int64_t idempotency_window_millis = 24LL * 3600 * 1000;
  // How often deleted users' finished deliveries are erased (Store::EraseFinished).
  int64_t erasure_interval_millis = 1'000;
  int batch = 1000;
};

class RetentionWorker {
 public:
  RetentionWorker(RetentionOptions options, store::OutboxStore& store, const Clock& clock)
      : options_(options), store_(store), clock_(clock) {}
  ~RetentionWorker() { Stop(); }

  void Start();
  void Stop();
  // One full pass (every batch due now), and expired idempotency keys; returns how many
  // deliveries were purged.
  int64_t RunOnce();
  // Erases what deleted users left in finished deliveries; returns how many were erased.
  int64_t EraseOnce();

 private:
  RetentionOptions options_;
  store::OutboxStore& store_;
  const Clock& clock_;
  std::thread thread_;
  Mutex mu_;
  std::condition_variable cv_;
  bool stopping_ GUARDED_BY(mu_) = false;
};

}  // namespace relay::delivery
