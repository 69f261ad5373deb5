// HS256 JWT signing and verification.
#include "auth/jwt.h"

#include <boost/json.hpp>

#include "common/crypto.h"
#include "common/json.h"

namespace relay::auth {
namespace json = boost::json;

namespace {
constexpr char kIssuer[] = "consent-relay";
}  // namespace

std::string SignSessionToken(const SessionClaims& claims, std::string_view key) {
  json::object header{{"alg", "HS256"}, {"typ", "JWT"}};
  json::object payload{{"iss", kIssuer},
                       {"sub", claims.key_id},
                       {"iat", claims.issued_at},
                       {"exp", claims.expires_at}};
  std::string signing_input = crypto::Base64UrlEncode(json::serialize(header)) + "." +
                              crypto::Base64UrlEncode(json::serialize(payload));
  return signing_input + "." + crypto::Base64UrlEncode(crypto::HmacSha256(key, signing_input));
}

Result<SessionClaims> VerifySessionToken(std::string_view token, std::string_view key,
                                         int64_t now_seconds) {
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Unauthenticated("malformed token");
  }
  auto header_raw = crypto::Base64UrlDecode(token.substr(0, dot1));
  auto payload_raw = crypto::Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = crypto::Base64UrlDecode(token.substr(dot2 + 1));
  if (!header_raw || !payload_raw || !signature) return Unauthenticated("malformed token");

  auto header = ParseJson(*header_raw);
  if (!header.ok() || !header->is_object()) return Unauthenticated("malformed token");
  const auto& h = header->as_object();
  const json::value* alg = h.if_contains("alg");
  // Only HS256 is accepted: "none" and every other algorithm are refused before any other check.
  if (!alg || !alg->is_string() || alg->as_string() != "HS256") {
    return Unauthenticated("unsupported token algorithm");
  }
  const json::value* typ = h.if_contains("typ");
  if (typ && (!typ->is_string() || typ->as_string() != "JWT")) {
    return Unauthenticated("unsupported token type");
  }
  std::string expected = crypto::HmacSha256(key, token.substr(0, dot2));
  if (!crypto::ConstantTimeEquals(expected, *signature)) {
    return Unauthenticated("invalid token signature");
  }

  auto payload = ParseJson(*payload_raw);
  if (!payload.ok() || !payload->is_object()) return Unauthenticated("malformed token");
  const auto& p = payload->as_object();
  SessionClaims claims;
  const json::value* iss = p.if_contains("iss");
  const json::value* sub = p.if_contains("sub");
  const json::value* iat = p.if_contains("iat");
  const json::value* exp = p.if_contains("exp");
  if (!iss || !iss->is_string() || iss->as_string() != kIssuer || !sub || !sub->is_string() ||
      !exp || !exp->is_int64() || !iat || !iat->is_int64()) {
    return Unauthenticated("malformed token claims");
  }
  claims.key_id = std::string(sub->as_string());
  claims.issued_at = iat->as_int64();
  claims.expires_at = exp->as_int64();
  if (claims.expires_at <= now_seconds) return Unauthenticated("token expired");
  return claims;
}

}  // namespace relay::auth
