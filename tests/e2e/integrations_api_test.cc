// The integrations API end to end: the real binary, over HTTP.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "e2e/api_fixture.h"

namespace relay::testing {
namespace {
namespace json = boost::json;

constexpr char kIntegrations[] = "/v1/marketplace/integrations?organization_id=";

std::string OAuthBody(const std::string& client_secret) {
  return R"({"type_id":"webhook-http","authentication":{"url":"https://api.my-site.com/oauth/token",
    "client_id":"client-1","client_secret":")" +
         client_secret + R"("},"properties":{"url":"https://api.my-site.com/consents"}})";
}

class IntegrationsApiTest : public ApiFixture {
 protected:
  void SetUp() override {
    key_a_ = CreateKey({"org_a"});
    EnableFeature("org_a", "webhooks");
    StartServer();
    token_a_ = Token(key_a_);
  }
  std::string ItemPath(const std::string& id, const std::string& org = "org_a",
                       const std::string& suffix = "") {
    return "/v1/marketplace/integrations/" + id + suffix + "?organization_id=" + org;
  }
  std::string CreateSeed() {
    HttpResult r = Call("POST", kIntegrations + std::string("org_a"), token_a_, kSeedBody);
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(r.Json().at("id").as_string());
  }
  int64_t Total(const std::string& token, const std::string& org = "org_a") {
    HttpResult r = Call("GET", kIntegrations + org, token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.Json().at("total").as_int64();
  }
  ApiKey key_a_;
  std::string token_a_;
};

TEST_F(IntegrationsApiTest, HealthzAnswersOk) {
  HttpResult r = HttpRequest("GET", Url("/healthz"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Json().at("status"), "ok");
  EXPECT_EQ(r.Json().at("dispatcher").at("running"), true);
}

TEST_F(IntegrationsApiTest, SeedBodyIsAcceptedAsIs) {
  HttpResult r = Call("POST", kIntegrations + std::string("org_a"), token_a_, kSeedBody);
  ASSERT_EQ(r.status, 201) << r.body;
  json::object o = r.Json().as_object();
  EXPECT_TRUE(o.at("id").as_string().starts_with("int_"));
  EXPECT_EQ(o.at("organization_id"), "org_a");
  EXPECT_EQ(o.at("type_id"), "webhook-http");
  EXPECT_EQ(o.at("enabled"), true);
  EXPECT_EQ(o.at("authentication"), json::object());
  EXPECT_EQ(o.at("properties").at("url"), "https://api.my-site.com/consents");
  EXPECT_EQ(o.at("properties").at("regulations"), json::array{"gdpr"});
  EXPECT_EQ(o.at("version"), 1);
  EXPECT_EQ(o.at("created_at"), o.at("updated_at"));
  std::string secret(o.at("signing_secret").as_string());
  ASSERT_TRUE(secret.starts_with("whsec_"));
  EXPECT_EQ(secret.size(), 6u + 44u) << "base64 of 32 bytes";

  HttpResult got = Call("GET", ItemPath(std::string(o.at("id").as_string())), token_a_);
  ASSERT_EQ(got.status, 200);
  EXPECT_FALSE(got.Json().as_object().contains("signing_secret"));
  HttpResult sec =
      Call("GET", ItemPath(std::string(o.at("id").as_string()), "org_a", "/secret"), token_a_);
  ASSERT_EQ(sec.status, 200);
  EXPECT_EQ(sec.Json().at("signing_secret"), json::value(secret));
}

TEST_F(IntegrationsApiTest, WebhooksFeatureGatesCreationAndTakesEffectAtOnce) {
  ApiKey key_c = CreateKey({"org_c"});
  std::string token_c = Token(key_c);
  HttpResult refused = Call("POST", kIntegrations + std::string("org_c"), token_c, kSeedBody);
  ASSERT_EQ(refused.status, 403) << refused.body;
  EXPECT_EQ(refused.Json().at("name"), "Forbidden");
  EXPECT_NE(refused.body.find("consent-relay orgs enable org_c --feature webhooks"),
            std::string::npos)
      << refused.body;
  EXPECT_EQ(Total(token_c, "org_c"), 0);

  EnableFeature("org_c", "webhooks");  // while the server runs
  HttpResult created = Call("POST", kIntegrations + std::string("org_c"), token_c, kSeedBody);
  EXPECT_EQ(created.status, 201) << created.body;
}

TEST_F(IntegrationsApiTest, NonGdprRegulationsNeedMultiRegulation) {
  std::string body = R"({"type_id":"webhook-http","properties":{"url":"https://h.example/",
      "regulations":["gdpr","cpra"]}})";
  HttpResult refused = Call("POST", kIntegrations + std::string("org_a"), token_a_, body);
  ASSERT_EQ(refused.status, 403) << refused.body;
  EXPECT_NE(refused.body.find("--feature multi-regulation"), std::string::npos);
  EnableFeature("org_a", "multi-regulation");
  EXPECT_EQ(Call("POST", kIntegrations + std::string("org_a"), token_a_, body).status, 201);
}

TEST_F(IntegrationsApiTest, OAuthSecretIsMaskedOnEveryReadPath) {
  const std::string secret = "cs-7f3e9a1b-never-show-me";
  HttpResult created =
      Call("POST", kIntegrations + std::string("org_a"), token_a_, OAuthBody(secret));
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id(created.Json().at("id").as_string());
  auto auth = created.Json().at("authentication");
  EXPECT_EQ(auth.at("client_secret"), "********");
  EXPECT_EQ(auth.at("client_id"), "client-1");
  EXPECT_EQ(auth.at("client_auth_method"), "client_secret_basic");

  HttpResult got = Call("GET", ItemPath(id), token_a_);
  HttpResult list = Call("GET", kIntegrations + std::string("org_a"), token_a_);
  HttpResult patched = Call("PATCH", ItemPath(id), token_a_, R"({"enabled":false})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  for (const HttpResult* r : {&created, &got, &list, &patched}) {
    EXPECT_EQ(r->body.find(secret), std::string::npos) << r->body;
    EXPECT_NE(r->body.find("\"client_secret\":\"********\""), std::string::npos) << r->body;
  }
  EXPECT_EQ(server_.Logs().find(secret), std::string::npos);
}

TEST_F(IntegrationsApiTest, SeedsBrokenBodyIsRefusedWithLineAndColumn) {
  HttpResult r = Call("POST", kIntegrations + std::string("org_a"), token_a_, kSeedBrokenOAuthBody);
  ASSERT_EQ(r.status, 400) << r.body;
  json::object o = r.Json().as_object();
  EXPECT_EQ(o.at("code"), 400);
  EXPECT_EQ(o.at("name"), "BadRequest");
  EXPECT_NE(std::string(o.at("message").as_string()).find("line 7, column 3"), std::string::npos)
      << r.body;
  EXPECT_EQ(Total(token_a_), 0);
}

TEST_F(IntegrationsApiTest, ValidationErrorsNameTheFieldAndWriteNothing) {
  const std::pair<std::string, std::string> kCases[] = {
      {R"({"type_id":"webhook-s3","properties":{"url":"https://h.example/"}})", "type_id"},
      {R"({"type_id":"webhook-http","properties":{"url":"ftp://h.example/"}})", "properties.url"},
      {R"({"type_id":"webhook-http","properties":{"url":"https://u:p@h.example/"}})",
       "properties.url"},
      {R"({"type_id":"webhook-http","properties":{"url":"https://h.example/","timeout_ms":5}})",
       "properties.timeout_ms"},
      {R"({"type_id":"webhook-http","properties":{"url":"https://h.example/","evnets":[]}})",
       "properties.evnets"},
      {R"({"type_id":"webhook-http","authentication":{"url":"https://t.example/","client_id":"a",
          "client_secret":"b","client_scret":"c"},"properties":{"url":"https://h.example/"}})",
       "authentication.client_scret"},
      {R"({"type_id":"webhook-http","properties":{"url":"https://h.example/",
          "headers":{"Content-Type":"text/plain"}}})",
       "properties.headers.Content-Type"},
  };
  for (const auto& [body, field] : kCases) {
    HttpResult r = Call("POST", kIntegrations + std::string("org_a"), token_a_, body);
    ASSERT_EQ(r.status, 400) << body;
    EXPECT_TRUE(r.Json().at("errors").as_object().contains(field)) << r.body;
  }
  HttpResult not_object = Call("POST", kIntegrations + std::string("org_a"), token_a_, "[1]");
  EXPECT_EQ(not_object.status, 400);
  EXPECT_EQ(Total(token_a_), 0);
}

TEST_F(IntegrationsApiTest, HttpLevelErrors) {
  std::string path = kIntegrations + std::string("org_a");
  HttpResult wrong_type = Call("POST", path, token_a_, kSeedBody, {"Content-Type: text/plain"});
  EXPECT_EQ(wrong_type.status, 415);
  EXPECT_EQ(wrong_type.Json().at("name"), "UnsupportedMediaType");

  std::string huge = R"({"type_id":"webhook-http","x":")" + std::string(1 << 20, 'a') + "\"}";
  HttpResult too_big = Call("POST", path, token_a_, huge);
  EXPECT_EQ(too_big.status, 413);

  std::string deep = std::string(65, '[') + std::string(65, ']');
  HttpResult too_deep = Call("POST", path, token_a_, deep);
  EXPECT_EQ(too_deep.status, 400);
  EXPECT_NE(too_deep.body.find("nesting"), std::string::npos);

  EXPECT_EQ(Call("GET", "/v1/nothing-here", token_a_).status, 404);
  HttpResult wrong_method = Call("PUT", path, token_a_, kSeedBody);
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_NE(wrong_method.Header("allow").find("POST"), std::string::npos);
  EXPECT_EQ(Total(token_a_), 0);
  // The server is still healthy after all of that.
  EXPECT_EQ(HttpRequest("GET", Url("/healthz")).status, 200);
}

TEST_F(IntegrationsApiTest, PaginatesWithLimitAndSkip) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(CreateSeed());
  HttpResult r = Call("GET", kIntegrations + std::string("org_a") + "&$limit=2&$skip=1", token_a_);
  ASSERT_EQ(r.status, 200) << r.body;
  json::object o = r.Json().as_object();
  EXPECT_EQ(o.at("total"), 5);
  EXPECT_EQ(o.at("limit"), 2);
  EXPECT_EQ(o.at("skip"), 1);
  ASSERT_EQ(o.at("data").as_array().size(), 2u);
  EXPECT_EQ(o.at("data").as_array()[0].at("id"), json::value(ids[1]));
  EXPECT_EQ(o.at("data").as_array()[1].at("id"), json::value(ids[2]));

  HttpResult defaults = Call("GET", kIntegrations + std::string("org_a"), token_a_);
  EXPECT_EQ(defaults.Json().at("limit"), 100);
  EXPECT_EQ(defaults.Json().at("data").as_array().size(), 5u);
  HttpResult past_end = Call("GET", kIntegrations + std::string("org_a") + "&$skip=10", token_a_);
  EXPECT_EQ(past_end.Json().at("data").as_array().size(), 0u);
  EXPECT_EQ(past_end.Json().at("total"), 5);
  for (const char* bad : {"&$limit=1001", "&$limit=-1", "&$limit=abc", "&$skip=x"}) {
    EXPECT_EQ(Call("GET", kIntegrations + std::string("org_a") + bad, token_a_).status, 400) << bad;
  }
}

TEST_F(IntegrationsApiTest, PatchMergesAndBumpsTheVersion) {
  HttpResult created =
      Call("POST", kIntegrations + std::string("org_a"), token_a_, OAuthBody("keep-me"));
  std::string id(created.Json().at("id").as_string());
  HttpResult r = Call("PATCH", ItemPath(id), token_a_,
                      R"({"enabled":false,"properties":{"url":"https://new.example/hook",
                          "events":["user.updated"],"flatten":true},
                          "authentication":{"client_id":"client-2"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  json::object o = r.Json().as_object();
  EXPECT_EQ(o.at("enabled"), false);
  EXPECT_EQ(o.at("version"), 2);
  EXPECT_EQ(o.at("properties").at("url"), "https://new.example/hook");
  EXPECT_EQ(o.at("properties").at("events"), json::array{"user.updated"});
  EXPECT_EQ(o.at("properties").at("flatten"), true);
  EXPECT_EQ(o.at("authentication").at("client_id"), "client-2");
  EXPECT_EQ(o.at("authentication").at("client_secret"), "********");
  EXPECT_EQ(Call("GET", ItemPath(id), token_a_).Json(), r.Json());

  // Removing a property restores its default; null authentication removes OAuth.
  HttpResult reset = Call("PATCH", ItemPath(id), token_a_,
                          R"({"properties":{"events":null},"authentication":null})");
  ASSERT_EQ(reset.status, 200) << reset.body;
  EXPECT_EQ(reset.Json().at("properties").at("events"), json::array());
  EXPECT_EQ(reset.Json().at("authentication"), json::object());
  EXPECT_EQ(reset.Json().at("version"), 3);
}

TEST_F(IntegrationsApiTest, BadPatchChangesNothing) {
  std::string id = CreateSeed();
  HttpResult before = Call("GET", ItemPath(id), token_a_);
  const char* kBad[] = {
      R"({"type_id":"webhook-s3"})",
      R"({"id":"int_other"})",
      R"({"properties":{"url":"notaurl"}})",
      R"({"properties":{"timeout_ms":0}})",
      R"({"authentication":{"url":"https://t.example/"}})",
      R"({"enabled":"no"})",
      R"({"properties":{"regulations":["ccpa"]}})",
  };
  for (const char* patch : kBad) {
    HttpResult r = Call("PATCH", ItemPath(id), token_a_, patch);
    EXPECT_TRUE(r.status == 400 || r.status == 403) << patch << " -> " << r.status << r.body;
  }
  EXPECT_EQ(Call("GET", ItemPath(id), token_a_).Json(), before.Json());
}

TEST_F(IntegrationsApiTest, DeleteRemovesFromReadsAndList) {
  std::string keep = CreateSeed();
  std::string gone = CreateSeed();
  HttpResult r = Call("DELETE", ItemPath(gone), token_a_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json().at("id"), json::value(gone));
  EXPECT_EQ(Call("GET", ItemPath(gone), token_a_).status, 404);
  EXPECT_EQ(Call("GET", ItemPath(gone, "org_a", "/secret"), token_a_).status, 404);
  EXPECT_EQ(Call("PATCH", ItemPath(gone), token_a_, R"({"enabled":false})").status, 404);
  EXPECT_EQ(Call("DELETE", ItemPath(gone), token_a_).status, 404);
  EXPECT_EQ(Total(token_a_), 1);
  EXPECT_EQ(Call("GET", ItemPath(keep), token_a_).status, 200);
}

TEST_F(IntegrationsApiTest, OrganizationsAreIsolated) {
  ApiKey key_b = CreateKey({"org_b"});
  EnableFeature("org_b", "webhooks");
  std::string token_b = Token(key_b);
  std::string id_a = CreateSeed();

  // B names its own organization: A's integration does not exist for it.
  for (const char* method : {"GET", "PATCH", "DELETE"}) {
    HttpResult r = Call(method, ItemPath(id_a, "org_b"), token_b,
                        std::string(method) == "PATCH" ? R"({"enabled":false})" : "");
    EXPECT_EQ(r.status, 404) << method;
    EXPECT_EQ(r.body.find("api.my-site.com"), std::string::npos);
  }
  EXPECT_EQ(Call("GET", ItemPath(id_a, "org_b", "/secret"), token_b).status, 404);
  EXPECT_EQ(Total(token_b, "org_b"), 0);

  // B names A's organization: forbidden, whatever the route.
  EXPECT_EQ(Call("GET", ItemPath(id_a, "org_a"), token_b).status, 403);
  EXPECT_EQ(Call("GET", ItemPath(id_a, "org_a", "/secret"), token_b).status, 403);
  EXPECT_EQ(Call("GET", kIntegrations + std::string("org_a"), token_b).status, 403);
  EXPECT_EQ(Call("POST", kIntegrations + std::string("org_a"), token_b, kSeedBody).status, 403);
  EXPECT_EQ(Call("DELETE", ItemPath(id_a, "org_a"), token_b).status, 403);

  // A body naming another organization than the query is refused.
  std::string body = R"({"organization_id":"org_b","type_id":"webhook-http",
                         "properties":{"url":"https://h.example/"}})";
  EXPECT_EQ(Call("POST", kIntegrations + std::string("org_a"), token_a_, body).status, 400);
  EXPECT_EQ(Total(token_b, "org_b"), 0);

  // No token, a bad token, no organization.
  HttpResult anonymous = Call("GET", kIntegrations + std::string("org_a"), "");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.Header("www-authenticate").rfind("Bearer", 0), 0u);
  EXPECT_EQ(Call("GET", kIntegrations + std::string("org_a"), "garbage").status, 401);
  EXPECT_EQ(Call("GET", "/v1/marketplace/integrations", token_a_).status, 400);
  EXPECT_EQ(Call("GET", ItemPath(id_a), token_a_).status, 200);
}

TEST_F(IntegrationsApiTest, KeyForTwoOrganizationsSeesBoth) {
  ApiKey both = CreateKey({"org_a", "org_d"});
  EnableFeature("org_d", "webhooks");
  std::string token = Token(both);
  EXPECT_EQ(Call("POST", kIntegrations + std::string("org_d"), token, kSeedBody).status, 201);
  EXPECT_EQ(Call("POST", kIntegrations + std::string("org_a"), token, kSeedBody).status, 201);
  EXPECT_EQ(Total(token, "org_d"), 1);
  EXPECT_EQ(Total(token_a_), 1);
}

TEST_F(IntegrationsApiTest, SessionsRefuseBadCredentials) {
  auto post = [&](const std::string& body) {
    return HttpRequest("POST", Url("/v1/sessions"), body);
  };
  EXPECT_EQ(post(R"({"type":"api-key","key":")" + key_a_.key + R"(","secret":"wrong"})").status,
            401);
  EXPECT_EQ(post(R"({"type":"api-key","key":"key_nope","secret":"x"})").status, 401);
  EXPECT_EQ(post(R"({"type":"password","key":"k","secret":"s"})").status, 400);
  EXPECT_EQ(post(R"({"type":"api-key","key":"k"})").status, 400);
  EXPECT_EQ(post("{").status, 400);
  HttpResult ok = post(R"({"type":"api-key","key":")" + key_a_.key + R"(","secret":")" +
                       key_a_.secret + R"("})");
  ASSERT_EQ(ok.status, 201);
  EXPECT_EQ(ok.Json().at("token_type"), "Bearer");
  EXPECT_EQ(ok.Json().at("expires_in"), 3600);
}

TEST_F(IntegrationsApiTest, ARevocationInAnotherProcessStopsTheKeysSessionsWithinASecond) {
  EXPECT_EQ(Total(token_a_), 0);
  CommandResult revoke = RunRelay({"keys", "revoke", key_a_.key, "--data-dir", DataDir()});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.err;
  // The server caches a key's grant for half a second (auth::kGrantCacheMillis); the margin here
  // is for a slow machine, and the exact bound is AuthServiceTest's.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  int status = 0;
  while ((status = Call("GET", kIntegrations + std::string("org_a"), token_a_).status) == 200 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(status, 401);
  boost::json::object body{{"type", "api-key"}, {"key", key_a_.key}, {"secret", key_a_.secret}};
  EXPECT_EQ(HttpRequest("POST", Url("/v1/sessions"), json::serialize(body)).status, 401);
  CommandResult list = RunRelay({"keys", "list", "--data-dir", DataDir()});
  EXPECT_NE(list.out.find("\"revoked_at\":\"20"), std::string::npos) << list.out;
  EXPECT_EQ(list.out.find(key_a_.secret), std::string::npos);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_F(IntegrationsApiTest, DatabaseFilesHoldNoSecretInPlaintext) {
  const std::string client_secret = "plaintext-client-secret-4242";
  HttpResult created =
      Call("POST", kIntegrations + std::string("org_a"), token_a_, OAuthBody(client_secret));
  ASSERT_EQ(created.status, 201);
  std::string signing = std::string(created.Json().at("signing_secret").as_string());
  std::string signing_b64 = signing.substr(6);
  if (UsingPostgres()) {
    // Every row of every table, as PostgreSQL prints it.
    std::string all;
    for (const char* table : {"integrations", "api_keys", "settings", "messages", "deliveries"}) {
      for (const auto& row : Sql(std::string("SELECT t::text FROM ") + table + " t")) all += row[0];
    }
    EXPECT_NE(all.find("int_"), std::string::npos) << "the dump holds the integration";
    EXPECT_EQ(all.find(client_secret), std::string::npos);
    EXPECT_EQ(all.find(signing_b64), std::string::npos);
    EXPECT_EQ(all.find(key_a_.secret), std::string::npos);
    return;
  }
  int files = 0;
  for (bool stopped : {false, true}) {  // while running (WAL) and after a clean stop
    if (stopped) {
      ASSERT_EQ(server_.Stop(), 0);
    }
    for (const auto& entry : std::filesystem::directory_iterator(DataDir())) {
      if (entry.path().filename() == "master.key") continue;
      std::string bytes = ReadAll(entry.path());
      ++files;
      EXPECT_EQ(bytes.find(client_secret), std::string::npos) << entry.path();
      EXPECT_EQ(bytes.find(signing_b64), std::string::npos) << entry.path();
      EXPECT_EQ(bytes.find(key_a_.secret), std::string::npos) << entry.path();
    }
  }
  EXPECT_GE(files, 2);
}

TEST_F(IntegrationsApiTest, RestartKeepsEverything) {
  HttpResult created =
      Call("POST", kIntegrations + std::string("org_a"), token_a_, OAuthBody("restart-secret"));
  ASSERT_EQ(created.status, 201);
  std::string id(created.Json().at("id").as_string());
  HttpResult before = Call("GET", ItemPath(id), token_a_);
  ASSERT_EQ(server_.Stop(), 0) << "SIGTERM must stop the server cleanly";
  StartServer();
  // The old session token is still valid: same master key, same database.
  HttpResult after = Call("GET", ItemPath(id), token_a_);
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(after.Json(), before.Json());
  HttpResult secret = Call("GET", ItemPath(id, "org_a", "/secret"), token_a_);
  EXPECT_EQ(secret.Json().at("signing_secret"), created.Json().at("signing_secret"));
  EXPECT_EQ(Total(token_a_), 1);
}

}  // namespace
}  // namespace relay::testing
