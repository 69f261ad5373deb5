#include "delivery/token_cache.h"

#include <gtest/gtest.h>

namespace relay::delivery {
namespace {

AccessToken Token(const std::string& value, std::optional<int64_t> expires_in) {
  return AccessToken{value, expires_in};
}

class TokenCacheTest : public ::testing::Test {
 protected:
  ManualClock clock_{1'000'000};
  TokenCache cache_{clock_};
};

TEST_F(TokenCacheTest, ATokenIsReusedUntilExpiresInLessTheMargin) {
  EXPECT_FALSE(cache_.Find("int_1", "fp"));
  ASSERT_TRUE(cache_.AddWaiter("int_1", "fp", 7));
  EXPECT_EQ(cache_.Fetched("int_1", "fp", Token("t1", 60)), std::vector<int64_t>{7});
  EXPECT_EQ(cache_.Find("int_1", "fp"), "t1");
  clock_.AdvanceMillis(60'000 - kTokenExpiryMarginMillis - 1);
  EXPECT_EQ(cache_.Find("int_1", "fp"), "t1");
  clock_.AdvanceMillis(1);
  EXPECT_FALSE(cache_.Find("int_1", "fp"));
}

TEST_F(TokenCacheTest, WithoutExpiresInATokenLivesTheDefaultLifetime) {
  ASSERT_TRUE(cache_.AddWaiter("int_1", "fp", 1));
  cache_.Fetched("int_1", "fp", Token("t1", std::nullopt));
  clock_.AdvanceMillis(kDefaultTokenLifetimeMillis - 1);
  EXPECT_EQ(cache_.Find("int_1", "fp"), "t1");
  clock_.AdvanceMillis(1);
  EXPECT_FALSE(cache_.Find("int_1", "fp"));
}

TEST_F(TokenCacheTest, OneFetchAtATimeServesEveryWaiterInOrder) {
  EXPECT_TRUE(cache_.AddWaiter("int_1", "fp", 1));
  EXPECT_FALSE(cache_.AddWaiter("int_1", "fp", 2));
  EXPECT_FALSE(cache_.AddWaiter("int_1", "fp", 3));
  EXPECT_TRUE(cache_.AddWaiter("int_2", "fp", 4)) << "integrations fetch independently";
  EXPECT_EQ(cache_.Fetched("int_1", "fp", Token("t", 60)), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_TRUE(cache_.AddWaiter("int_1", "fp", 5)) << "the next fetch may start";
}

TEST_F(TokenCacheTest, AChangedConfigurationDropsTheTokenAndAStaleFetchIsNotCached) {
  ASSERT_TRUE(cache_.AddWaiter("int_1", "fp-old", 1));
  cache_.Fetched("int_1", "fp-old", Token("t-old", 3600));
  EXPECT_FALSE(cache_.Find("int_1", "fp-new")) << "another configuration's token is not ours";
  EXPECT_FALSE(cache_.Find("int_1", "fp-old")) << "and it is gone for good";
  // A fetch started under the old configuration ends after the change: its waiters get it, the
  // cache does not keep it.
  ASSERT_TRUE(cache_.AddWaiter("int_1", "fp-new", 2));
  EXPECT_FALSE(cache_.Find("int_1", "fp-newer"));
  EXPECT_EQ(cache_.Fetched("int_1", "fp-new", Token("t-stale", 3600)), std::vector<int64_t>{2});
  EXPECT_FALSE(cache_.Find("int_1", "fp-newer"));
}

TEST_F(TokenCacheTest, AFailedFetchCachesNothingAndReleasesTheWaiters) {
  ASSERT_TRUE(cache_.AddWaiter("int_1", "fp", 1));
  EXPECT_EQ(cache_.Fetched("int_1", "fp", Unavailable("token endpoint down")),
            std::vector<int64_t>{1});
  EXPECT_FALSE(cache_.Find("int_1", "fp"));
  EXPECT_TRUE(cache_.AddWaiter("int_1", "fp", 2));
}

TEST_F(TokenCacheTest, ARefusedTokenIsDroppedUnlessAlreadyReplaced) {
  ASSERT_TRUE(cache_.AddWaiter("int_1", "fp", 1));
  cache_.Fetched("int_1", "fp", Token("t1", 3600));
  cache_.Refused("int_1", "t0");  // an older token: the cached one stays
  EXPECT_EQ(cache_.Find("int_1", "fp"), "t1");
  cache_.Refused("int_1", "t1");
  EXPECT_FALSE(cache_.Find("int_1", "fp"));
}

TEST(OAuthFingerprintTest, EveryFieldOfTheConfigurationCounts) {
  integrations::OAuthConfig base;
  base.url = "https://auth.example/token";
  base.client_id = "id";
  base.client_secret = "secret";
  const std::string fp = OAuthFingerprint(base);
  const std::string other = "other";
  std::vector<integrations::OAuthConfig> changed(6, base);
  changed[0].url = other;
  changed[1].client_id = other;
  changed[2].client_secret = other;
  changed[3].scope = other;
  changed[4].audience = other;
  changed[5].client_auth_method = other;
  for (const auto& c : changed) EXPECT_NE(OAuthFingerprint(c), fp);
}

}  // namespace
}  // namespace relay::delivery
