// The SQLite backend's own file: migrations, and files it must refuse.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "store/sqlite/sqlite_schema.h"
#include "store/sqlite/sqlite_store.h"
#include "support/process.h"

namespace relay::store {
namespace {

class SqliteFileTest : public ::testing::Test {
 protected:
  std::string Path() const { return dir_.path() + "/relay.db"; }
  std::unique_ptr<SqliteStore> OpenOrDie() {
    auto store = SqliteStore::Open(Path());
    EXPECT_TRUE(store.ok()) << store.status().message();
    return std::move(store).value();
  }
  relay::testing::TempDir dir_;
};

TEST_F(SqliteFileTest, MigratesANewDatabaseToTheLatestVersion) {
  OpenOrDie();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(Path().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), SqliteSchemaVersion());
  sqlite3_finalize(stmt);
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  // Opening again is a no-op migration.
  OpenOrDie();
}

TEST_F(SqliteFileTest, RefusesADatabaseFromANewerBinary) {
  OpenOrDie();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(Path().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 999", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto store = SqliteStore::Open(Path());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("version 999"), std::string::npos)
      << store.status().message();
}

TEST_F(SqliteFileTest, RefusesAFileThatIsNotADatabase) {
  FILE* f = fopen(Path().c_str(), "w");
  fputs("this is not sqlite, just text that is long enough to look like a header......", f);
  fclose(f);
  auto store = SqliteStore::Open(Path());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("not a database"), std::string::npos)
      << store.status().message();
}

}  // namespace
}  // namespace relay::store
