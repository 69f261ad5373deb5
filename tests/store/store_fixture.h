// A fixture for tests of the store itself, in process: each test gets an empty store of its
// backend (the test parameter) — SQLite in a temporary directory, or a fresh database on the
// PostgreSQL cluster ctest names (support/postgres.h). The same tests run on both: what one
// backend promises, the other must keep.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "store/store.h"
#include "support/process.h"

namespace relay::store {
class PgStore;
}

namespace relay::testing {

enum class StoreBackend { kSqlite, kPostgres };
inline void PrintTo(StoreBackend backend, std::ostream* os) {
  *os << (backend == StoreBackend::kPostgres ? "postgres" : "sqlite");
}

// Every store suite runs once per backend: TEST_P(Suite, ...) and RELAY_STORE_SUITE(Suite) give
// "Backends/Suite.Test/sqlite" and ".../postgres". The PostgreSQL ones skip when no cluster is
// given (ctest starts one, scripts/pg-test-cluster).
// Outcomes recorded without the circuit breaker or auto-disable: for tests of other rules.
inline const store::HealthPolicy kNoBreaker{0, 30'000, 600'000, 0};

class StoreTest : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override;
  void TearDown() override;

  bool postgres() const { return pg_ != nullptr; }
  // SQL straight on the store's database (support/raw_sql.h).
  std::vector<std::vector<std::string>> Query(const std::string& sql);
  // A second store on the same database: another node (PostgreSQL) or another process's
  // connection (SQLite).
  std::unique_ptr<store::Store> OpenAnother();
  // An integration of `org` (enabled) with nothing sealed: enough for the outbox to fan out to.
  void PutIntegration(const std::string& org, const std::string& id);
  // One message with one delivery per integration, due at `due`.
  void PutMessage(const std::string& org, const std::string& message_id,
                  const std::vector<std::string>& integrations, int64_t due,
                  const std::string& ordering_key = "usr_1");

  TempDir dir_;
  std::string url_;  // the PostgreSQL database, or the SQLite file
  std::unique_ptr<store::Store> store_;
  store::PgStore* pg_ = nullptr;  // store_, when it is PostgreSQL
};

std::string StoreBackendName(const ::testing::TestParamInfo<StoreBackend>& info);

}  // namespace relay::testing

#define RELAY_STORE_SUITE(suite)                                                         \
  INSTANTIATE_TEST_SUITE_P(Backends, suite,                                              \
                           ::testing::Values(::relay::testing::StoreBackend::kSqlite,    \
                                             ::relay::testing::StoreBackend::kPostgres), \
                           ::relay::testing::StoreBackendName)
