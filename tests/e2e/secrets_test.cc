// Secrets stay secret through a whole scenario: keys, an OAuth integration, deliveries that fail
// then succeed, with debug logging. None of the API secret, the client secret, the access token
// or the signing secret appears in logs, attempts, metrics, other API answers or the database.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "e2e/delivery_fixture.h"

namespace relay::testing {
namespace {
using std::chrono::seconds;

class SecretsTest : public DeliveryFixture {
 protected:
  TestReceiver receiver_;
  TestReceiver tokens_;
};

TEST_F(SecretsTest, NoSecretLeaksAnywhere) {
  const std::string client_secret = "client-secret-0d5f7a";
  const std::string access_token = "access-token-9c1e2b";
  tokens_.SetHandler([&](const ReceivedRequest&) {
    return ReplyWith(200, R"({"access_token":")" + access_token +
                              R"(","token_type":"Bearer","expires_in":3600})");
  });
  std::atomic<int> calls{0};
  receiver_.SetHandler([&](const ReceivedRequest&) {
    return ++calls <= 2 ? ReplyWith(500, "try later") : ReplyWith(200);
  });
  ApiKey key = CreateKey({"org_a"});
  EnableFeature("org_a", "webhooks");
  StartServer({"--allow-destination", "127.0.0.0/8", "--retry-schedule", "100ms,100ms",
               "--log-level", "debug"});
  token_ = Token(key);
  auto integration =
      CreateIntegration(receiver_.Url(), "",
                        R"("authentication":{"url":")" + tokens_.Url("/token") +
                            R"(","client_id":"cid","client_secret":")" + client_secret + "\"}");
  PostEvent("u-1");
  ASSERT_TRUE(WaitForStatus(integration.id, "succeeded", 2, seconds(15)));
  EXPECT_EQ(receiver_.Requests().back().Header("authorization"), "Bearer " + access_token);

  std::vector<std::string> answers;
  const std::string integration_path = "/v1/marketplace/integrations/" + integration.id;
  for (const std::string& path : std::vector<std::string>{
           "/v1/marketplace/integrations", integration_path, integration_path + "/deliveries",
           "/v1/consents/events", "/v1/consents/users"}) {
    answers.push_back(Call("GET", Path(path), token_).body);
  }
  answers.push_back(Call("PATCH", Path("/v1/marketplace/integrations/" + integration.id), token_,
                         R"({"properties":{"timeout_ms":5000}})")
                        .body);
  answers.push_back(HttpRequest("GET", Url("/metrics")).body);
  answers.push_back(HttpRequest("GET", Url("/healthz")).body);
  ASSERT_EQ(server_.Stop(), 0);
  answers.push_back(server_.Logs());
  answers.push_back(RunRelay({"keys", "list", "--data-dir", DataDir()}).out);
  answers.push_back(RunRelay({"orgs", "list", "--data-dir", DataDir()}).out);
  for (const auto& entry : std::filesystem::directory_iterator(DataDir())) {
    if (entry.path().filename() == "master.key") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    answers.push_back(ss.str());
  }
  const std::string signing_key = integration.signing_secret.substr(6);
  for (size_t i = 0; i < answers.size(); ++i) {
    for (const std::string& secret : {key.secret, client_secret, access_token, signing_key}) {
      EXPECT_EQ(answers[i].find(secret), std::string::npos) << "answer " << i << " shows a secret";
    }
  }
}

}  // namespace
}  // namespace relay::testing
