// Didomi-style rate limits per organization (--org-rate-limit N/WINDOW): limited routes answer
// the IETF RateLimit headers and 429 with Retry-After past the limit, counted per organization;
// the Consents API and sessions are not limited; a failed authorization counts for nobody. On both
// stores (the "pg." variants); the limit is per node (README).
#include <gtest/gtest.h>

#include <string>

#include "e2e/api_fixture.h"
#include "support/test_receiver.h"

namespace relay::testing {
namespace {
using std::chrono::seconds;

class OrgRateLimitTest : public ApiFixture {};

TEST_F(OrgRateLimitTest, EachOrganizationGetsItsBudgetWithHeadersAnd429PastIt) {
  ApiKey key = CreateKey({"org_a", "org_b"});
  EnableFeature("org_a", "webhooks");
  EnableFeature("org_b", "webhooks");
  StartServer({"--org-rate-limit", "3/2s"});
  const std::string token = Token(key);
  const std::string list_a = "/v1/marketplace/integrations?organization_id=org_a";

  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Call("GET", list_a, "not-a-token").status, 401) << "counts for nobody";
  }
  for (int i = 0; i < 3; ++i) {
    HttpResult r = Call("GET", list_a, token);
    ASSERT_EQ(r.status, 200) << i << ": " << r.body;
    EXPECT_EQ(r.Header("ratelimit-limit"), "3");
    EXPECT_EQ(r.Header("ratelimit-remaining"), std::to_string(2 - i));
    EXPECT_EQ(r.Header("ratelimit-policy"), "3;w=2");
    const int reset = std::stoi(r.Header("ratelimit-reset"));
    EXPECT_TRUE(reset >= 1 && reset <= 2) << reset;
  }
  HttpResult limited = Call("GET", list_a, token);
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(limited.Header("ratelimit-remaining"), "0");
  ASSERT_FALSE(limited.Header("retry-after").empty());
  EXPECT_LE(std::stoi(limited.Header("retry-after")), 2);
  EXPECT_NE(limited.body.find("try again"), std::string::npos) << limited.body;
  EXPECT_EQ(Call("POST", list_a, token,
                 R"({"type_id":"webhook-http","properties":{"url":"https://h.example/"}})")
                .status,
            429)
      << "a write is refused too, and not made";

  HttpResult other = Call("GET", "/v1/marketplace/integrations?organization_id=org_b", token);
  EXPECT_EQ(other.status, 200) << "another organization has its own budget";
  EXPECT_EQ(other.Header("ratelimit-remaining"), "2");

  for (int i = 0; i < 5; ++i) {
    HttpResult event = Call("POST", "/v1/consents/events?organization_id=org_a", token,
                            R"({"user":{"organization_user_id":"u-1"},"consents":{}})");
    EXPECT_EQ(event.status, 201) << event.body;
    EXPECT_EQ(event.Header("ratelimit-limit"), "") << "the Consents API is not limited";
  }
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(Token(key).empty()) << "sessions are not limited";

  // The window ends: the budget is back. (Refused requests do not count, so polling is free.)
  ASSERT_TRUE(WaitUntil([&] { return Call("GET", list_a, token).status == 200; }, seconds(5)));
  HttpResult again = Call("GET", list_a, token);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.Header("ratelimit-remaining"), "1");
  HttpResult listed = Call("GET", list_a, token);
  EXPECT_EQ(listed.Json().at("total").as_int64(), 0) << "the refused POST made nothing";
}

TEST_F(OrgRateLimitTest, AMalformedLimitRefusesToStart) {
  TempDir dir;
  for (const char* bad : {"100", "0/15s", "100/0s", "100/15", "x/15s", "100/1500ms"}) {
    CommandResult r = RunRelay(
        {"serve", "--data-dir", dir.path(), "--listen", "127.0.0.1:0", "--org-rate-limit", bad});
    EXPECT_EQ(r.exit_code, 1) << bad;
    EXPECT_NE(r.err.find("--org-rate-limit"), std::string::npos) << bad << ": " << r.err;
  }
}

}  // namespace
}  // namespace relay::testing
