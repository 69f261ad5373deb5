// RetentionWorker implementation.
#include "delivery/retention.h"

#include "common/log.h"

namespace relay::delivery {

int64_t RetentionWorker::RunOnce() {
  int64_t total = 0;
  const int64_t now = clock_.NowMillis();
  auto purge = [&](store::DeliveryStatus status, int64_t before) {
    while (true) {
      auto n = store_.PurgeDeliveries(status, before, options_.batch);
      if (!n.ok()) {
        log::Warn("purging deliveries failed", {{"error", n.status().message()}});
        return;
      }
      total += *n;
      if (*n < options_.batch) return;
      MutexLock lock(mu_);
      if (stopping_) return;
    }
  };
  purge(store::DeliveryStatus::kSucceeded, now - options_.retention_millis);
  purge(store::DeliveryStatus::kCancelled, now - options_.retention_millis);
  if (options_.dead_retention_millis) {
    purge(store::DeliveryStatus::kDead, now - *options_.dead_retention_millis);
  }
  if (total > 0) log::Info("purged deliveries", {{"count", std::to_string(total)}});
  if (Status s = store_.PurgeExpiredRecords(now - options_.idempotency_window_millis); !s.ok()) {
    log::Warn("purging expired idempotency keys failed", {{"error", s.message()}});
  }
  return total;
}

int64_t RetentionWorker::EraseOnce() {
  // Deleted integrations' backlogs first (their cancelled deliveries may be erased users').
  int64_t cancelled_lanes = 0;
  while (true) {
    auto chunk = store_.CancelDeletedBacklog(clock_.NowMillis(), options_.batch);
    if (!chunk.ok()) {
      log::Warn("cancelling deleted integrations' deliveries failed",
                {{"error", chunk.status().message()}});
      break;
    }
    cancelled_lanes += *chunk;
    if (*chunk < options_.batch) break;
  }
  if (cancelled_lanes > 0) {
    log::Info("cancelled deleted integrations' waiting deliveries",
              {{"lanes", std::to_string(cancelled_lanes)}});
  }
  auto erased = store_.EraseFinished(clock_.NowMillis());
  if (!erased.ok()) {
    log::Warn("erasing deleted users' deliveries failed", {{"error", erased.status().message()}});
    return 0;
  }
  if (*erased > 0)
    log::Info("erased deleted users' deliveries", {{"count", std::to_string(*erased)}});
  return *erased;
}

void RetentionWorker::Start() {
  thread_ = std::thread([this] {
    auto next_purge = std::chrono::steady_clock::now();
    while (true) {
      {
        MutexLock lock(mu_);
        if (stopping_) return;
      }
      EraseOnce();
      if (std::chrono::steady_clock::now() >= next_purge) {
        RunOnce();
        next_purge =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.interval_millis);
      }
      MutexLock lock(mu_);
      if (!stopping_)
        lock.WaitFor(cv_, std::chrono::milliseconds(options_.erasure_interval_millis));
    }
  });
}

void RetentionWorker::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    EraseOnce();  // the last outcomes are recorded (the dispatcher stopped first)
  }
}

}  // namespace relay::delivery
