// Random: injected randomness, so jitter is tested exactly.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>

#include "common/mutex.h"

namespace relay {

class Random {
 public:
  virtual ~Random() = default;
  // Uniform in [0, 1). Thread-safe.
  virtual double Uniform() = 0;
};

// A Mersenne Twister seeded from the OS CSPRNG. Not for secrets (use crypto::RandomBytes).
class SystemRandom final : public Random {
 public:
  SystemRandom();
  double Uniform() override;

 private:
  Mutex mu_;
  std::mt19937_64 engine_ GUARDED_BY(mu_);
};

// Always the same value: for tests.
class FixedRandom final : public Random {
 public:
  explicit FixedRandom(double value) : value_(value) {}
  double Uniform() override { return value_; }

 private:
  double value_;
};

}  // namespace relay
