// WriteHealth: what a backend knows of whether its writes go through, for Store::CheckWritable.
// The last write's outcome answers for a second; after that the backend probes with a small
// write. Thread-safe.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>

#include "common/mutex.h"
#include "common/status.h"

namespace relay::store {

class WriteHealth {
 public:
  // Records a write's outcome. Only the store's own troubles count (kUnavailable, kInternal): a
  // conflict or a bad request says nothing of its health.
  void Note(const Status& outcome) {
    if (!outcome.ok() && outcome.code() != StatusCode::kUnavailable &&
        outcome.code() != StatusCode::kInternal) {
      return;
    }
    MutexLock lock(mu_);
    last_ = outcome;
    checked_ = std::chrono::steady_clock::now();
  }
  // The last outcome if it is less than a second old; otherwise nullopt, and the caller probes
  // (the others meanwhile get the last outcome: one probe at a time).
  std::optional<Status> Recent() {
    const auto now = std::chrono::steady_clock::now();
    MutexLock lock(mu_);
    if (now - checked_ < std::chrono::seconds(1)) return last_;
    checked_ = now;
    return std::nullopt;
  }

 private:
  Mutex mu_;
  Status last_ GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point checked_ GUARDED_BY(mu_);
};

}  // namespace relay::store
