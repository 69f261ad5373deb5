#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "support/process.h"

namespace relay::store {
namespace {

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::string Path() const { return dir_.path() + "/relay.db"; }
  std::unique_ptr<SqliteStore> OpenOrDie() {
    auto store = SqliteStore::Open(Path());
    EXPECT_TRUE(store.ok()) << store.status().message();
    return std::move(store).value();
  }
  IntegrationRow Row(const std::string& id, const std::string& org, int64_t at) {
    IntegrationRow row;
    row.id = id;
    row.organization_id = org;
    row.type_id = "webhook-http";
    row.authentication_json = "{}";
    row.properties_json = "{\"url\":\"https://h.example/\"}";
    row.signing_secret_sealed = "sealed";
    row.created_at = row.updated_at = at;
    return row;
  }
  relay::testing::TempDir dir_;
};

TEST_F(SqliteStoreTest, MigratesANewDatabaseToTheLatestVersion) {
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

TEST_F(SqliteStoreTest, RefusesADatabaseFromANewerBinary) {
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

TEST_F(SqliteStoreTest, RefusesAFileThatIsNotADatabase) {
  FILE* f = fopen(Path().c_str(), "w");
  fputs("this is not sqlite, just text that is long enough to look like a header......", f);
  fclose(f);
  auto store = SqliteStore::Open(Path());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("not a database"), std::string::npos)
      << store.status().message();
}

TEST_F(SqliteStoreTest, IntegrationsAreScopedToTheirOrganization) {
  auto store = OpenOrDie();
  ASSERT_TRUE(store->CreateIntegration(Row("int_a", "org_a", 1)).ok());
  EXPECT_TRUE(store->GetIntegration("org_a", "int_a").ok());
  EXPECT_EQ(store->GetIntegration("org_b", "int_a").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->DeleteIntegration("org_b", "int_a", 2).code(), StatusCode::kNotFound);
  auto page = store->ListIntegrations("org_b", PageRequest{});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 0);
  IntegrationRow other = Row("int_a", "org_b", 3);
  EXPECT_EQ(store->UpdateIntegration(other, 1).code(), StatusCode::kConflict);
}

TEST_F(SqliteStoreTest, DuplicateIdIsAConflict) {
  auto store = OpenOrDie();
  ASSERT_TRUE(store->CreateIntegration(Row("int_a", "org_a", 1)).ok());
  EXPECT_EQ(store->CreateIntegration(Row("int_a", "org_a", 2)).code(), StatusCode::kConflict);
}

TEST_F(SqliteStoreTest, UpdateChecksTheVersion) {
  auto store = OpenOrDie();
  ASSERT_TRUE(store->CreateIntegration(Row("int_a", "org_a", 1)).ok());
  IntegrationRow next = Row("int_a", "org_a", 1);
  next.version = 2;
  next.enabled = false;
  ASSERT_TRUE(store->UpdateIntegration(next, 1).ok());
  EXPECT_EQ(store->UpdateIntegration(next, 1).code(), StatusCode::kConflict);
  auto got = store->GetIntegration("org_a", "int_a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->version, 2);
  EXPECT_FALSE(got->enabled);
}

TEST_F(SqliteStoreTest, ListPaginatesOldestFirst) {
  auto store = OpenOrDie();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store->CreateIntegration(Row("int_" + std::to_string(i), "org", 100 + i)).ok());
  }
  auto page = store->ListIntegrations("org", PageRequest{2, 1});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 5);
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].id, "int_1");
  EXPECT_EQ(page->items[1].id, "int_2");
}

TEST_F(SqliteStoreTest, DeleteHidesTheRowAndErasesItsSecrets) {
  auto store = OpenOrDie();
  IntegrationRow row = Row("int_a", "org_a", 1);
  row.client_secret_sealed = "sealed-client-secret";
  ASSERT_TRUE(store->CreateIntegration(row).ok());
  ASSERT_TRUE(store->DeleteIntegration("org_a", "int_a", 5).ok());
  EXPECT_EQ(store->GetIntegration("org_a", "int_a").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->DeleteIntegration("org_a", "int_a", 6).code(), StatusCode::kNotFound);
  store.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(Path().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT client_secret IS NULL AND signing_secret IS NULL FROM integrations",
                     -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 1);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(SqliteStoreTest, KeysAndFeaturesRoundTrip) {
  auto store = OpenOrDie();
  ApiKeyRow key{"key_1", "ci", "hash", {"org_a", "org_b"}, 10, std::nullopt};
  ASSERT_TRUE(store->CreateApiKey(key).ok());
  auto got = store->GetApiKey("key_1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->organizations, (std::vector<std::string>{"org_a", "org_b"}));
  EXPECT_FALSE(got->revoked_at.has_value());
  ASSERT_TRUE(store->RevokeApiKey("key_1", 20).ok());
  ASSERT_TRUE(store->RevokeApiKey("key_1", 30).ok());
  EXPECT_EQ(store->GetApiKey("key_1")->revoked_at, 20);
  EXPECT_EQ(store->RevokeApiKey("key_x", 30).code(), StatusCode::kNotFound);

  ASSERT_TRUE(store->SetOrganizationFeature("org_a", "webhooks", true, 1).ok());
  EXPECT_EQ(store->GetOrganizationFeatures("org_a")->count("webhooks"), 1u);
  ASSERT_TRUE(store->SetOrganizationFeature("org_a", "webhooks", false, 2).ok());
  EXPECT_TRUE(store->GetOrganizationFeatures("org_a")->empty());
  auto orgs = store->ListOrganizations();
  ASSERT_TRUE(orgs.ok());
  EXPECT_EQ(orgs->size(), 2u);
}

TEST_F(SqliteStoreTest, SettingsKeepTheFirstValue) {
  auto store = OpenOrDie();
  EXPECT_FALSE(store->GetSetting("s")->has_value());
  EXPECT_EQ(*store->PutSettingIfAbsent("s", "one"), "one");
  EXPECT_EQ(*store->PutSettingIfAbsent("s", "two"), "one");
  EXPECT_EQ(**store->GetSetting("s"), "one");
}

}  // namespace
}  // namespace relay::store
