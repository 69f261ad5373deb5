// Outbound safety: without --allow-destination, nothing reaches loopback or other internal
// addresses, whatever the URL says and whatever a name resolves to.
#include <gtest/gtest.h>

#include "e2e/delivery_fixture.h"

namespace relay::testing {
namespace {
using std::chrono::seconds;

class SsrfTest : public DeliveryFixture {
 protected:
  void SetUp() override {
    ApiKey key = CreateKey({"org_a"});
    EnableFeature("org_a", "webhooks");
    StartServer({"--retry-schedule", "1h"});  // no --allow-destination
    token_ = Token(key);
  }
  TestReceiver receiver_;
};

TEST_F(SsrfTest, LiteralInternalAddressesAreRefusedWhenConfigured) {
  const std::string port = std::to_string(receiver_.port());
  for (const char* host :
       {"127.0.0.1", "169.254.169.254", "[::1]", "[::ffff:127.0.0.1]", "2130706433", "0177.0.0.1",
        "0x7f.0.0.1", "127.1", "10.0.0.1", "192.168.1.1", "[fd00::1]"}) {
    std::string body = R"({"type_id":"webhook-http","properties":{"url":"http://)" +
                       std::string(host) + ":" + port + R"(/hook"}})";
    HttpResult r = Call("POST", Path("/v1/marketplace/integrations"), token_, body);
    EXPECT_EQ(r.status, 400) << host;
    EXPECT_NE(r.body.find("refused"), std::string::npos) << r.body;
  }
  EXPECT_EQ(receiver_.Count(), 0u);
}

TEST_F(SsrfTest, ANameThatResolvesInsideIsRefusedWhenConnecting) {
  auto integration =
      CreateIntegration("http://localhost:" + std::to_string(receiver_.port()) + "/hook",
                        R"("events":["event.created"])");
  PostEvent("u-1");
  ASSERT_TRUE(
      WaitUntil([&] { return Deliveries(integration.id)[0].at("attempts").as_array().size() == 1; },
                seconds(10)));
  auto attempt = Deliveries(integration.id)[0].at("attempts").as_array()[0];
  EXPECT_TRUE(attempt.at("http_status").is_null());
  EXPECT_NE(std::string(attempt.at("error").as_string()).find("refused"), std::string::npos)
      << attempt;
  EXPECT_EQ(receiver_.Count(), 0u);
}

TEST_F(SsrfTest, ATokenUrlInsideIsRefusedToo) {
  TestReceiver tokens;
  auto integration = CreateIntegration(
      "https://hooks.example/consents", R"("events":["event.created"])",
      R"("authentication":{"url":"http://localhost:)" + std::to_string(tokens.port()) +
          R"(/token","client_id":"a","client_secret":"b"})");
  PostEvent("u-1");
  ASSERT_TRUE(
      WaitUntil([&] { return Deliveries(integration.id)[0].at("attempts").as_array().size() == 1; },
                seconds(10)));
  auto attempt = Deliveries(integration.id)[0].at("attempts").as_array()[0];
  EXPECT_NE(std::string(attempt.at("error").as_string()).find("refused"), std::string::npos)
      << attempt;
  EXPECT_EQ(tokens.Count(), 0u);
}

}  // namespace
}  // namespace relay::testing
