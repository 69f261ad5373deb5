// The endpoint health rules (store/health.h), on their own: counts, the breaker and its doubling
// cooldown, probes, 410, auto-disable, and which failed attempts are held.
#include <gtest/gtest.h>

#include "store/health.h"

namespace relay::store {
namespace {

constexpr int64_t kNow = 1'000'000;
const HealthPolicy kPolicy{3, 1000, 8000, 60'000};

DeliveryOutcome Failed(const std::string& integration,
                       DeliveryStatus status = DeliveryStatus::kPending, int http = 503,
                       bool probe = false) {
  DeliveryOutcome o;
  o.seq = 1;
  o.integration_id = integration;
  o.probe = probe;
  AttemptRow a;
  a.attempt = 1;
  a.http_status = http;
  o.attempt = a;
  o.status = status;
  o.next_attempt_at = kNow + 10'000;
  return o;
}

DeliveryOutcome Succeeded(const std::string& integration, bool probe = false) {
  DeliveryOutcome o = Failed(integration, DeliveryStatus::kSucceeded, 200, probe);
  o.next_attempt_at = 0;
  return o;
}

std::map<std::string, HealthSnapshot> One(const std::string& id, IntegrationHealthRow h = {},
                                          bool enabled = true) {
  return {{id, HealthSnapshot{"org", enabled, h}}};
}

TEST(HealthRulesTest, TheBreakerOpensAtTheThresholdAndHoldsTheFailuresFromThere) {
  HealthEffects e = ApplyHealth({Failed("a"), Failed("a"), Failed("a", DeliveryStatus::kDead),
                                 Failed("a", DeliveryStatus::kDead)},
                                One("a"), kPolicy, kNow);
  ASSERT_EQ(e.outcomes.size(), 4u);
  EXPECT_FALSE(e.outcomes[0].uncounted);
  EXPECT_EQ(e.outcomes[1].next_attempt_at, kNow + 10'000) << "before the breaker: as decided";
  for (int i : {2, 3}) {
    EXPECT_TRUE(e.outcomes[i].uncounted) << i;
    EXPECT_EQ(e.outcomes[i].status, DeliveryStatus::kPending) << "held, not dead";
    EXPECT_EQ(e.outcomes[i].next_attempt_at, kNow);
  }
  ASSERT_EQ(e.reports.size(), 1u);
  const HealthReport& r = e.reports[0];
  EXPECT_EQ(r.health.consecutive_failures, 4);
  EXPECT_EQ(r.health.open_until, kNow + 1000);
  EXPECT_EQ(r.health.cooldown_ms, 1000);
  EXPECT_EQ(r.health.last_failure_at, kNow);
  EXPECT_TRUE(r.held());
  EXPECT_EQ(r.dead, 0) << "the two the dispatcher called dead were held";
  ASSERT_EQ(r.changes.size(), 2u);
  EXPECT_EQ(r.changes[0].first, HealthState::kFailing);
  EXPECT_EQ(r.changes[1].first, HealthState::kOpen);
  EXPECT_NE(r.changes[1].second.find("3 attempts failed in a row"), std::string::npos);
}

TEST(HealthRulesTest, EachFailedProbeDoublesTheCooldownUpToTheMaximum) {
  IntegrationHealthRow h;
  h.consecutive_failures = 3;
  h.failing_since = kNow;
  h.open_until = kNow + 20'000;  // the probe's lease
  h.cooldown_ms = 1000;
  int64_t now = kNow;
  for (int64_t expected : {2000, 4000, 8000, 8000}) {
    now += 100;
    HealthEffects e = ApplyHealth({Failed("a", DeliveryStatus::kDead, 503, /*probe=*/true)},
                                  One("a", h), kPolicy, now);
    h = e.reports[0].health;
    EXPECT_EQ(h.cooldown_ms, expected);
    EXPECT_EQ(h.open_until, now + expected);
    EXPECT_TRUE(e.outcomes[0].uncounted);
    EXPECT_EQ(e.outcomes[0].status, DeliveryStatus::kPending);
    EXPECT_TRUE(e.reports[0].changes.empty()) << "open stays open";
  }
}

TEST(HealthRulesTest, ASuccessClosesTheBreakerAndForgetsTheFailures) {
  IntegrationHealthRow h;
  h.consecutive_failures = 7;
  h.failing_since = kNow - 5000;
  h.open_until = kNow + 20'000;
  h.cooldown_ms = 4000;
  HealthEffects e = ApplyHealth({Succeeded("a", /*probe=*/true)}, One("a", h), kPolicy, kNow);
  const IntegrationHealthRow& after = e.reports[0].health;
  EXPECT_EQ(after.consecutive_failures, 0);
  EXPECT_FALSE(after.open_until.has_value());
  EXPECT_FALSE(after.failing_since.has_value());
  EXPECT_EQ(after.cooldown_ms, 0);
  EXPECT_EQ(after.last_success_at, kNow);
  ASSERT_EQ(e.reports[0].changes.size(), 1u);
  EXPECT_EQ(e.reports[0].changes[0].first, HealthState::kHealthy);
  EXPECT_FALSE(e.outcomes[0].uncounted);
  EXPECT_EQ(e.outcomes[0].status, DeliveryStatus::kSucceeded);
}

TEST(HealthRulesTest, A410DisablesWithTheReasonAndHoldsTheDelivery) {
  HealthEffects e = ApplyHealth({Failed("a", DeliveryStatus::kDead, 410)}, One("a"), kPolicy, kNow);
  EXPECT_EQ(e.disabled, std::vector<std::string>{"a"});
  EXPECT_FALSE(e.reports[0].enabled);
  EXPECT_NE(e.reports[0].health.disabled_reason.find("410 Gone at 1970-01-01T00:16:40"),
            std::string::npos)
      << e.reports[0].health.disabled_reason;
  EXPECT_EQ(e.outcomes[0].status, DeliveryStatus::kPending);
  EXPECT_TRUE(e.outcomes[0].uncounted);
  ASSERT_EQ(e.reports[0].changes.size(), 1u);
  EXPECT_EQ(e.reports[0].changes[0].first, HealthState::kDisabled);
  // Already disabled: a straggler's 410 changes nothing more.
  HealthEffects again = ApplyHealth({Failed("a", DeliveryStatus::kDead, 410)},
                                    One("a", e.reports[0].health, false), kPolicy, kNow + 1);
  EXPECT_TRUE(again.disabled.empty());
  EXPECT_TRUE(again.reports[0].changes.empty());
  EXPECT_TRUE(again.outcomes[0].uncounted);
}

TEST(HealthRulesTest, OnlyFailuresForTheConfiguredTimeDisable) {
  IntegrationHealthRow h;
  h.consecutive_failures = 1;
  h.failing_since = kNow - 59'999;
  HealthEffects before = ApplyHealth({Failed("a")}, One("a", h), kPolicy, kNow);
  EXPECT_TRUE(before.disabled.empty()) << "a millisecond short";
  HealthEffects after = ApplyHealth({Failed("a")}, One("a", h), kPolicy, kNow + 1);
  EXPECT_EQ(after.disabled, std::vector<std::string>{"a"});
  EXPECT_NE(after.reports[0].health.disabled_reason.find("no attempt succeeded from"),
            std::string::npos);
  HealthPolicy never = kPolicy;
  never.auto_disable_after_ms = 0;
  EXPECT_TRUE(ApplyHealth({Failed("a")}, One("a", h), never, kNow + 1).disabled.empty());
}

TEST(HealthRulesTest, AProbeHandedBackUntriedLetsTheNextClaimProbe) {
  IntegrationHealthRow h;
  h.consecutive_failures = 3;
  h.open_until = kNow + 20'000;
  h.cooldown_ms = 1000;
  DeliveryOutcome released;
  released.integration_id = "a";
  released.probe = true;
  HealthEffects e = ApplyHealth({released}, One("a", h), kPolicy, kNow);
  EXPECT_EQ(e.reports[0].health.open_until, kNow);
  EXPECT_EQ(e.reports[0].health.consecutive_failures, 3);
}

TEST(HealthRulesTest, OutcomesOfOtherIntegrationsPassUnchanged) {
  IntegrationHealthRow h;
  h.open_until = kNow + 1000;
  h.consecutive_failures = 3;
  HealthEffects e =
      ApplyHealth({Failed("a"), Failed("b", DeliveryStatus::kDead)}, One("a", h), kPolicy, kNow);
  EXPECT_TRUE(e.outcomes[0].uncounted) << "a is open";
  EXPECT_FALSE(e.outcomes[1].uncounted);
  EXPECT_EQ(e.outcomes[1].status, DeliveryStatus::kDead) << "b is not loaded (deleted)";
  ASSERT_EQ(e.reports.size(), 1u);
  EXPECT_EQ(HealthSubjects({Failed("a"), DeliveryOutcome{}, Succeeded("c")}),
            (std::set<std::string>{"a", "c"}));
}

TEST(HealthRulesTest, AHealthyEndpointsSuccessesAreWrittenAtMostOnceASecond) {
  IntegrationHealthRow h;
  h.last_success_at = kNow;
  EXPECT_FALSE(
      ApplyHealth({Succeeded("a"), Succeeded("a")}, One("a", h), kPolicy, kNow + 999).write);
  EXPECT_TRUE(ApplyHealth({Succeeded("a")}, One("a", h), kPolicy, kNow + 1000).write);
  EXPECT_TRUE(ApplyHealth({Succeeded("a")}, One("a"), kPolicy, kNow).write) << "the first success";
  EXPECT_TRUE(ApplyHealth({Succeeded("a"), Failed("a")}, One("a", h), kPolicy, kNow + 1).write);
  h.consecutive_failures = 1;
  EXPECT_TRUE(ApplyHealth({Succeeded("a")}, One("a", h), kPolicy, kNow + 1).write)
      << "a success after a failure resets the count";
}

TEST(HealthRulesTest, NoBreakerWhenTheThresholdIsZero) {
  HealthPolicy off = kPolicy;
  off.breaker_failures = 0;
  std::vector<DeliveryOutcome> many(20, Failed("a", DeliveryStatus::kDead));
  HealthEffects e = ApplyHealth(many, One("a"), off, kNow);
  EXPECT_FALSE(e.reports[0].health.open_until.has_value());
  for (const auto& o : e.outcomes) EXPECT_EQ(o.status, DeliveryStatus::kDead);
  EXPECT_EQ(e.reports[0].dead, 20);
  EXPECT_EQ(StateOf(e.reports[0].health, true), HealthState::kFailing);
}

}  // namespace
}  // namespace relay::store
