// SystemRandom.
#include "common/random.h"

#include <cstring>

#include "common/crypto.h"

namespace relay {

SystemRandom::SystemRandom() {
  std::string seed = crypto::RandomBytes(8);
  uint64_t s = 0;
  std::memcpy(&s, seed.data(), sizeof s);
  engine_.seed(s);
}

double SystemRandom::Uniform() {
  MutexLock lock(mu_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine_);
}

}  // namespace relay
