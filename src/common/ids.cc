// ULID-based identifiers.
#include "common/ids.h"

#include <cstring>

#include "common/crypto.h"

namespace relay {
namespace {
constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr size_t kUlidLength = 26;
}  // namespace

// Drawn from the CSPRNG 1 KiB at a time per thread: one call per id showed in profiles (every
// event makes several ids).
void FillRandom(unsigned char* out, size_t n) {
  thread_local std::string pool;
  thread_local size_t used = 0;
  if (pool.size() - used < n) {
    pool = crypto::RandomBytes(1024);
    used = 0;
  }
  std::memcpy(out, pool.data() + used, n);
  used += n;
}

std::string NewId(std::string_view prefix, int64_t unix_millis) {
  // 128 bits: 48 of time then 80 of randomness, written as 26 base32 digits (2 leading pad bits).
  unsigned char bytes[16];
  uint64_t t = static_cast<uint64_t>(unix_millis) & 0xFFFFFFFFFFFFull;
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<unsigned char>(t >> (40 - 8 * i));
  // Monotonic per thread: ids made in one millisecond increase in the order they are made (the
  // random part of the last one plus a random step), so an event's id breaks ties of equal times
  // in the order its thread made them (a batch's events, for instance).
  thread_local uint64_t last_time = ~0ull;
  thread_local unsigned char last[10];
  if (t == last_time) {
    unsigned char step[4];
    FillRandom(step, sizeof step);
    uint32_t carry = ((uint32_t{step[0]} << 24) | (uint32_t{step[1]} << 16) |
                      (uint32_t{step[2]} << 8) | step[3]) >>
                         1 |
                     1;
    for (int i = 9; i >= 0 && carry != 0; --i) {
      uint32_t sum = last[i] + (carry & 0xFF);
      last[i] = static_cast<unsigned char>(sum);
      carry = (carry >> 8) + (sum >> 8);
    }
  } else {
    FillRandom(last, sizeof last);
    last_time = t;
  }
  std::memcpy(bytes + 6, last, sizeof last);
  std::string out(prefix);
  out.reserve(prefix.size() + kUlidLength);
  // Read 130 bits (2 zero bits then the 128) five at a time.
  for (int digit = 0; digit < static_cast<int>(kUlidLength); ++digit) {
    int bit = digit * 5 - 2;  // position of the first bit of this digit in the 128-bit value
    unsigned v = 0;
    for (int b = 0; b < 5; ++b, ++bit) {
      v <<= 1;
      if (bit >= 0) v |= (bytes[bit / 8] >> (7 - bit % 8)) & 1;
    }
    out += kCrockford[v];
  }
  return out;
}

bool IsWellFormedId(std::string_view id, std::string_view prefix) {
  if (id.size() != prefix.size() + kUlidLength || id.substr(0, prefix.size()) != prefix) {
    return false;
  }
  for (char c : id.substr(prefix.size())) {
    if (std::string_view(kCrockford).find(c) == std::string_view::npos) return false;
  }
  return true;
}

}  // namespace relay
