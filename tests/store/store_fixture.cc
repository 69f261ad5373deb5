#include "store/store_fixture.h"

#include "store/postgres/pg_store.h"
#include "store/sqlite/sqlite_store.h"
#include "support/postgres.h"
#include "support/raw_sql.h"

namespace relay::testing {

std::string StoreBackendName(const ::testing::TestParamInfo<StoreBackend>& info) {
  return info.param == StoreBackend::kPostgres ? "postgres" : "sqlite";
}

// The fixture's own tests (outbox_leases_test.cc, write_faults_test.cc) on both backends.
RELAY_STORE_SUITE(StoreTest);

void StoreTest::SetUp() {
  if (GetParam() == StoreBackend::kPostgres) {
    if (!UsingPostgres()) GTEST_SKIP() << "no PostgreSQL cluster given (ctest starts one)";
    url_ = CreateDatabase(PostgresBaseUrl());
    auto opened = store::PgStore::Open(url_, 4);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    pg_ = opened->get();
    store_ = std::move(*opened);
  } else {
    url_ = dir_.path() + "/relay.db";
    auto opened = store::SqliteStore::Open(url_);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    store_ = std::move(*opened);
  }
}

void StoreTest::TearDown() { store_.reset(); }

std::vector<std::vector<std::string>> StoreTest::Query(const std::string& sql) {
  return RawSql(url_, sql);
}

std::unique_ptr<store::Store> StoreTest::OpenAnother() {
  if (postgres()) {
    auto opened = store::PgStore::Open(url_, 4);
    EXPECT_TRUE(opened.ok()) << opened.status().message();
    return opened.ok() ? std::move(*opened) : nullptr;
  }
  auto opened = store::SqliteStore::Open(url_);
  EXPECT_TRUE(opened.ok()) << opened.status().message();
  return opened.ok() ? std::move(*opened) : nullptr;
}

void StoreTest::PutIntegration(const std::string& org, const std::string& id) {
  store::IntegrationRow row;
  row.id = id;
  row.organization_id = org;
  row.type_id = "webhook-http";
  row.authentication_json = "{}";
  row.properties_json = R"({"url":"https://example.com/hook"})";
  row.created_at = row.updated_at = 1;
  Status s = store_->CreateIntegration(row);
  ASSERT_TRUE(s.ok()) << s.message();
}

void StoreTest::PutMessage(const std::string& org, const std::string& message_id,
                           const std::vector<std::string>& integrations, int64_t due,
                           const std::string& ordering_key) {
  Status s = store_->Write([&](store::WriteTransaction& txn) {
    store::MessageRow m{message_id, org, "event.created", "gdpr", ordering_key, "{}", due, ""};
    std::vector<store::DeliveryRow> deliveries;
    for (const auto& integration : integrations) {
      store::DeliveryRow d;
      d.id = "dlv_" + message_id + "_" + integration;
      d.organization_id = org;
      d.integration_id = integration;
      d.next_attempt_at = due;
      d.created_at = due;
      deliveries.push_back(std::move(d));
    }
    return txn.InsertMessage(m, deliveries);
  });
  ASSERT_TRUE(s.ok()) << s.message();
}

}  // namespace relay::testing
