// Clock: injected time, so expiry, retry and lease logic is tested exactly without sleeping.
#pragma once

#include <atomic>
#include <cstdint>

namespace relay {

// Wall-clock time in milliseconds since the Unix epoch. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMillis() const = 0;
  int64_t NowSeconds() const { return NowMillis() / 1000; }
};

// The system's real-time clock.
class SystemClock final : public Clock {
 public:
  int64_t NowMillis() const override;
  // A process-wide instance (stateless, so sharing it is safe).
  static const SystemClock& Instance();
};

// A clock tests set and advance by hand.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_millis) : now_(now_millis) {}
  int64_t NowMillis() const override { return now_.load(); }
  void Set(int64_t now_millis) { now_.store(now_millis); }
  void AdvanceMillis(int64_t delta) { now_.fetch_add(delta); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace relay
