// Session tokens: compact JWTs signed with HS256 (RFC 7519 / RFC 7515).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace relay::auth {

struct SessionClaims {
  // The key only: what it may do is looked up per request, so the token stays small however many
  // organizations the key has, and a change to them takes effect at once.
  std::string key_id;      // "sub"
  int64_t issued_at = 0;   // "iat", unix seconds
  int64_t expires_at = 0;  // "exp", unix seconds
};

std::string SignSessionToken(const SessionClaims& claims, std::string_view key);

// Verifies the header (exactly {"alg":"HS256"}, "typ" JWT if present), the signature (constant
// time) and the expiry against `now_seconds`. Any failure is kUnauthenticated with a reason that
// is safe to show the client.
Result<SessionClaims> VerifySessionToken(std::string_view token, std::string_view key,
                                         int64_t now_seconds);

}  // namespace relay::auth
