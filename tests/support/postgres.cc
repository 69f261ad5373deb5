#include "support/postgres.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>

namespace relay::testing {

std::string PostgresBaseUrl() {
  if (const char* url = std::getenv("RELAY_TEST_POSTGRES"); url && *url) return url;
  const char* file = std::getenv("RELAY_TEST_POSTGRES_FILE");
  if (!file || !*file) return "";
  std::ifstream in(file);
  std::string url;
  std::getline(in, url);
  return url;
}

bool UsingPostgres() { return !PostgresBaseUrl().empty(); }

std::string CreateDatabase(const std::string& base_url) {
  static std::atomic<int> counter{0};
  std::string name = "relay_t" + std::to_string(getpid()) + "_" + std::to_string(++counter);
  PGconn* c = PQconnectdb(base_url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    ADD_FAILURE() << "cannot reach the test cluster: " << PQerrorMessage(c);
    PQfinish(c);
    return "";
  }
  PGresult* r = PQexec(c, ("CREATE DATABASE " + name).c_str());
  if (PQresultStatus(r) != PGRES_COMMAND_OK) ADD_FAILURE() << PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
  // The base URL ends in "/postgres": swap the database name.
  return base_url.substr(0, base_url.rfind('/') + 1) + name;
}

}  // namespace relay::testing
