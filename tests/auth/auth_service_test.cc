#include "auth/auth_service.h"

#include <gtest/gtest.h>

#include "store/sqlite/sqlite_store.h"
#include "support/process.h"

namespace relay::auth {
namespace {

class AuthServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(store::SqliteStore::Open(dir_.path() + "/relay.db")).value();
    auth_ = std::make_unique<AuthService>(*store_, keyring_, clock_);
  }
  relay::testing::TempDir dir_;
  Keyring keyring_{std::string(32, 'm')};
  ManualClock clock_{1'700'000'000'000};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<AuthService> auth_;
};

TEST_F(AuthServiceTest, SessionAuthenticatesUntilItExpires) {
  auto key = auth_->CreateApiKey({"acme"}, "test");
  ASSERT_TRUE(key.ok());
  auto session = auth_->CreateSession(key->key, key->secret, "addr");
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(session->expires_in, 3600);
  auto principal = auth_->Authenticate("Bearer " + session->access_token);
  ASSERT_TRUE(principal.ok()) << principal.status().message();
  EXPECT_TRUE(principal->CheckOrganization("acme").ok());
  EXPECT_EQ(principal->CheckOrganization("other").code(), StatusCode::kPermissionDenied);
  clock_.AdvanceMillis(3600 * 1000);
  EXPECT_EQ(auth_->Authenticate("Bearer " + session->access_token).status().code(),
            StatusCode::kUnauthenticated);
}

TEST_F(AuthServiceTest, WrongSecretUnknownKeyAndRevokedKeyLookTheSame) {
  auto key = auth_->CreateApiKey({"acme"}, "");
  ASSERT_TRUE(key.ok());
  auto wrong = auth_->CreateSession(key->key, key->secret + "x", "addr");
  auto unknown = auth_->CreateSession("key_nope", key->secret, "addr");
  EXPECT_EQ(wrong.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(wrong.status().message(), unknown.status().message());
  auto session = auth_->CreateSession(key->key, key->secret, "addr");
  ASSERT_TRUE(session.ok());
  ASSERT_TRUE(store_->RevokeApiKey(key->key, clock_.NowMillis()).ok());
  EXPECT_EQ(auth_->CreateSession(key->key, key->secret, "addr").status().message(),
            wrong.status().message());
  EXPECT_EQ(auth_->Authenticate("Bearer " + session->access_token).status().code(),
            StatusCode::kUnauthenticated);
}

TEST_F(AuthServiceTest, FailedSignInsAreRateLimitedPerKeyAndPerAddress) {
  auto key = auth_->CreateApiKey({"acme"}, "");
  ASSERT_TRUE(key.ok());
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(
        auth_->CreateSession(key->key, "wrong", "10.0.0." + std::to_string(i)).status().code(),
        StatusCode::kUnauthenticated);
  }
  // The key is now locked, whatever the address, even with the right secret.
  auto locked = auth_->CreateSession(key->key, key->secret, "10.9.9.9");
  EXPECT_EQ(locked.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(locked.status().retry_after_seconds(), 60);
  clock_.AdvanceMillis(30'000);
  EXPECT_EQ(auth_->CreateSession(key->key, key->secret, "10.9.9.9").status().retry_after_seconds(),
            30);
  clock_.AdvanceMillis(30'001);
  EXPECT_TRUE(auth_->CreateSession(key->key, key->secret, "10.9.9.9").ok());

  // One address guessing many keys is locked too.
  for (int i = 0; i < 10; ++i) {
    (void)auth_->CreateSession("key_guess" + std::to_string(i), "x", "192.0.2.1");
  }
  EXPECT_EQ(auth_->CreateSession(key->key, key->secret, "192.0.2.1").status().code(),
            StatusCode::kResourceExhausted);
  EXPECT_TRUE(auth_->CreateSession(key->key, key->secret, "192.0.2.2").ok());
}

TEST_F(AuthServiceTest, StoresOnlyAHashOfTheSecret) {
  auto key = auth_->CreateApiKey({"acme"}, "");
  ASSERT_TRUE(key.ok());
  auto row = store_->GetApiKey(key->key);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->secret_hash.size(), 32u);
  EXPECT_EQ(row->secret_hash.find(key->secret), std::string::npos);
}

TEST_F(AuthServiceTest, RefusesBadOrganizationIdsAndHeaders) {
  EXPECT_FALSE(auth_->CreateApiKey({}, "").ok());
  EXPECT_FALSE(auth_->CreateApiKey({"has space"}, "").ok());
  EXPECT_FALSE(auth_->CreateApiKey({std::string(65, 'a')}, "").ok());
  EXPECT_FALSE(auth_->Authenticate("").ok());
  EXPECT_FALSE(auth_->Authenticate("Basic abc").ok());
  EXPECT_FALSE(auth_->Authenticate("Bearer not-a-jwt").ok());
}

}  // namespace
}  // namespace relay::auth
