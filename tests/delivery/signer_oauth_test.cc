#include <gtest/gtest.h>

#include "delivery/oauth.h"
#include "delivery/signer.h"

namespace relay::delivery {
namespace {

TEST(SignerTest, MatchesTheStandardWebhooksReferenceVector) {
  auto key = DecodeSigningSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(Sign(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(SignerTest, SignsWithEveryKeyDuringARotation) {
  std::string a(32, 'a'), b(32, 'b');
  std::string header = SignatureHeader({a, b}, "msg_1", 5, "{}");
  EXPECT_EQ(header, Sign(a, "msg_1", 5, "{}") + " " + Sign(b, "msg_1", 5, "{}"));
}

TEST(SignerTest, RefusesMalformedSecrets) {
  for (const char* bad :
       {"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_!!!!", "whsec_c2hvcnQ="}) {
    EXPECT_FALSE(DecodeSigningSecret(bad).ok()) << bad;
  }
}

integrations::OAuthConfig Config(const std::string& method) {
  integrations::OAuthConfig c;
  c.url = "https://auth.example/token";
  c.client_id = "id with space";
  c.client_secret = "p@ss:word";
  c.audience = "https://api.example";
  c.client_auth_method = method;
  return c;
}

TEST(OAuthTokenTest, BasicAuthenticationFormEncodesThenBase64s) {
  TokenRequest r = BuildTokenRequest(Config("client_secret_basic"));
  EXPECT_EQ(r.body, "grant_type=client_credentials&audience=https%3A%2F%2Fapi.example");
  // base64("id+with+space:p%40ss%3Aword")
  EXPECT_NE(std::find(r.headers.begin(), r.headers.end(),
                      "Authorization: Basic aWQrd2l0aCtzcGFjZTpwJTQwc3MlM0F3b3Jk"),
            r.headers.end());
}

TEST(OAuthTokenTest, PostAuthenticationPutsCredentialsInTheBody) {
  TokenRequest r = BuildTokenRequest(Config("client_secret_post"));
  EXPECT_EQ(r.body,
            "grant_type=client_credentials&audience=https%3A%2F%2Fapi.example&client_id=id+with+"
            "space&client_secret=p%40ss%3Aword");
  for (const auto& h : r.headers) EXPECT_EQ(h.find("Authorization"), std::string::npos);
}

TEST(OAuthTokenTest, ParsesTokenResponses) {
  auto ok =
      ParseTokenResponse(200, R"({"access_token":"t","token_type":"BeArEr","expires_in":60})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->token, "t");
  EXPECT_EQ(TokenCacheMillis(*ok), 30'000);
  auto no_expiry = ParseTokenResponse(200, R"({"access_token":"t","token_type":"bearer"})");
  ASSERT_TRUE(no_expiry.ok());
  EXPECT_EQ(TokenCacheMillis(*no_expiry), kDefaultTokenLifetimeMillis);
  auto short_lived =
      ParseTokenResponse(200, R"({"access_token":"t","token_type":"bearer","expires_in":10})");
  EXPECT_EQ(TokenCacheMillis(*short_lived), 0);
  // Absurd lifetimes saturate (no overflow: the sanitized build checks) instead of wrapping.
  for (const char* huge : {"9000000000000000000", "10000000000000000000", "1e300"}) {
    auto forever = ParseTokenResponse(
        200,
        std::string(R"({"access_token":"t","token_type":"bearer","expires_in":)") + huge + "}");
    ASSERT_TRUE(forever.ok()) << huge;
    EXPECT_GT(TokenCacheMillis(*forever), 0) << huge;
    EXPECT_LE(TokenCacheMillis(*forever), int64_t{INT32_MAX} * 1000) << huge;
  }
  AccessToken hand_made{"t", int64_t{9'000'000'000'000'000'000}};
  EXPECT_EQ(TokenCacheMillis(hand_made), int64_t{INT32_MAX} * 1000 - kTokenExpiryMarginMillis);
}

TEST(OAuthTokenTest, RefusesBadTokenResponsesWithoutEchoingThem) {
  const std::pair<long, const char*> kBad[] = {
      {400, R"({"error":"invalid_client"})"},
      {500, "oops"},
      {200, "not json"},
      {200, R"({"token_type":"bearer"})"},
      {200, R"({"access_token":"","token_type":"bearer"})"},
      {200, R"({"access_token":"secret-token","token_type":"mac"})"},
      {200, R"({"access_token":"secret-token"})"},
      {200, "{\"access_token\":\"a\\r\\nX: y\",\"token_type\":\"bearer\"}"},
  };
  for (const auto& [status, body] : kBad) {
    auto r = ParseTokenResponse(status, body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().message().find("secret-token"), std::string::npos);
  }
  EXPECT_NE(ParseTokenResponse(401, R"({"error":"invalid_client"})")
                .status()
                .message()
                .find("invalid_client"),
            std::string::npos);
}

}  // namespace
}  // namespace relay::delivery
