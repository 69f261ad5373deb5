// Claims, leases and outcomes, on both backends: a renewed lease is not claimed again, a stale
// outcome never shadows the holder's, and a deleted integration's retries end as cancelled.
#include <set>

#include "store/store_fixture.h"

namespace relay::testing {
namespace {

store::ClaimRequest Claim(int64_t now, int64_t lease_until, int64_t token, int limit = 10) {
  store::ClaimRequest r;
  r.now = now;
  r.lease_until = lease_until;
  r.lease_token = token;
  r.limit = limit;
  return r;
}

store::DeliveryOutcome Outcome(const store::ClaimedDelivery& d, int http_status,
                               store::DeliveryStatus status, int64_t next = 0) {
  store::DeliveryOutcome o;
  o.seq = d.seq;
  o.lease_token = d.lease_token;
  o.integration_id = d.integration_id;
  o.probe = d.probe;
  store::AttemptRow a;
  a.attempt = d.attempt_count + 1;
  a.started_at = 1000;
  a.http_status = http_status;
  a.response_body = "answer " + std::to_string(http_status);
  o.attempt = a;
  o.status = status;
  o.next_attempt_at = next;
  return o;
}

TEST_P(StoreTest, ARenewedLeaseIsNotClaimedAgainAndAnExpiredOneIs) {
  PutIntegration("org", "int_a");
  PutMessage("org", "msg_1", {"int_a"}, 10, "usr_1");
  PutMessage("org", "msg_2", {"int_a"}, 10, "usr_2");  // another user: another lane
  auto first = store_->ClaimDeliveries(Claim(100, 200, 1));
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_EQ(first->size(), 2u);
  // The holder renews one of its two leases only.
  auto renewed = store_->RenewLeases({{(*first)[0].seq, 1}}, 10'000);
  ASSERT_TRUE(renewed.ok()) << renewed.status().message();
  EXPECT_EQ(*renewed, 1);
  // A renewal under another token (someone else's claim) extends nothing.
  auto foreign = store_->RenewLeases({{(*first)[1].seq, 99}}, 10'000);
  ASSERT_TRUE(foreign.ok());
  EXPECT_EQ(*foreign, 0);
  // Past the first lease: only the one not renewed is due again.
  auto second = store_->ClaimDeliveries(Claim(300, 400, 2));
  ASSERT_TRUE(second.ok()) << second.status().message();
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].seq, (*first)[1].seq);
  EXPECT_EQ((*second)[0].lease_token, 2);
}

TEST_P(StoreTest, AStaleOutcomeNeverShadowsTheHoldersAttempt) {
  PutIntegration("org", "int_a");
  PutMessage("org", "msg_1", {"int_a"}, 10);
  auto stale = store_->ClaimDeliveries(Claim(100, 200, 1));
  ASSERT_TRUE(stale.ok());
  ASSERT_EQ(stale->size(), 1u);
  auto holder = store_->ClaimDeliveries(Claim(300, 10'000, 2));  // the first lease ran out
  ASSERT_TRUE(holder.ok());
  ASSERT_EQ(holder->size(), 1u);
  // The stale holder's failure arrives first, then the holder's success, both as attempt 1.
  ASSERT_TRUE(
      store_
          ->RecordOutcomes({Outcome((*stale)[0], 500, store::DeliveryStatus::kPending, 5000)}, 400,
                           kNoBreaker)
          .ok());
  ASSERT_TRUE(store_
                  ->RecordOutcomes({Outcome((*holder)[0], 200, store::DeliveryStatus::kSucceeded)},
                                   500, kNoBreaker)
                  .ok());
  auto d = store_->GetDelivery("org", "int_a", "dlv_msg_1_int_a");
  ASSERT_TRUE(d.ok() && d->has_value());
  EXPECT_EQ((*d)->status, store::DeliveryStatus::kSucceeded);
  ASSERT_EQ((*d)->attempts.size(), 1u);
  EXPECT_EQ((*d)->attempts[0].http_status, 200) << "the holder's attempt is the record";
  EXPECT_EQ((*d)->attempts[0].response_body, "answer 200");
}

TEST_P(StoreTest, ARetryOfADeletedIntegrationsDeliveryIsCancelled) {
  PutIntegration("org", "int_a");
  PutMessage("org", "msg_1", {"int_a"}, 10, "usr_1");
  PutMessage("org", "msg_2", {"int_a"}, 10, "usr_2");
  auto claimed = store_->ClaimDeliveries(Claim(100, 10'000, 1));
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 2u);
  ASSERT_TRUE(store_->DeleteIntegration("org", "int_a", 150).ok());
  // One attempt failed after the delete (a retry was due), the other was released untried.
  store::DeliveryOutcome released;
  released.seq = (*claimed)[1].seq;
  released.lease_token = 1;
  released.status = store::DeliveryStatus::kPending;
  released.next_attempt_at = 200;
  ASSERT_TRUE(
      store_
          ->RecordOutcomes(
              {Outcome((*claimed)[0], 500, store::DeliveryStatus::kPending, 5000), released}, 200,
              kNoBreaker)
          .ok());
  for (const char* id : {"dlv_msg_1_int_a", "dlv_msg_2_int_a"}) {
    auto d = store_->GetDelivery("org", "int_a", id);
    ASSERT_TRUE(d.ok() && d->has_value()) << id;
    EXPECT_EQ((*d)->status, store::DeliveryStatus::kCancelled) << id;
  }
  auto counts = store_->CountDeliveries();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->pending, 0);
  EXPECT_EQ(counts->in_flight, 0);
}

// Per-user ordering at the store: only the head of a lane (integration, ordering key) is claimed;
// other lanes go on; a dead head lets the lane go on. (A lane is a row: while it is in flight, or
// waits for its head's retry, no claim on any node takes what follows its head.)
TEST_P(StoreTest, OnlyTheHeadOfALaneIsClaimedAndADeadHeadLetsItGo) {
  PutIntegration("org", "int_a");
  PutMessage("org", "msg_1", {"int_a"}, 10, "usr_1");
  PutMessage("org", "msg_2", {"int_a"}, 10, "usr_1");
  PutMessage("org", "msg_3", {"int_a"}, 10, "usr_2");
  auto first = store_->ClaimDeliveries(Claim(100, 10'000, 1));
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_EQ(first->size(), 2u) << "usr_1's head and usr_2's";
  std::set<std::string> ids;
  for (const auto& d : *first) ids.insert(d.id);
  EXPECT_EQ(ids, (std::set<std::string>{"dlv_msg_1_int_a", "dlv_msg_3_int_a"}));
  auto none = store_->ClaimDeliveries(Claim(110, 10'000, 2));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty()) << "msg_2 waits while msg_1 is in flight";
  // msg_1 fails and waits for a retry: still the head, msg_2 still waits.
  const store::ClaimedDelivery& head =
      (*first)[0].id == "dlv_msg_1_int_a" ? (*first)[0] : (*first)[1];
  ASSERT_TRUE(store_
                  ->RecordOutcomes({Outcome(head, 500, store::DeliveryStatus::kPending, 5000)}, 120,
                                   kNoBreaker)
                  .ok());
  auto waiting = store_->ClaimDeliveries(Claim(130, 10'000, 3));
  ASSERT_TRUE(waiting.ok());
  EXPECT_TRUE(waiting->empty()) << "a head waiting for its retry holds its lane";
  EXPECT_TRUE(store_->ClaimDeliveries(Claim(4999, 20'000, 30))->empty()) << "not before 5000";
  auto retried = store_->ClaimDeliveries(Claim(5000, 20'000, 4));
  ASSERT_TRUE(retried.ok());
  ASSERT_EQ(retried->size(), 1u);
  EXPECT_EQ((*retried)[0].id, "dlv_msg_1_int_a");
  ASSERT_TRUE(store_
                  ->RecordOutcomes({Outcome((*retried)[0], 500, store::DeliveryStatus::kDead)},
                                   5100, kNoBreaker)
                  .ok());
  auto next = store_->ClaimDeliveries(Claim(5200, 20'000, 5));
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ((*next)[0].id, "dlv_msg_2_int_a") << "the dead head let its lane go on";
}

// The circuit breaker at the store, shared by two nodes (two stores on one database): three
// failures open it (the third one held: pending, not counted), nothing of the integration is
// claimed while it is open, then exactly one probe across the nodes; a failed probe reopens it
// for twice as long, a successful one closes it and the rest is claimed. Another integration is
// claimed throughout.
TEST_P(StoreTest, AnOpenBreakerLetsOneProbeThroughAcrossNodesThenCloses) {
  const store::HealthPolicy policy{2, 1000, 600'000, 0};
  PutIntegration("org", "int_a");
  PutIntegration("org", "int_b");
  for (int u = 1; u <= 3; ++u) {
    PutMessage("org", "msg_" + std::to_string(u), {"int_a", "int_b"}, 10,
               "usr_" + std::to_string(u));
  }
  auto other = OpenAnother();
  ASSERT_NE(other, nullptr);
  auto first = store_->ClaimDeliveries(Claim(100, 10'000, 1));
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_EQ(first->size(), 6u);
  std::vector<store::DeliveryOutcome> outcomes;
  for (const auto& d : *first) {
    outcomes.push_back(d.integration_id == "int_a"
                           ? Outcome(d, 503, store::DeliveryStatus::kDead)
                           : Outcome(d, 200, store::DeliveryStatus::kSucceeded));
  }
  auto health = store_->RecordOutcomes(outcomes, 200, policy);
  ASSERT_TRUE(health.ok()) << health.status().message();
  ASSERT_EQ(health->size(), 2u);
  const store::HealthReport& a = (*health)[0];
  EXPECT_EQ(a.integration_id, "int_a");
  EXPECT_TRUE(a.held());
  EXPECT_EQ(a.health.open_until, 1200);
  EXPECT_EQ(a.health.consecutive_failures, 3);
  EXPECT_FALSE((*health)[1].held());
  auto stored = store_->GetIntegration("org", "int_a");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->health.open_until, 1200) << "what the API shows";
  int dead = 0;
  for (int u = 1; u <= 3; ++u) {
    auto d = store_->GetDelivery("org", "int_a", "dlv_msg_" + std::to_string(u) + "_int_a");
    ASSERT_TRUE(d.ok() && d->has_value());
    dead += (*d)->status == store::DeliveryStatus::kDead;
  }
  EXPECT_EQ(dead, 1) << "the failure before the breaker opened is as decided; the others wait";

  PutMessage("org", "msg_4", {"int_b"}, 300, "usr_4");
  auto open = other->ClaimDeliveries(Claim(500, 10'000, 2));
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->size(), 1u) << "nothing of int_a while its breaker is open";
  EXPECT_EQ((*open)[0].integration_id, "int_b");

  auto probe = other->ClaimDeliveries(Claim(1300, 20'000, 3));
  ASSERT_TRUE(probe.ok());
  ASSERT_EQ(probe->size(), 1u);
  EXPECT_TRUE((*probe)[0].probe);
  EXPECT_EQ((*probe)[0].integration_id, "int_a");
  auto none = store_->ClaimDeliveries(Claim(1400, 20'000, 4));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty()) << "one probe at a time, across nodes";

  auto failed = other->RecordOutcomes({Outcome((*probe)[0], 503, store::DeliveryStatus::kDead)},
                                      1500, policy);
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ((*failed)[0].health.open_until, 3500) << "twice the cooldown";
  auto probed = store_->GetDelivery("org", "int_a", (*probe)[0].id);
  ASSERT_TRUE(probed.ok() && probed->has_value());
  EXPECT_EQ((*probed)->status, store::DeliveryStatus::kPending) << "a failed probe never kills";
  auto early = store_->ClaimDeliveries(Claim(3000, 20'000, 5));
  ASSERT_TRUE(early.ok());
  EXPECT_TRUE(early->empty());

  auto second = store_->ClaimDeliveries(Claim(3600, 20'000, 6));
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 1u);
  ASSERT_TRUE(store_
                  ->RecordOutcomes({Outcome((*second)[0], 200, store::DeliveryStatus::kSucceeded)},
                                   3700, policy)
                  .ok());
  auto rest = other->ClaimDeliveries(Claim(3800, 20'000, 7));
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->size(), 1u) << "closed: the other waiting delivery is claimed";
  auto closed = store_->GetIntegration("org", "int_a");
  ASSERT_TRUE(closed.ok());
  EXPECT_FALSE(closed->health.open_until.has_value());
  EXPECT_EQ(closed->health.consecutive_failures, 0);
  EXPECT_EQ(closed->health.last_success_at, 3700);
}

// 410 disables the integration (a new version, the reason kept); enabling it again through an
// update starts its health afresh.
TEST_P(StoreTest, A410DisablesTheIntegrationUntilAnUpdateEnablesIt) {
  PutIntegration("org", "int_a");
  PutMessage("org", "msg_1", {"int_a"}, 10, "usr_1");
  auto claimed = store_->ClaimDeliveries(Claim(100, 10'000, 1));
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  ASSERT_TRUE(store_
                  ->RecordOutcomes({Outcome((*claimed)[0], 410, store::DeliveryStatus::kDead)}, 200,
                                   store::HealthPolicy{})
                  .ok());
  auto disabled = store_->GetIntegration("org", "int_a");
  ASSERT_TRUE(disabled.ok());
  EXPECT_FALSE(disabled->enabled);
  EXPECT_EQ(disabled->version, 2);
  EXPECT_NE(disabled->health.disabled_reason.find("410 Gone"), std::string::npos);
  auto none = store_->ClaimDeliveries(Claim(300, 10'000, 2));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  store::IntegrationRow enabled = *disabled;
  enabled.enabled = true;
  enabled.version = 3;
  ASSERT_TRUE(store_->UpdateIntegration(enabled, 2).ok());
  auto resumed = store_->GetIntegration("org", "int_a");
  ASSERT_TRUE(resumed.ok());
  EXPECT_TRUE(resumed->health.disabled_reason.empty());
  EXPECT_EQ(resumed->health.consecutive_failures, 0);
  auto again = store_->ClaimDeliveries(Claim(400, 10'000, 3));
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ(again->front().attempt_count, 1);
  EXPECT_EQ(again->front().cycle_attempts, 0) << "the held attempt did not count";
}

}  // namespace
}  // namespace relay::testing
