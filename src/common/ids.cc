// ULID-based identifiers.
#include "common/ids.h"

#include <cstring>

#include "common/crypto.h"

namespace relay {
namespace {
constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr size_t kUlidLength = 26;

// Random bytes for ids, drawn from the CSPRNG 1 KiB at a time per thread: one call per id showed
// in profiles (every event makes several ids). Ids need to be unguessable, not secret.
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
}  // namespace

std::string NewId(std::string_view prefix, int64_t unix_millis) {
  // 128 bits: 48 of time then 80 of randomness, written as 26 base32 digits (2 leading pad bits).
  unsigned char bytes[16];
  uint64_t t = static_cast<uint64_t>(unix_millis) & 0xFFFFFFFFFFFFull;
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<unsigned char>(t >> (40 - 8 * i));
  FillRandom(bytes + 6, 10);
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
