// Fuzzes session token verification: no input the fuzzer makes up may pass as a valid token.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/jwt.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  static const std::string key(32, 'k');
  auto claims = relay::auth::VerifySessionToken(text, key, 1'700'000'000);
  if (claims.ok()) __builtin_trap();  // a forgery
  return 0;
}
