// The IntegrationStore role, on both backends.
#include <gtest/gtest.h>

#include "store/store_fixture.h"

namespace relay::store {
namespace {

class IntegrationStoreTest : public relay::testing::StoreTest {
 protected:
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
  // Integrations rows still holding a sealed secret, read straight from the database.
  int64_t RawSecretsLeft() {
    auto rows = Query(
        "SELECT count(*) FROM integrations WHERE client_secret IS NOT NULL OR signing_secret IS "
        "NOT NULL");
    return rows.empty() ? -1 : std::stoll(rows[0][0]);
  }
};

TEST_P(IntegrationStoreTest, IntegrationsAreScopedToTheirOrganization) {
  auto& store = store_;
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

TEST_P(IntegrationStoreTest, DuplicateIdIsAConflict) {
  auto& store = store_;
  ASSERT_TRUE(store->CreateIntegration(Row("int_a", "org_a", 1)).ok());
  EXPECT_EQ(store->CreateIntegration(Row("int_a", "org_a", 2)).code(), StatusCode::kConflict);
}

TEST_P(IntegrationStoreTest, UpdateChecksTheVersion) {
  auto& store = store_;
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

TEST_P(IntegrationStoreTest, ListPaginatesOldestFirst) {
  auto& store = store_;
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

TEST_P(IntegrationStoreTest, DeleteHidesTheRowAndErasesItsSecrets) {
  auto& store = store_;
  IntegrationRow row = Row("int_a", "org_a", 1);
  row.client_secret_sealed = "sealed-client-secret";
  ASSERT_TRUE(store->CreateIntegration(row).ok());
  ASSERT_TRUE(store->DeleteIntegration("org_a", "int_a", 5).ok());
  EXPECT_EQ(store->GetIntegration("org_a", "int_a").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->DeleteIntegration("org_a", "int_a", 6).code(), StatusCode::kNotFound);
  EXPECT_EQ(RawSecretsLeft(), 0) << "both sealed secrets are erased, not only hidden";
}

RELAY_STORE_SUITE(IntegrationStoreTest);

}  // namespace
}  // namespace relay::store
