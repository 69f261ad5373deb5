// A fixture for tests of the Store itself, in process: each test gets an empty store of the
// backend the suite runs against — SQLite in a temporary directory, or (when the ctest fixture
// names a PostgreSQL cluster, support/postgres.h) a fresh database there. The same tests run on
// both: what one backend promises, the other must keep.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "store/store.h"
#include "support/process.h"

namespace relay::store {
class PgStore;
}

namespace relay::testing {

class StoreTest : public ::testing::Test {
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

}  // namespace relay::testing
