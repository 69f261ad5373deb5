#include "e2e/api_fixture.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>

#include "support/postgres.h"

namespace relay::testing {

ApiFixture::ApiFixture() {
  if (UsingPostgres()) {
    setenv("CONSENT_RELAY_DATABASE", CreateDatabase(PostgresBaseUrl()).c_str(), 1);
  }
}

ApiFixture::~ApiFixture() { unsetenv("CONSENT_RELAY_DATABASE"); }

std::vector<std::vector<std::string>> ApiFixture::Sql(const std::string& sql) {
  std::vector<std::vector<std::string>> rows;
  if (UsingPostgres()) {
    PGconn* c = PQconnectdb(std::getenv("CONSENT_RELAY_DATABASE"));
    PGresult* r = PQexec(c, sql.c_str());
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      ADD_FAILURE() << sql << ": " << PQresultErrorMessage(r) << PQerrorMessage(c);
    }
    for (int i = 0; i < PQntuples(r); ++i) {
      rows.emplace_back();
      for (int j = 0; j < PQnfields(r); ++j) rows.back().emplace_back(PQgetvalue(r, i, j));
    }
    PQclear(r);
    PQfinish(c);
    return rows;
  }
  sqlite3* db = nullptr;
  if (sqlite3_open((DataDir() + "/relay.db").c_str(), &db) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << DataDir() << "/relay.db";
    sqlite3_close(db);
    return rows;
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
  }
  while (stmt && sqlite3_step(stmt) == SQLITE_ROW) {
    rows.emplace_back();
    for (int j = 0; j < sqlite3_column_count(stmt); ++j) {
      const unsigned char* text = sqlite3_column_text(stmt, j);
      rows.back().emplace_back(text ? reinterpret_cast<const char*>(text) : "");
    }
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
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
