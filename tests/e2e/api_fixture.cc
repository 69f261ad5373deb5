#include "e2e/api_fixture.h"

#include <unistd.h>

#include <cstdlib>

#include "support/postgres.h"
#include "support/raw_sql.h"

namespace relay::testing {

ApiFixture::ApiFixture() {
  if (UsingPostgres()) {
    setenv("CONSENT_RELAY_DATABASE", CreateDatabase(PostgresBaseUrl()).c_str(), 1);
  }
}

ApiFixture::~ApiFixture() { unsetenv("CONSENT_RELAY_DATABASE"); }

std::vector<std::vector<std::string>> ApiFixture::Sql(const std::string& sql) {
  return RawSql(UsingPostgres() ? std::getenv("CONSENT_RELAY_DATABASE") : DataDir() + "/relay.db",
                sql);
}

ApiKey ApiFixture::CreateKey(const std::vector<std::string>& orgs) {
  std::vector<std::string> args = {"keys", "create", "--data-dir", DataDir()};
  for (const auto& o : orgs) {
    args.push_back("--organization");
    args.push_back(o);
  }
  CommandResult r = RunRelay(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  boost::system::error_code ec;
  auto v = boost::json::parse(r.out, ec);
  if (ec || !v.is_object()) {
    ADD_FAILURE() << "keys create printed: " << r.out;
    return {};
  }
  return ApiKey{std::string(v.at("key").as_string()), std::string(v.at("secret").as_string())};
}

void ApiFixture::EnableFeature(const std::string& org, const std::string& feature) {
  CommandResult r =
      RunRelay({"orgs", "enable", org, "--feature", feature, "--data-dir", DataDir()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

void ApiFixture::StartServer(const std::vector<std::string>& extra_args,
                             const std::vector<std::string>& env) {
  std::vector<std::string> args = {"--data-dir", DataDir()};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  ASSERT_TRUE(server_.Start(args, env)) << server_.error();
}

std::string ApiFixture::Token(const ApiKey& key) {
  boost::json::object body{{"type", "api-key"}, {"key", key.key}, {"secret", key.secret}};
  HttpResult r = HttpRequest("POST", Url("/v1/sessions"), boost::json::serialize(body));
  EXPECT_EQ(r.status, 201) << r.body;
  auto v = r.Json();
  if (!v.is_object() || !v.as_object().contains("access_token")) return "";
  return std::string(v.at("access_token").as_string());
}

HttpResult ApiFixture::Call(const std::string& method, const std::string& path,
                            const std::string& token, const std::string& body,
                            std::vector<std::string> headers) {
  if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
  return HttpRequest(method, Url(path), body, headers);
}

}  // namespace relay::testing
