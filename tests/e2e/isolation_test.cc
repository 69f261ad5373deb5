// Tenant isolation, attacked: organization B tries every route with organization A's ids in the
// path, the query and the body, and gets only 403 or 404 — never A's data.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "e2e/delivery_fixture.h"

namespace relay::testing {
namespace {
namespace json = boost::json;
using std::chrono::seconds;

class IsolationTest : public DeliveryFixture {
 protected:
  TestReceiver receiver_;
};

TEST_F(IsolationTest, AnotherOrganizationsIdsGiveOnly403Or404) {
  StartRelay({"--retry-schedule", "100ms"});
  receiver_.SetHandler([](const ReceivedRequest&) { return ReplyWith(500, "a-private-answer"); });
  // Organization A's world.
  auto integration =
      CreateIntegration(receiver_.Url("/a-secret-path"), R"("events":["event.created"])");
  json::object event = PostEvent("a-private-user");
  ASSERT_TRUE(WaitForStatus(integration.id, "dead", 1, seconds(10)));
  std::string event_id(event.at("id").as_string());
  std::string user_id(event.at("user").at("id").as_string());
  std::string delivery_id(Deliveries(integration.id)[0].at("id").as_string());
  const std::string a_token = token_;

  // Organization B, with its own key and webhooks.
  ApiKey key_b = CreateKey({"org_b"});
  EnableFeature("org_b", "webhooks");
  std::string b = Token(key_b);

  const std::string I = "/v1/marketplace/integrations/" + integration.id;
  struct Route {
    std::string method;
    std::string path;
    std::string body;
  };
  const std::vector<Route> routes = {
      {"GET", I, ""},
      {"PATCH", I, R"({"enabled":false})"},
      {"DELETE", I, ""},
      {"GET", I + "/secret", ""},
      {"POST", I + "/secret/rotate", ""},
      {"GET", I + "/deliveries", ""},
      {"GET", I + "/deliveries/" + delivery_id, ""},
      {"POST", I + "/deliveries/" + delivery_id + "/retry", ""},
      {"POST", I + "/replay", R"({"status":"dead"})"},
      {"POST", I + "/test", ""},
      {"GET", "/v1/consents/events/" + event_id, ""},
      {"PATCH", "/v1/consents/events/" + event_id, R"({"metadata":{"x":1}})"},
      {"DELETE", "/v1/consents/events/" + event_id, ""},
      {"GET", "/v1/consents/users/" + user_id, ""},
      {"PATCH", "/v1/consents/users/" + user_id, R"({"metadata":{"x":1}})"},
      {"DELETE", "/v1/consents/users/" + user_id, ""},
  };
  for (const auto& r : routes) {
    // B names its own organization: A's resources do not exist for it.
    HttpResult own = Call(r.method, r.path + "?organization_id=org_b", b, r.body);
    EXPECT_EQ(own.status, 404) << r.method << " " << r.path << " " << own.body;
    // B names A's organization: forbidden.
    HttpResult theirs = Call(r.method, r.path + "?organization_id=org_a", b, r.body);
    EXPECT_EQ(theirs.status, 403) << r.method << " " << r.path;
    // Both organizations at once, or a key-less call: never data.
    HttpResult both =
        Call(r.method, r.path + "?organization_id=org_b&organization_id=org_a", b, r.body);
    EXPECT_TRUE(both.status == 403 || both.status == 404) << r.method << " " << r.path;
    HttpResult anonymous = Call(r.method, r.path + "?organization_id=org_a", "", r.body);
    EXPECT_EQ(anonymous.status, 401);
    for (const HttpResult* res : {&own, &theirs, &both, &anonymous}) {
      for (const char* leak : {"a-secret-path", "a-private-user", "a-private-answer", "whsec_"}) {
        EXPECT_EQ(res->body.find(leak), std::string::npos) << r.method << " " << r.path;
      }
    }
  }
  // Lists under B's organization show nothing of A's.
  for (const char* list :
       {"/v1/marketplace/integrations", "/v1/consents/events", "/v1/consents/users"}) {
    HttpResult r = Call("GET", std::string(list) + "?organization_id=org_b", b);
    EXPECT_EQ(r.Json().at("total"), 0) << list;
  }
  HttpResult by_user = Call("GET",
                            "/v1/consents/events?organization_id=org_b&organization_user_id="
                            "a-private-user&user_id=" +
                                user_id,
                            b);
  EXPECT_EQ(by_user.Json().at("total"), 0);
  // Bodies naming another organization than the query are refused.
  EXPECT_EQ(Call("POST", "/v1/consents/events?organization_id=org_b", b,
                 R"({"organization_id":"org_a","user":{"organization_user_id":"x"},"consents":{}})")
                .status,
            400);
  EXPECT_EQ(Call("POST", "/v1/marketplace/integrations?organization_id=org_b", b,
                 R"({"organization_id":"org_a","type_id":"webhook-http",
                     "properties":{"url":"https://h.example/"}})")
                .status,
            400);
  // A's data is untouched by all of that.
  token_ = a_token;
  EXPECT_EQ(Call("GET", Path(I), token_).Json().at("enabled"), true);
  EXPECT_EQ(Call("GET", Path("/v1/consents/events/" + event_id), token_).status, 200);
  EXPECT_EQ(Deliveries(integration.id)[0].at("status"), "dead");
  EXPECT_EQ(Deliveries(integration.id)[0].at("attempts").as_array().size(), 2u);
}

}  // namespace
}  // namespace relay::testing
