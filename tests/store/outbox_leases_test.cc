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
          ->RecordOutcomes({Outcome((*stale)[0], 500, store::DeliveryStatus::kPending, 5000)}, 400)
          .ok());
  ASSERT_TRUE(
      store_->RecordOutcomes({Outcome((*holder)[0], 200, store::DeliveryStatus::kSucceeded)}, 500)
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
              {Outcome((*claimed)[0], 500, store::DeliveryStatus::kPending, 5000), released}, 200)
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
// other lanes go on; a dead head lets the lane go on. (The claim runs under the cluster-wide
// claim lock on PostgreSQL, so what one claim sees in flight, every node's next claim sees.)
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
  ASSERT_TRUE(
      store_->RecordOutcomes({Outcome(head, 500, store::DeliveryStatus::kPending, 5000)}, 120)
          .ok());
  auto waiting = store_->ClaimDeliveries(Claim(130, 10'000, 3));
  ASSERT_TRUE(waiting.ok());
  EXPECT_TRUE(waiting->empty()) << "a head waiting for its retry holds its lane";
  // What waits behind it waits as long (claims need not look at it meanwhile); other lanes not.
  auto behind = store_->GetDelivery("org", "int_a", "dlv_msg_2_int_a");
  ASSERT_TRUE(behind.ok() && behind->has_value());
  EXPECT_EQ((*behind)->next_attempt_at, 5000);
  auto other = store_->GetDelivery("org", "int_a", "dlv_msg_3_int_a");
  ASSERT_TRUE(other.ok() && other->has_value());
  EXPECT_EQ((*other)->next_attempt_at, 10);
  auto retried = store_->ClaimDeliveries(Claim(5000, 20'000, 4));
  ASSERT_TRUE(retried.ok());
  ASSERT_EQ(retried->size(), 1u);
  EXPECT_EQ((*retried)[0].id, "dlv_msg_1_int_a");
  ASSERT_TRUE(
      store_->RecordOutcomes({Outcome((*retried)[0], 500, store::DeliveryStatus::kDead)}, 5100)
          .ok());
  auto next = store_->ClaimDeliveries(Claim(5200, 20'000, 5));
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ((*next)[0].id, "dlv_msg_2_int_a") << "the dead head let its lane go on";
}

}  // namespace
}  // namespace relay::testing
