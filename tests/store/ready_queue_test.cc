// The ready queue, on both backends: a claim costs its batch whatever waits where it cannot be
// taken (followers, an open breaker's backlog, a disabled integration's), a lane is handed out
// with its followers in order and moves on in the outcomes' transaction, and the cap holds across
// nodes that claim at once.
#include <atomic>
#include <set>
#include <thread>

#include "store/store_fixture.h"

namespace relay::testing {
namespace {

class ReadyQueueTest : public StoreTest {
 protected:
  // Messages `from` to `to` - 1 in one write, each with one delivery to `integration`, due at
  // `due`; the user is `key(i)`.
  void PutMany(const std::string& integration, int from, int to,
               const std::function<std::string(int)>& key, int64_t due = 10) {
    Status s = store_->Write([&](store::WriteTransaction& txn) -> Status {
      for (int i = from; i < to; ++i) {
        const std::string id = "msg_" + integration + "_" + std::to_string(i);
        store::MessageRow m{id, "org", "event.created", "gdpr", key(i), "{}", due, ""};
        store::DeliveryRow d;
        d.id = "dlv_" + id;
        d.organization_id = "org";
        d.integration_id = integration;
        d.next_attempt_at = due;
        d.created_at = due;
        RELAY_RETURN_IF_ERROR(txn.InsertMessage(m, {d}));
      }
      return Status::Ok();
    });
    ASSERT_TRUE(s.ok()) << s.message();
  }
  void PutMany(const std::string& integration, int count,
               const std::function<std::string(int)>& key) {
    PutMany(integration, 0, count, key);
  }

  // Rows a claim cannot take, `from` to `to`: one user's followers (its head is in flight), an
  // open breaker's backlog and a disabled integration's.
  void Park(int from, int to) {
    PutMany("int_hot", from, to, [](int) { return std::string("usr_busy"); });
    PutMany("int_open", from, to, [](int i) { return "usr_" + std::to_string(i); });
    PutMany("int_off", from, to, [](int i) { return "usr_" + std::to_string(i); });
  }

  void SetUpParked(int parked) {
    for (const char* id : {"int_ok", "int_hot", "int_open", "int_off"}) PutIntegration("org", id);
    PutMany("int_ok", 5, [](int i) { return "usr_" + std::to_string(i); });
    Park(0, parked);
    Query(
        "UPDATE integration_health SET open_until = 1000000, consecutive_failures = 10 WHERE "
        "integration_id = 'int_open'");
    Query("UPDATE integrations SET enabled = 0 WHERE id = 'int_off'");
    // The first claim takes the disabled integration out of the due set and the hot lane's head.
    auto first = store_->ClaimDeliveries(Request(1));
    ASSERT_TRUE(first.ok()) << first.status().message();
    EXPECT_EQ(first->size(), 6u) << "int_ok's 5 lanes and the hot lane's head";
  }

  static store::ClaimRequest Request(int64_t token) {
    store::ClaimRequest r;
    r.now = 100;
    r.lease_until = 10'000;
    r.lease_token = token;
    r.limit = 10;
    return r;
  }

  // What a claim of 10 lanes reads when 5 new lanes are due: measured (and undone), then the same
  // claim for real, which takes those 5.
  int64_t MeasureWithFiveDue(int from, int64_t token) {
    PutMany(
        "int_ok", from, from + 5, [](int i) { return "usr_" + std::to_string(i); }, 50);
    if (postgres()) Query("ANALYZE");  // plans as the tables are now
    auto cost = store_->MeasureClaim(Request(token));
    EXPECT_TRUE(cost.ok()) << cost.status().message();
    auto real = store_->ClaimDeliveries(Request(token));
    EXPECT_TRUE(real.ok());
    EXPECT_EQ(real->size(), 5u);
    return cost.ok() ? *cost : -1;
  }
};

TEST_P(ReadyQueueTest, AClaimReadsItsBatchNotWhatWaitsWhereItCannotBeTaken) {
  SetUpParked(100);
  const int64_t small = MeasureWithFiveDue(100, 2);
  Park(100, 10'000);
  const int64_t large = MeasureWithFiveDue(200, 3);
  ASSERT_GT(small, 0);
  ASSERT_GT(large, 0);
  // 100 times the parked rows, the same claim. (A claim that visited them would read some 30,000
  // more rows, or run hundreds of thousands more steps.)
  EXPECT_LE(large, small + small / 5) << "small " << small << ", large " << large;
}

// A lane is handed out with its followers, in order, and nothing of it to a second claim; the
// outcomes move it on in their transaction: after a retry the followers wait for the head; when
// every delivery of it is done, the lane row is gone.
TEST_P(ReadyQueueTest, ALaneGoesOutWithItsFollowersInOrderAndMovesOnWithItsOutcomes) {
  PutIntegration("org", "int_a");
  PutMany("int_a", 6, [](int) { return std::string("usr_1"); });
  store::ClaimRequest r;
  r.now = 100;
  r.lease_until = 10'000;
  r.lease_token = 1;
  r.limit = 10;
  r.lane_depth = 4;
  auto first = store_->ClaimDeliveries(r);
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_EQ(first->size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ((*first)[i].id, "dlv_msg_int_a_" + std::to_string(i));
    EXPECT_EQ((*first)[i].lane_id, (*first)[0].lane_id);
  }
  r.lease_token = 2;
  EXPECT_TRUE(store_->ClaimDeliveries(r)->empty()) << "the lane is held";
  // The first two succeed, the third fails (a retry at 5000), the fourth goes back untried.
  auto outcome = [](const store::ClaimedDelivery& d, store::DeliveryStatus status, int64_t next,
                    bool tried) {
    store::DeliveryOutcome o;
    o.seq = d.seq;
    o.lease_token = d.lease_token;
    o.integration_id = d.integration_id;
    if (tried) {
      store::AttemptRow a;
      a.attempt = 1;
      a.started_at = 150;
      a.http_status = status == store::DeliveryStatus::kSucceeded ? 200 : 500;
      o.attempt = a;
    }
    o.status = status;
    o.next_attempt_at = next;
    return o;
  };
  ASSERT_TRUE(
      store_
          ->RecordOutcomes({outcome((*first)[0], store::DeliveryStatus::kSucceeded, 0, true),
                            outcome((*first)[1], store::DeliveryStatus::kSucceeded, 0, true)},
                           150, kNoBreaker)
          .ok());
  r.lease_token = 3;
  EXPECT_TRUE(store_->ClaimDeliveries(r)->empty()) << "still held: two of its four are in flight";
  ASSERT_TRUE(
      store_
          ->RecordOutcomes({outcome((*first)[2], store::DeliveryStatus::kPending, 5000, true),
                            outcome((*first)[3], store::DeliveryStatus::kPending, 160, false)},
                           160, kNoBreaker)
          .ok());
  r.now = 4999;
  r.lease_token = 4;
  EXPECT_TRUE(store_->ClaimDeliveries(r)->empty()) << "the head waits for its retry, and its lane";
  r.now = 5000;
  r.lease_token = 5;
  auto retried = store_->ClaimDeliveries(r);
  ASSERT_TRUE(retried.ok());
  ASSERT_EQ(retried->size(), 4u);
  EXPECT_EQ((*retried)[0].id, "dlv_msg_int_a_2") << "the head, then what follows it";
  EXPECT_EQ((*retried)[3].id, "dlv_msg_int_a_5");
  std::vector<store::DeliveryOutcome> done;
  for (const auto& d : *retried)
    done.push_back(outcome(d, store::DeliveryStatus::kSucceeded, 0, true));
  ASSERT_TRUE(store_->RecordOutcomes(done, 5100, kNoBreaker).ok());
  EXPECT_EQ(Query("SELECT count(*) FROM lanes"), (std::vector<std::vector<std::string>>{{"0"}}))
      << "an empty lane is removed";
  EXPECT_EQ(Query("SELECT count(*) FROM deliveries WHERE status = 'succeeded'"),
            (std::vector<std::vector<std::string>>{{"6"}}));
}

// Two nodes claim one integration at once, over and over: what they hold together never passes
// the cap (lanes in flight, each sending one delivery at a time). Nodes share PostgreSQL only;
// the embedded store has one node, whose dispatcher keeps its own count.
TEST_P(ReadyQueueTest, TheCapHoldsAcrossNodesClaimingAtOnce) {
  if (!postgres()) GTEST_SKIP() << "one node on the embedded store";
  PutIntegration("org", "int_a");
  PutMany("int_a", 60, [](int i) { return "usr_" + std::to_string(i); });
  auto other = OpenAnother();
  std::atomic<int64_t> held{0};
  std::atomic<int64_t> token{10};
  auto claim = [&](store::Store& s) {
    for (int i = 0; i < 20; ++i) {
      store::ClaimRequest r;
      r.now = 100;
      r.lease_until = 100'000;
      r.lease_token = ++token;
      r.limit = 4;
      r.integration_cap = 5;
      auto c = s.ClaimDeliveries(r);
      if (c.ok()) held += static_cast<int64_t>(c->size());
    }
  };
  std::thread a([&] { claim(*store_); });
  std::thread b([&] { claim(*other); });
  a.join();
  b.join();
  EXPECT_EQ(held.load(), 5);
  EXPECT_EQ(Query("SELECT count(*) FROM lanes WHERE state = 'in_flight'"),
            (std::vector<std::vector<std::string>>{{"5"}}));
}

RELAY_STORE_SUITE(ReadyQueueTest);

}  // namespace
}  // namespace relay::testing
