// A fixture that runs the real consent-relay binary: CLI for keys and features, a server on a
// free port, and helpers to call the API over HTTP.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "support/http_client.h"
#include "support/postgres.h"
#include "support/process.h"

namespace relay::testing {

struct ApiKey {
  std::string key;
  std::string secret;
};

// When the suite runs against PostgreSQL (UsingPostgres(), support/postgres.h), every ApiFixture
// gets a database of its own there, handed to the CLI and the server through
// CONSENT_RELAY_DATABASE. Tests of the SQLite file itself skip.

class ApiFixture : public ::testing::Test {
 protected:
  ApiFixture();
  ~ApiFixture() override;

  std::string DataDir() const { return dir_.path() + "/data"; }

  // `keys create` through the CLI; fails the test if it does not print {"key","secret"}.
  ApiKey CreateKey(const std::vector<std::string>& orgs);
  void EnableFeature(const std::string& org, const std::string& feature);
  void StartServer(const std::vector<std::string>& extra_args = {},
                   const std::vector<std::string>& env = {});
  // POST /v1/sessions; returns the access token.
  std::string Token(const ApiKey& key);

  // Runs SQL on the store's database, whichever backend (the SQLite file or this test's PostgreSQL
  // database): the rows, each column as text ("" for NULL). Fails the test on an error.
  std::vector<std::vector<std::string>> Sql(const std::string& sql);

  std::string Url(const std::string& path) const { return server_.base_url() + path; }
  HttpResult Call(const std::string& method, const std::string& path, const std::string& token,
                  const std::string& body = "", std::vector<std::string> headers = {});

  TempDir dir_;
  ServerProcess server_;
};

// The seed page's first body, byte for byte.
inline constexpr char kSeedBody[] = R"({
  "type_id": "webhook-http",
  "authentication": {},
  "properties": {
    "url": "https://api.my-site.com/consents"
  }
}
)";

// The seed page's second body as published: the authentication object is never closed.
inline constexpr char kSeedBrokenOAuthBody[] = R"({
  "type_id": "webhook-http",
  "authentication": {
    "url": "https://api.my-site.com/oauth/token",
    "client_id": "***************",
    "client_secret": "******************"
  "properties": {
    "url": "https://api.my-site.com/consents"
  }
}
)";

}  // namespace relay::testing
