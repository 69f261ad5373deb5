// The AccountStore role, on both backends: settings, API keys and their grants, organizations.
#include <gtest/gtest.h>

#include "store/store_fixture.h"

namespace relay::store {
namespace {

using AccountStoreTest = relay::testing::StoreTest;

TEST_P(AccountStoreTest, KeysAndFeaturesRoundTrip) {
  auto& store = store_;
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

TEST_P(AccountStoreTest, SettingsKeepTheFirstValue) {
  auto& store = store_;
  EXPECT_FALSE(store->GetSetting("s")->has_value());
  EXPECT_EQ(*store->PutSettingIfAbsent("s", "one"), "one");
  EXPECT_EQ(*store->PutSettingIfAbsent("s", "two"), "one");
  EXPECT_EQ(**store->GetSetting("s"), "one");
}

TEST_P(AccountStoreTest, AKeysGrantIsOneLookupPerOrganization) {
  ApiKeyRow key{"key_1", "ci", "hash", {"org_a", "org_b"}, 10, std::nullopt};
  ASSERT_TRUE(store_->CreateApiKey(key).ok());
  auto a = store_->GetKeyGrant("key_1", "org_a");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_TRUE(a->member);
  EXPECT_FALSE(a->revoked);
  EXPECT_FALSE(store_->GetKeyGrant("key_1", "org_c")->member);
  EXPECT_FALSE(store_->GetKeyGrant("key_1", "")->member);
  EXPECT_EQ(store_->GetKeyGrant("key_x", "org_a").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->RevokeApiKey("key_1", 20).ok());
  auto revoked = store_->GetKeyGrant("key_1", "org_a");
  ASSERT_TRUE(revoked.ok());
  EXPECT_TRUE(revoked->revoked);
}

TEST_P(AccountStoreTest, KeysListInCreationOrderWithTheirOrganizationsNeverTheirHash) {
  ASSERT_TRUE(store_->CreateApiKey({"key_2", "second", "h2", {"org_b"}, 20, std::nullopt}).ok());
  ASSERT_TRUE(
      store_->CreateApiKey({"key_1", "first", "h1", {"org_b", "org_a"}, 10, std::nullopt}).ok());
  EXPECT_EQ(store_->CreateApiKey({"key_1", "again", "h", {"org_a"}, 30, std::nullopt}).code(),
            StatusCode::kConflict);
  auto keys = store_->ListApiKeys();
  ASSERT_TRUE(keys.ok()) << keys.status().message();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].id, "key_1");
  EXPECT_EQ((*keys)[0].organizations, (std::vector<std::string>{"org_a", "org_b"}));
  EXPECT_TRUE((*keys)[0].secret_hash.empty());
  EXPECT_EQ((*keys)[1].name, "second");
}

RELAY_STORE_SUITE(AccountStoreTest);

}  // namespace
}  // namespace relay::store
