#include "integrations/integration_service.h"

#include <gtest/gtest.h>

#include "common/json.h"
#include "integrations/features.h"
#include "store/sqlite/sqlite_store.h"
#include "support/process.h"

namespace relay::integrations {
namespace {

constexpr char kOAuth[] = R"({"type_id":"webhook-http","authentication":{
    "url":"https://t.example/token","client_id":"id","client_secret":"first-secret"},
    "properties":{"url":"https://h.example/"}})";

class IntegrationServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(store::SqliteStore::Open(dir_.path() + "/relay.db")).value();
    ASSERT_TRUE(store_->SetOrganizationFeature("acme", kFeatureWebhooks, true, 1).ok());
    service_ = std::make_unique<IntegrationService>(*store_, keyring_, clock_, guard_);
  }
  std::string CreateOAuth() {
    auto created = service_->Create("acme", ParseJson(kOAuth).value());
    EXPECT_TRUE(created.ok()) << created.status().message();
    return created->integration.id;
  }
  std::string Secret(const std::string& id) {
    auto i = service_->GetWithSecrets("acme", id);
    EXPECT_TRUE(i.ok()) << i.status().message();
    return i->spec.oauth ? i->spec.oauth->client_secret : "";
  }
  relay::testing::TempDir dir_;
  Keyring keyring_{std::string(32, 'm')};
  ManualClock clock_{1'700'000'000'000};
  DestinationGuard guard_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<IntegrationService> service_;
};

TEST_F(IntegrationServiceTest, ReadsNeverCarryTheSecretButTheSenderGetsIt) {
  std::string id = CreateOAuth();
  auto plain = service_->Get("acme", id);
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->spec.oauth->client_secret.empty());
  EXPECT_EQ(Secret(id), "first-secret");
}

TEST_F(IntegrationServiceTest, ARotatedSecretSignsAlongsideTheNewOneForExactly24Hours) {
  std::string id = CreateOAuth();
  auto before = service_->LoadForDelivery("acme", id);
  ASSERT_TRUE(before.ok());
  EXPECT_TRUE(before->previous_signing_secret.empty());
  const int64_t rotated_at = clock_.NowMillis();
  auto fresh = service_->RotateSigningSecret("acme", id);
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  clock_.Set(rotated_at + kRotationOverlapMillis - 1);
  auto during = service_->LoadForDelivery("acme", id);
  ASSERT_TRUE(during.ok());
  EXPECT_EQ(during->previous_signing_secret, before->signing_secret);
  EXPECT_NE(during->signing_secret, before->signing_secret);
  EXPECT_EQ(during->previous_expires_at, rotated_at + kRotationOverlapMillis);
  clock_.Set(rotated_at + kRotationOverlapMillis);
  auto after = service_->LoadForDelivery("acme", id);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->previous_signing_secret.empty());
  EXPECT_EQ(after->signing_secret, during->signing_secret);
}

TEST_F(IntegrationServiceTest, PatchKeepsTheSecretWhenOmittedOrMasked) {
  std::string id = CreateOAuth();
  ASSERT_TRUE(service_->Patch("acme", id, ParseJson(R"({"enabled":false})").value()).ok());
  EXPECT_EQ(Secret(id), "first-secret");
  ASSERT_TRUE(service_
                  ->Patch("acme", id,
                          ParseJson(R"({"authentication":{"client_secret":"********",
                                            "client_id":"id2"}})")
                              .value())
                  .ok());
  EXPECT_EQ(Secret(id), "first-secret");
  ASSERT_TRUE(
      service_
          ->Patch("acme", id, ParseJson(R"({"authentication":{"client_secret":"second"}})").value())
          .ok());
  EXPECT_EQ(Secret(id), "second");
}

TEST_F(IntegrationServiceTest, TimestampsComeFromTheClock) {
  std::string id = CreateOAuth();
  clock_.AdvanceMillis(5000);
  auto patched = service_->Patch("acme", id, ParseJson(R"({"enabled":false})").value());
  ASSERT_TRUE(patched.ok());
  EXPECT_EQ(patched->created_at, 1'700'000'000'000);
  EXPECT_EQ(patched->updated_at, 1'700'000'005'000);
}

TEST_F(IntegrationServiceTest, SealedSecretsAreBoundToTheirIntegration) {
  std::string a = CreateOAuth();
  std::string b = CreateOAuth();
  auto row_a = store_->GetIntegration("acme", a);
  auto row_b = store_->GetIntegration("acme", b);
  ASSERT_TRUE(row_a.ok() && row_b.ok());
  // Moving A's sealed secret into B's row must not decrypt as B's secret.
  store::IntegrationRow moved = *row_b;
  moved.client_secret_sealed = row_a->client_secret_sealed;
  moved.version = row_b->version + 1;
  ASSERT_TRUE(store_->UpdateIntegration(moved, row_b->version).ok());
  EXPECT_EQ(service_->GetWithSecrets("acme", b).status().code(), StatusCode::kInternal);
}

TEST_F(IntegrationServiceTest, RefusesLiteralInternalAddresses) {
  for (const char* url :
       {"http://127.0.0.1:8080/", "http://[::1]/", "http://169.254.169.254/", "http://2130706433/",
        "http://0177.0.0.1/", "http://127.1/", "http://[::ffff:127.0.0.1]/", "http://10.0.0.8/"}) {
    std::string body =
        std::string(R"({"type_id":"webhook-http","properties":{"url":")") + url + "\"}}";
    auto created = service_->Create("acme", ParseJson(body).value());
    ASSERT_FALSE(created.ok()) << url;
    EXPECT_EQ(created.status().field_errors().count("properties.url"), 1u) << url;
  }
  auto token_inside = service_->Create(
      "acme", ParseJson(R"({"type_id":"webhook-http","authentication":{"url":"http://127.0.0.1/t",
          "client_id":"a","client_secret":"b"},"properties":{"url":"https://h.example/"}})")
                  .value());
  EXPECT_EQ(token_inside.status().field_errors().count("authentication.url"), 1u);
  DestinationGuard open({*ParseCidr("127.0.0.0/8")});
  IntegrationService allowing(*store_, keyring_, clock_, open);
  EXPECT_TRUE(allowing
                  .Create("acme", ParseJson(R"({"type_id":"webhook-http",
                              "properties":{"url":"http://127.0.0.1:9/"}})")
                                      .value())
                  .ok());
}

TEST_F(IntegrationServiceTest, DisablingWebhooksKeepsExistingIntegrations) {
  std::string id = CreateOAuth();
  ASSERT_TRUE(store_->SetOrganizationFeature("acme", kFeatureWebhooks, false, 2).ok());
  EXPECT_TRUE(service_->Get("acme", id).ok());
  EXPECT_EQ(service_->Create("acme", ParseJson(kOAuth).value()).status().code(),
            StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace relay::integrations
