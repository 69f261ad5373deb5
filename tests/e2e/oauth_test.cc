// OAuth client credentials end to end: a real token endpoint and a real receiver on loopback.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <optional>

#include "e2e/delivery_fixture.h"
#include "support/test_crypto.h"

namespace relay::testing {
namespace {
namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

class OAuthTest : public DeliveryFixture {
 protected:
  // The token endpoint hands out tok-1, tok-2, ...: the first valid for `first_expires_in_`
  // seconds, the others for `expires_in_`.
  void SetUp() override {
    tokens_.SetHandler([this](const ReceivedRequest&) {
      int n = ++issued_;
      if (n <= fail_first_) return ReplyWith(500, R"({"error":"temporarily_unavailable"})");
      std::string body =
          R"({"access_token":"tok-)" + std::to_string(n) +
          R"(","token_type":"bearer","expires_in":)" +
          std::to_string(n == 1 ? first_expires_in_.value_or(expires_in_) : expires_in_) + "}";
      Reply r = ReplyWith(200, body);
      r.headers = {{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}};
      return r;
    });
  }
  std::string Auth(const std::string& method = "client_secret_basic") {
    return R"("authentication":{"url":")" + tokens_.Url("/token") +
           R"(","client_id":"client 1","client_secret":"s3cret:&=","scope":"consents:write",)" +
           R"("client_auth_method":")" + method + "\"}";
  }
  TestReceiver tokens_;
  TestReceiver receiver_;
  std::atomic<int> issued_{0};
  int expires_in_ = 3600;
  std::optional<int> first_expires_in_;
  int fail_first_ = 0;
};

TEST_F(OAuthTest, OneTokenRequestServesTwoHundredDeliveries) {
  StartRelay();
  auto integration = CreateIntegration(receiver_.Url(), "", Auth());
  for (int i = 0; i < 100; ++i) PostEvent("u-" + std::to_string(i));
  ASSERT_TRUE(receiver_.WaitForCount(200, seconds(20))) << receiver_.Count();
  ASSERT_TRUE(WaitForStatus(integration.id, "succeeded", 200));
  EXPECT_EQ(tokens_.Count(), 1u);
  for (const auto& r : receiver_.Requests()) EXPECT_EQ(r.Header("authorization"), "Bearer tok-1");
  ReceivedRequest t = tokens_.Requests()[0];
  EXPECT_EQ(t.method, "POST");
  EXPECT_EQ(t.path, "/token");
  EXPECT_EQ(t.Header("content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(t.body, "grant_type=client_credentials&scope=consents%3Awrite");
  // RFC 6749 §2.3.1: form-urlencode id and secret, then Basic.
  EXPECT_EQ(t.Header("authorization"), "Basic " + Base64("client+1:s3cret%3A%26%3D"));
}

TEST_F(OAuthTest, ClientSecretPostSendsCredentialsInTheBody) {
  StartRelay();
  auto integration = CreateIntegration(receiver_.Url(), R"("events":["event.created"])",
                                       Auth("client_secret_post"));
  PostEvent("u-1");
  ASSERT_TRUE(WaitForStatus(integration.id, "succeeded", 1));
  ReceivedRequest t = tokens_.Requests()[0];
  EXPECT_TRUE(t.Header("authorization").empty());
  EXPECT_EQ(t.body,
            "grant_type=client_credentials&scope=consents%3Awrite&client_id=client+1&"
            "client_secret=s3cret%3A%26%3D");
}

// End to end, on the wall clock; the exact boundary (expires_in - 30 s) is
// ManualClockDispatcherTest.AnOAuthTokenIsReusedUntilExpiresInLessThirtySeconds.
TEST_F(OAuthTest, AnExpiredTokenIsReplacedExactlyOnce) {
  // The first token is cached for expires_in - 30 s = 1 s; its successor for an hour, so however
  // slowly the next five go out, they need exactly one more token.
  first_expires_in_ = 31;
  StartRelay();
  auto integration = CreateIntegration(receiver_.Url(), R"("events":["event.created"])", Auth());
  PostEvent("u-1");
  ASSERT_TRUE(WaitForStatus(integration.id, "succeeded", 1));
  auto fetched_at = std::chrono::steady_clock::now();
  // Let the token's one second pass.
  WaitUntil([&] { return std::chrono::steady_clock::now() - fetched_at > milliseconds(1200); },
            seconds(2));
  for (int i = 2; i <= 6; ++i) PostEvent("u-" + std::to_string(i));
  ASSERT_TRUE(WaitForStatus(integration.id, "succeeded", 6));
  EXPECT_EQ(tokens_.Count(), 2u);
  EXPECT_EQ(receiver_.Requests().back().Header("authorization"), "Bearer tok-2");
}

TEST_F(OAuthTest, A401RefreshesTheTokenAndRetriesAtOnce) {
  StartRelay();
  receiver_.SetHandler([](const ReceivedRequest& r) {
    if (r.Header("authorization") != "Bearer tok-2") {
      Reply reply = ReplyWith(401, "");
      reply.headers = {{"WWW-Authenticate", R"(Bearer error="invalid_token")"}};
      return reply;
    }
    return ReplyWith(200);
  });
  auto integration = CreateIntegration(receiver_.Url(), R"("events":["event.created"])", Auth());
  PostEvent("u-1");
  ASSERT_TRUE(WaitForStatus(integration.id, "succeeded", 1));
  EXPECT_EQ(tokens_.Count(), 2u);
  EXPECT_EQ(receiver_.Count(), 2u);
  auto d = Deliveries(integration.id)[0];
  ASSERT_EQ(d.at("attempts").as_array().size(), 1u);
  EXPECT_EQ(d.at("attempts").as_array()[0].at("http_status"), 200);
}

TEST_F(OAuthTest, ADownTokenEndpointMeansRetriesNotLoss) {
  fail_first_ = 2;
  StartRelay({"--retry-schedule", "200ms,200ms,200ms"});
  auto integration = CreateIntegration(receiver_.Url(), R"("events":["event.created"])", Auth());
  PostEvent("u-1");
  ASSERT_TRUE(WaitForStatus(integration.id, "succeeded", 1));
  auto attempts = Deliveries(integration.id)[0].at("attempts").as_array();
  ASSERT_EQ(attempts.size(), 3u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(attempts[i].at("http_status").is_null());
    EXPECT_NE(std::string(attempts[i].at("error").as_string()).find("OAuth token endpoint"),
              std::string::npos)
        << attempts[i];
  }
  EXPECT_EQ(attempts[2].at("http_status"), 200);
  EXPECT_EQ(receiver_.Count(), 1u) << "nothing is sent without a token";
}

TEST_F(OAuthTest, ChangingTheAuthenticationDropsTheCachedToken) {
  StartRelay();
  auto integration = CreateIntegration(receiver_.Url(), R"("events":["event.created"])", Auth());
  PostEvent("u-1");
  ASSERT_TRUE(WaitForStatus(integration.id, "succeeded", 1));
  ASSERT_EQ(Call("PATCH", Path("/v1/marketplace/integrations/" + integration.id), token_,
                 R"({"authentication":{"client_id":"client-2"}})")
                .status,
            200);
  PostEvent("u-2");
  ASSERT_TRUE(WaitForStatus(integration.id, "succeeded", 2));
  EXPECT_EQ(tokens_.Count(), 2u);
  EXPECT_EQ(tokens_.Requests()[1].Header("authorization"),
            "Basic " + Base64("client-2:s3cret%3A%26%3D"));
}

TEST_F(OAuthTest, SecretsAndTokensNeverShow) {
  StartRelay({"--log-level", "debug"});
  auto integration = CreateIntegration(receiver_.Url(), "", Auth());
  PostEvent("u-1");
  ASSERT_TRUE(WaitForStatus(integration.id, "succeeded", 2));
  HttpResult listing =
      Call("GET", Path("/v1/marketplace/integrations/" + integration.id + "/deliveries"), token_);
  HttpResult metrics = HttpRequest("GET", Url("/metrics"));
  std::string logs = server_.Logs();
  for (const std::string& secret : {std::string("s3cret:&="), std::string("tok-1")}) {
    EXPECT_EQ(listing.body.find(secret), std::string::npos) << secret;
    EXPECT_EQ(metrics.body.find(secret), std::string::npos) << secret;
    EXPECT_EQ(logs.find(secret), std::string::npos) << secret;
  }
}

}  // namespace
}  // namespace relay::testing
