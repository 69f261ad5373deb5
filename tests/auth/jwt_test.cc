#include "auth/jwt.h"

#include <gtest/gtest.h>

#include "common/crypto.h"

namespace relay::auth {
namespace {

const std::string kKey = std::string(32, 'k');

SessionClaims Claims() { return SessionClaims{"key_1", 1000, 4600}; }

std::string Part(std::string_view token, int index) {
  size_t start = 0;
  for (int i = 0; i < index; ++i) start = token.find('.', start) + 1;
  size_t end = token.find('.', start);
  return std::string(
      token.substr(start, end == std::string_view::npos ? token.size() - start : end - start));
}

TEST(JwtTest, VerifiesItsOwnTokenBeforeExpiry) {
  std::string token = SignSessionToken(Claims(), kKey);
  auto claims = VerifySessionToken(token, kKey, 2000);
  ASSERT_TRUE(claims.ok()) << claims.status().message();
  EXPECT_EQ(claims->key_id, "key_1");
  EXPECT_EQ(claims->expires_at, 4600);
}

TEST(JwtTest, RefusesExpiredToken) {
  std::string token = SignSessionToken(Claims(), kKey);
  EXPECT_EQ(VerifySessionToken(token, kKey, 4600).status().code(), StatusCode::kUnauthenticated);
}

TEST(JwtTest, RefusesWrongSignature) {
  std::string token = SignSessionToken(Claims(), kKey);
  EXPECT_FALSE(VerifySessionToken(token, std::string(32, 'x'), 2000).ok());
}

TEST(JwtTest, RefusesChangedKey) {
  std::string token = SignSessionToken(Claims(), kKey);
  std::string payload = *crypto::Base64UrlDecode(Part(token, 1));
  size_t at = payload.find("key_1");
  payload.replace(at, 5, "key_2");
  std::string forged =
      Part(token, 0) + "." + crypto::Base64UrlEncode(payload) + "." + Part(token, 2);
  EXPECT_EQ(VerifySessionToken(forged, kKey, 2000).status().message(), "invalid token signature");
}

TEST(JwtTest, RefusesAlgNone) {
  std::string token = SignSessionToken(Claims(), kKey);
  std::string none =
      crypto::Base64UrlEncode("{\"alg\":\"none\",\"typ\":\"JWT\"}") + "." + Part(token, 1) + ".";
  EXPECT_EQ(VerifySessionToken(none, kKey, 2000).status().message(), "unsupported token algorithm");
}

TEST(JwtTest, RefusesMalformedTokens) {
  for (const char* bad : {"", "a", "a.b", "a.b.c.d", "!!.??.**"}) {
    EXPECT_FALSE(VerifySessionToken(bad, kKey, 2000).ok()) << bad;
  }
}

}  // namespace
}  // namespace relay::auth
