// RetentionWorker: purges finished deliveries after their retention, in small batches on its own
// thread, so the dispatcher is never blocked for long.
//
// Policy: succeeded and cancelled deliveries (with their attempts, and messages left without
// deliveries) go after --retention (default 30 days). Dead deliveries are the permanent storage
// Didomi promises: kept until replayed, or until --dead-retention if the operator sets one.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>

#include "common/clock.h"
#include "store/store.h"

namespace relay::delivery {

struct RetentionOptions {
  int64_t retention_millis = 30LL * 24 * 3600 * 1000;
  std::optional<int64_t> dead_retention_millis;  // nullopt: dead deliveries are kept
  int64_t interval_millis = 60'000;
  int batch = 1000;
};

class RetentionWorker {
 public:
  RetentionWorker(RetentionOptions options, store::Store& store, const Clock& clock)
      : options_(options), store_(store), clock_(clock) {}
  ~RetentionWorker() { Stop(); }

  void Start();
  void Stop();
  // One full pass (every batch due now); returns how many deliveries were purged.
  int64_t RunOnce();

 private:
  RetentionOptions options_;
  store::Store& store_;
  const Clock& clock_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
};

}  // namespace relay::delivery
