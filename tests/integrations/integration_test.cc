#include "integrations/integration.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/json.h"
#include "integrations/stored_properties.h"

namespace relay::integrations {
namespace {
namespace json = boost::json;

json::object Body(const std::string& text) { return ParseJson(text)->as_object(); }

TEST(IntegrationSpecTest, AcceptsTheSeedBodyWithDefaults) {
  auto spec = ParseIntegrationSpec(Body(R"({"type_id":"webhook-http","authentication":{},
      "properties":{"url":"https://api.my-site.com/consents"}})"));
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_TRUE(spec->enabled);
  EXPECT_FALSE(spec->oauth.has_value());
  EXPECT_EQ(spec->properties.url, "https://api.my-site.com/consents");
  EXPECT_EQ(spec->properties.regulations, std::vector<std::string>{"gdpr"});
  EXPECT_TRUE(spec->properties.events.empty());
  EXPECT_FALSE(spec->properties.flatten);
  EXPECT_EQ(spec->properties.timeout_ms, 10000);
}

TEST(IntegrationSpecTest, AcceptsOAuthWithDefaultsAndOptions) {
  auto spec = ParseIntegrationSpec(Body(R"({"type_id":"webhook-http",
      "authentication":{"url":"https://a.example/token","client_id":"id","client_secret":"s",
        "scope":"write","audience":"aud","client_auth_method":"client_secret_post"},
      "properties":{"url":"http://b.example/hook","events":["user.created","user.created"],
        "regulations":["*"],"flatten":true,"headers":{"X-Tenant":"t1"},"timeout_ms":100}})"));
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  ASSERT_TRUE(spec->oauth.has_value());
  EXPECT_EQ(spec->oauth->client_auth_method, "client_secret_post");
  EXPECT_EQ(spec->properties.events, std::vector<std::string>{"user.created"});
  EXPECT_EQ(spec->properties.headers.size(), 1u);
  EXPECT_EQ(spec->properties.timeout_ms, 100);
}

struct BadCase {
  const char* body;
  const char* field;
};

class IntegrationSpecRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(IntegrationSpecRejects, NamingTheField) {
  auto spec = ParseIntegrationSpec(Body(GetParam().body));
  ASSERT_FALSE(spec.ok()) << GetParam().body;
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().field_errors().count(GetParam().field), 1u) << spec.status().message();
}

#define P(x) "\"properties\":{\"url\":\"https://h.example/\"," x "}}"
INSTANTIATE_TEST_SUITE_P(
    EveryRule, IntegrationSpecRejects,
    ::testing::Values(
        BadCase{R"({"properties":{"url":"https://h.example/"}})", "type_id"},
        BadCase{R"({"type_id":"webhook-s3","properties":{"url":"https://h.example/"}})", "type_id"},
        BadCase{R"({"type_id":"webhook-http","authentication":{}})", "properties"},
        BadCase{R"({"type_id":"webhook-http","properties":{}})", "properties.url"},
        BadCase{R"({"type_id":"webhook-http","properties":{"url":"ftp://h.example/"}})",
                "properties.url"},
        BadCase{R"({"type_id":"webhook-http","properties":{"url":"/relative"}})", "properties.url"},
        BadCase{R"({"type_id":"webhook-http","properties":{"url":"https://u:p@h.example/"}})",
                "properties.url"},
        BadCase{R"({"type_id":"webhook-http","properties":{"url":"https:///nohost"}})",
                "properties.url"},
        BadCase{R"({"type_id":"webhook-http","properties":{"url":42}})", "properties.url"},
        BadCase{R"({"type_id":"webhook-http","properties":{"url":"https://h.example/","uri":1}})",
                "properties.uri"},
        BadCase{R"({"type_id":"webhook-http","enabled":"yes",)" P(R"("flatten":false)"), "enabled"},
        BadCase{R"({"type_id":"webhook-http","extra":1,)" P(R"("flatten":false)"), "extra"},
        BadCase{R"({"type_id":"webhook-http",)" P(R"("events":["user.exploded"])"),
                "properties.events"},
        BadCase{R"({"type_id":"webhook-http",)" P(R"("events":"user.created")"),
                "properties.events"},
        BadCase{R"({"type_id":"webhook-http",)" P(R"("regulations":[])"), "properties.regulations"},
        BadCase{R"({"type_id":"webhook-http",)" P(R"("regulations":["GDPR"])"),
                "properties.regulations"},
        BadCase{R"({"type_id":"webhook-http",)" P(R"("regulations":["*","gdpr"])"),
                "properties.regulations"},
        BadCase{R"({"type_id":"webhook-http",)" P(R"("flatten":"true")"), "properties.flatten"},
        BadCase{R"({"type_id":"webhook-http",)" P(R"("headers":{"Authorization":"x"})"),
                "properties.headers.Authorization"},
        BadCase{R"({"type_id":"webhook-http",)" P(R"("headers":{"webhook-id":"x"})"),
                "properties.headers.webhook-id"},
        BadCase{R"({"type_id":"webhook-http",)" P(R"("headers":{"Bad Name":"x"})"),
                "properties.headers.Bad Name"},
        BadCase{R"({"type_id":"webhook-http",)" P(R"("headers":{"X-A":"a\r\nX-B: b"})"),
                "properties.headers.X-A"},
        BadCase{R"({"type_id":"webhook-http",)" P(R"("timeout_ms":99)"), "properties.timeout_ms"},
        BadCase{R"({"type_id":"webhook-http",)" P(R"("timeout_ms":30001)"),
                "properties.timeout_ms"},
        BadCase{R"({"type_id":"webhook-http",)" P(R"("timeout_ms":1.5)"), "properties.timeout_ms"},
        BadCase{R"({"type_id":"webhook-http","authentication":[],)" P(R"("flatten":false)"),
                "authentication"},
        BadCase{
            R"({"type_id":"webhook-http","authentication":{"client_id":"a","client_secret":"b"},)" P(
                R"("flatten":false)"),
            "authentication.url"},
        BadCase{
            R"({"type_id":"webhook-http","authentication":{"url":"https://t.example/","client_secret":"b"},)" P(
                R"("flatten":false)"),
            "authentication.client_id"},
        BadCase{
            R"({"type_id":"webhook-http","authentication":{"url":"https://t.example/","client_id":"a"},)" P(
                R"("flatten":false)"),
            "authentication.client_secret"},
        BadCase{
            R"({"type_id":"webhook-http","authentication":{"url":"https://t.example/","client_id":"a","client_secret":"b","client_auth_method":"jwt"},)" P(
                R"("flatten":false)"),
            "authentication.client_auth_method"},
        BadCase{
            R"({"type_id":"webhook-http","authentication":{"url":"https://t.example/","client_id":"a","client_secret":"b","clientsecret":"c"},)" P(
                R"("flatten":false)"),
            "authentication.clientsecret"}),
    [](const ::testing::TestParamInfo<BadCase>& info) {
      std::string name = std::to_string(info.index) + "_";
      for (char c : std::string(info.param.field)) name += std::isalnum(c) ? c : '_';
      return name;
    });
#undef P

TEST(IntegrationSpecTest, RefusesUrlsLongerThan2048Characters) {
  std::string url = "https://h.example/" + std::string(2048, 'a');
  json::object body{{"type_id", "webhook-http"}, {"properties", json::object{{"url", url}}}};
  auto spec = ParseIntegrationSpec(body);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().field_errors().count("properties.url"), 1u);
}

TEST(IntegrationJsonTest, MasksTheClientSecret) {
  Integration i;
  i.id = "int_1";
  i.organization_id = "acme";
  i.spec.oauth =
      OAuthConfig{"https://t.example/", "id", "real-secret", "", "", "client_secret_basic"};
  i.spec.properties.url = "https://h.example/";
  std::string text = json::serialize(IntegrationToJson(i));
  EXPECT_EQ(text.find("real-secret"), std::string::npos);
  EXPECT_NE(text.find("\"client_secret\":\"********\""), std::string::npos);
}

TEST(MatchesTest, FiltersByTypeAndRegulation) {
  integrations::IntegrationProperties p;
  p.regulations = {"gdpr"};
  EXPECT_TRUE(Matches(p, "user.created", "gdpr"));
  EXPECT_FALSE(Matches(p, "user.created", "ccpa"));
  p.events = {"event.created"};
  EXPECT_FALSE(Matches(p, "user.created", "gdpr"));
  EXPECT_TRUE(Matches(p, "event.created", "gdpr"));
  p.regulations = {"*"};
  EXPECT_TRUE(Matches(p, "event.created", "cpra"));
}

TEST(StoredPropertiesTest, ParsedOncePerVersionByTheRulesRequestsObey) {
  store::IntegrationRow row;
  row.id = "int_1";
  row.version = 1;
  row.properties_json = R"({"url":"https://h.example/","events":["user.created"]})";
  auto first = StoredProperties(row);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ((*first)->events, std::vector<std::string>{"user.created"});
  EXPECT_EQ(StoredProperties(row)->get(), first->get()) << "the same version is not parsed again";
  row.version = 2;
  row.properties_json = R"({"url":"https://h.example/","flatten":true})";
  auto second = StoredProperties(row);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE((*second)->flatten);
  row.version = 3;
  row.properties_json = R"({"url":"ftp://h.example/"})";
  EXPECT_EQ(StoredProperties(row).status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace relay::integrations
