// The OutboxStore role, on both backends: claims, leases, outcomes, re-queues, retention and
// counts.
#include <gtest/gtest.h>

#include "store/store_fixture.h"

namespace relay::store {
namespace {

constexpr char kTrace[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

class OutboxStoreTest : public relay::testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    AddIntegration("int_a");
    AddIntegration("int_b");
  }
  void AddIntegration(const std::string& id, bool enabled = true) {
    IntegrationRow row;
    row.id = id;
    row.organization_id = "org";
    row.type_id = "webhook-http";
    row.enabled = enabled;
    row.authentication_json = "{}";
    row.properties_json = "{}";
    row.signing_secret_sealed = "x";
    ASSERT_TRUE(store_->CreateIntegration(row).ok());
  }
  // One message for `key` with a delivery to each integration, due at `due`.
  void AddMessage(const std::string& key, int64_t due, std::vector<std::string> integrations) {
    static int n = 0;
    MessageRow m{"msg_" + std::to_string(++n),        "org", "event.created", "gdpr", key,
                 "{\"n\":" + std::to_string(n) + "}", due,   kTrace};
    std::vector<DeliveryRow> deliveries;
    for (const auto& i : integrations) {
      DeliveryRow d;
      d.id = "dlv_" + std::to_string(n) + "_" + i;
      d.organization_id = "org";
      d.integration_id = i;
      d.next_attempt_at = due;
      d.created_at = due;
      deliveries.push_back(d);
    }
    ASSERT_TRUE(
        store_->Write([&](WriteTransaction& txn) { return txn.InsertMessage(m, deliveries); })
            .ok());
  }
  std::vector<ClaimedDelivery> Claim(int64_t now, int limit, int64_t token,
                                     std::vector<std::string> excluded = {}) {
    ClaimRequest r{now, now + 1000, token, limit, std::move(excluded)};
    auto claimed = store_->ClaimDeliveries(r);
    EXPECT_TRUE(claimed.ok()) << claimed.status().message();
    return claimed.ok() ? *claimed : std::vector<ClaimedDelivery>{};
  }
  DeliveryOutcome Outcome(const ClaimedDelivery& c, DeliveryStatus status, int64_t next = 0,
                          std::optional<int> http = 500) {
    AttemptRow a;
    a.attempt = c.attempt_count + 1;
    a.started_at = 1;
    a.http_status = http;
    a.response_body = "body";
    DeliveryOutcome o;
    o.seq = c.seq;
    o.lease_token = c.lease_token;
    o.integration_id = c.integration_id;
    o.probe = c.probe;
    o.attempt = a;
    o.status = status;
    o.next_attempt_at = next;
    return o;
  }
  DeliveryRow Get(const std::string& integration, const std::string& id) {
    auto row = store_->GetDelivery("org", integration, id);
    EXPECT_TRUE(row.ok() && row->has_value());
    return row.ok() && *row ? **row : DeliveryRow{};
  }
};

TEST_P(OutboxStoreTest, AClaimHoldsUntilItsLeaseRunsOut) {
  AddMessage("u1", 100, {"int_a", "int_b"});
  auto first = Claim(100, 10, 1);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].payload, first[1].payload);
  EXPECT_EQ(first[0].type, "event.created");
  EXPECT_TRUE(Claim(500, 10, 2).empty()) << "the lease holds until 1100";
  auto again = Claim(1101, 10, 3);
  EXPECT_EQ(again.size(), 2u) << "an expired lease makes them claimable";
  EXPECT_EQ(again[0].lease_token, 3);
}

// The operator's commands find a delivery by its id alone; every read carries its message's trace.
TEST_P(OutboxStoreTest, ADeliveryIsFoundByItsIdAloneAndCarriesItsMessagesTrace) {
  AddMessage("u1", 100, {"int_a", "int_b"});
  auto claimed = Claim(100, 10, 1);
  ASSERT_EQ(claimed.size(), 2u);
  EXPECT_EQ(claimed[0].traceparent, kTrace);
  auto scope = store_->LocateDelivery(claimed[1].id);
  ASSERT_TRUE(scope.ok() && scope->has_value());
  EXPECT_EQ((*scope)->organization_id, "org");
  EXPECT_EQ((*scope)->integration_id, claimed[1].integration_id);
  EXPECT_EQ(Get(claimed[1].integration_id, claimed[1].id).traceparent, kTrace);
  auto missing = store_->LocateDelivery("dlv_nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_P(OutboxStoreTest, ClaimsOnlyDueDeliveriesOfEnabledNotExcludedIntegrations) {
  AddIntegration("int_off", false);
  AddMessage("u1", 100, {"int_a", "int_b", "int_off"});
  AddMessage("u2", 5000, {"int_a"});
  auto claimed = Claim(200, 10, 1, {"int_b"});
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].integration_id, "int_a");
  EXPECT_EQ(Claim(200, 10, 2).size(), 1u) << "int_b, no longer excluded";
  EXPECT_TRUE(Claim(300, 10, 3).empty());
}

TEST_P(OutboxStoreTest, OutcomesMoveDeliveriesOnAndKeepEveryAttempt) {
  AddMessage("u1", 100, {"int_a", "int_b"});
  auto claimed = Claim(100, 10, 1);
  ASSERT_EQ(claimed.size(), 2u);
  ASSERT_TRUE(store_
                  ->RecordOutcomes({Outcome(claimed[0], DeliveryStatus::kPending, 900),
                                    Outcome(claimed[1], DeliveryStatus::kSucceeded, 0, 200)},
                                   150, testing::kNoBreaker)
                  .ok());
  DeliveryRow retrying = Get(claimed[0].integration_id, claimed[0].id);
  EXPECT_EQ(retrying.status, DeliveryStatus::kPending);
  EXPECT_EQ(retrying.next_attempt_at, 900);
  ASSERT_EQ(retrying.attempts.size(), 1u);
  EXPECT_EQ(retrying.attempts[0].http_status, 500);
  EXPECT_EQ(Get(claimed[1].integration_id, claimed[1].id).status, DeliveryStatus::kSucceeded);
  EXPECT_TRUE(Claim(800, 10, 2).empty());
  auto second = Claim(900, 10, 3);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].attempt_count, 1);
  EXPECT_EQ(second[0].cycle_attempts, 1);
}

TEST_P(OutboxStoreTest, AStaleOutcomeChangesNoStatus) {
  AddMessage("u1", 100, {"int_a"});
  auto old_claim = Claim(100, 10, 1);
  auto new_claim = Claim(2000, 10, 2);  // the first lease ran out
  ASSERT_EQ(new_claim.size(), 1u);
  ASSERT_TRUE(store_
                  ->RecordOutcomes({Outcome(old_claim[0], DeliveryStatus::kDead)}, 2100,
                                   testing::kNoBreaker)
                  .ok());
  DeliveryRow row = Get("int_a", new_claim[0].id);
  EXPECT_EQ(row.status, DeliveryStatus::kInFlight) << "the newer claim still owns it";
  EXPECT_EQ(row.attempts.size(), 1u) << "the attempt happened and is kept";
}

TEST_P(OutboxStoreTest, RequeueStartsAFreshCycleAndRefusesWhileInFlight) {
  AddMessage("u1", 100, {"int_a"});
  auto claimed = Claim(100, 10, 1);
  EXPECT_EQ(store_->RequeueDelivery("org", "int_a", claimed[0].id, 150).status().code(),
            StatusCode::kFailedPrecondition);
  ASSERT_TRUE(
      store_->RecordOutcomes({Outcome(claimed[0], DeliveryStatus::kDead)}, 150, testing::kNoBreaker)
          .ok());
  auto row = store_->RequeueDelivery("org", "int_a", claimed[0].id, 200);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->status, DeliveryStatus::kPending);
  auto again = Claim(200, 10, 2);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt_count, 1);
  EXPECT_EQ(again[0].cycle_attempts, 0);
  EXPECT_EQ(store_->RequeueDelivery("org", "int_b", claimed[0].id, 200).status().code(),
            StatusCode::kNotFound);
}

TEST_P(OutboxStoreTest, ReplayWalksEveryMatchInBatches) {
  for (int i = 0; i < 25; ++i) {
    std::string key = "u";
    key += std::to_string(i);  // (not "u" + ...: g++ 12 warns wrongly of overlapping copies)
    AddMessage(key, 100 + i, {"int_a"});
  }
  auto claimed = Claim(1000, 100, 1);
  ASSERT_EQ(claimed.size(), 25u);
  std::vector<DeliveryOutcome> dead;
  for (const auto& c : claimed) dead.push_back(Outcome(c, DeliveryStatus::kDead));
  ASSERT_TRUE(store_->RecordOutcomes(dead, 1000, testing::kNoBreaker).ok());
  ReplayFilter window;
  window.since = 110;
  window.until = 120;
  EXPECT_EQ(*store_->RequeueDeliveries("org", "int_a", window, 1100, 3), 10);
  EXPECT_EQ(*store_->RequeueDeliveries("org", "int_a", ReplayFilter{}, 1100, 7), 15);
  EXPECT_EQ(*store_->RequeueDeliveries("org", "int_a", ReplayFilter{}, 1100, 7), 0);
  EXPECT_EQ(*store_->RequeueDeliveries("other", "int_a", ReplayFilter{}, 1100, 7), 0);
  EXPECT_EQ(Claim(1100, 100, 2).size(), 25u);
}

TEST_P(OutboxStoreTest, PurgeRemovesOldFinishedDeliveriesTheirAttemptsAndOrphanMessages) {
  AddMessage("u1", 100, {"int_a", "int_b"});
  auto claimed = Claim(100, 10, 1);
  ASSERT_TRUE(store_
                  ->RecordOutcomes({Outcome(claimed[0], DeliveryStatus::kSucceeded, 0, 200)}, 200,
                                   testing::kNoBreaker)
                  .ok());
  ASSERT_TRUE(
      store_->RecordOutcomes({Outcome(claimed[1], DeliveryStatus::kDead)}, 200, testing::kNoBreaker)
          .ok());
  EXPECT_EQ(*store_->PurgeDeliveries(DeliveryStatus::kSucceeded, 150, 10), 0) << "not old enough";
  EXPECT_EQ(*store_->PurgeDeliveries(DeliveryStatus::kSucceeded, 300, 10), 1);
  auto gone = store_->GetDelivery("org", claimed[0].integration_id, claimed[0].id);
  EXPECT_FALSE(gone->has_value());
  auto kept = store_->GetDelivery("org", claimed[1].integration_id, claimed[1].id);
  ASSERT_TRUE(kept->has_value()) << "dead deliveries are not touched";
  EXPECT_EQ((*kept)->payload, claimed[1].payload) << "the message stays while a delivery needs it";
  EXPECT_EQ(store_->CountDeliveries()->dead, 1);
}

TEST_P(OutboxStoreTest, ReleaseAllClaimsAndDeleteIntegrationCancel) {
  AddMessage("u1", 100, {"int_a", "int_b"});
  ASSERT_EQ(Claim(100, 10, 1).size(), 2u);
  EXPECT_EQ(store_->CountDeliveries()->in_flight, 2);
  ASSERT_TRUE(store_->ReleaseAllClaims(150).ok());
  int64_t now = 200;
  if (postgres()) {
    // Several nodes share the database: a starting node releases nobody's claims; their leases
    // (until 1100) bring them back.
    EXPECT_EQ(store_->CountDeliveries()->in_flight, 2);
    now = 1200;
  } else {
    EXPECT_EQ(store_->CountDeliveries()->pending, 2);
  }
  ASSERT_TRUE(store_->DeleteIntegration("org", "int_b", now - 40).ok());
  auto claimed = Claim(now, 10, 2);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].integration_id, "int_a");
  // On PostgreSQL int_b's came back with its lease, as cancelled; here it was released, pending,
  // and is never claimed: it waits to be cancelled.
  EXPECT_EQ(store_->CountDeliveries()->pending, postgres() ? 0 : 1);
  EXPECT_EQ(*store_->CancelDeletedBacklog(now, 100), 1) << "its lane";
  EXPECT_EQ(store_->CountDeliveries()->pending, 0);
  EXPECT_EQ(*store_->CancelDeletedBacklog(now, 100), 0);
}

// Deleting an integration with a large backlog holds the writer for one small transaction; the
// backlog is cancelled a chunk of lanes at a time, and what another integration waits for stays.
TEST_P(OutboxStoreTest, ADeletedIntegrationsBacklogIsCancelledInBoundedChunks) {
  for (int i = 0; i < 25; ++i) {
    std::string key = "u";
    key += std::to_string(i);
    AddMessage(key, 100, {"int_a", "int_b"});
  }
  AddMessage("u0", 101, {"int_b"});  // a lane of two
  ASSERT_TRUE(store_->DeleteIntegration("org", "int_b", 150).ok());
  EXPECT_EQ(store_->CountDeliveries()->pending, 51) << "the delete itself cancels nothing";
  EXPECT_EQ(*store_->CancelDeletedBacklog(200, 10), 10);
  EXPECT_EQ(store_->CountDeliveries()->pending, 51 - 11);
  EXPECT_EQ(*store_->CancelDeletedBacklog(200, 10), 10);
  EXPECT_EQ(*store_->CancelDeletedBacklog(200, 10), 5);
  EXPECT_EQ(*store_->CancelDeletedBacklog(200, 10), 0);
  EXPECT_EQ(Query("SELECT integration_id, status, count(*) FROM deliveries GROUP BY "
                  "integration_id, status ORDER BY integration_id"),
            (std::vector<std::vector<std::string>>{{"int_a", "pending", "25"},
                                                   {"int_b", "cancelled", "26"}}));
  EXPECT_EQ(Query("SELECT count(*) FROM lanes WHERE integration_id = 'int_b'"),
            (std::vector<std::vector<std::string>>{{"0"}}));
  EXPECT_EQ(Claim(300, 100, 1).size(), 25u);
}

TEST_P(OutboxStoreTest, RecordAndClaimRecordsFirstThenClaimsWhatIsDue) {
  AddMessage("u1", 100, {"int_a", "int_b"});
  auto claimed = Claim(100, 10, 1);
  ASSERT_EQ(claimed.size(), 2u);
  ClaimRequest at_150{150, 1150, 2, 10, {}};
  auto none = store_->RecordAndClaim({Outcome(claimed[0], DeliveryStatus::kPending, 900),
                                      Outcome(claimed[1], DeliveryStatus::kSucceeded, 0, 200)},
                                     150, testing::kNoBreaker, at_150);
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_TRUE(none->claimed.empty()) << "the retry is due at 900";
  EXPECT_EQ(store_->CountDeliveries()->pending, 1);
  ClaimRequest at_900{900, 1900, 3, 10, {}};
  auto due = store_->RecordAndClaim({}, 900, testing::kNoBreaker, at_900);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->claimed.size(), 1u);
  EXPECT_EQ(due->claimed[0].id, claimed[0].id);
  EXPECT_EQ(due->claimed[0].lease_token, 3);
}

TEST_P(OutboxStoreTest, AnErasedUsersFinishedDeliveriesLoseTheirBytesAndWaitingOnesAreSent) {
  AddMessage("usr_1", 100, {"int_a", "int_b"});
  auto claimed = Claim(100, 10, 1);
  ASSERT_EQ(claimed.size(), 2u);
  // int_a's delivery succeeded; int_b's is still due (a retry).
  ASSERT_TRUE(store_
                  ->RecordOutcomes({Outcome(claimed[0], DeliveryStatus::kSucceeded, 0, 200),
                                    Outcome(claimed[1], DeliveryStatus::kPending, 300)},
                                   150, testing::kNoBreaker)
                  .ok());
  ASSERT_TRUE(
      store_
          ->Write([&](WriteTransaction& txn) -> Status {
            RELAY_RETURN_IF_ERROR(txn.PutUser(ConsentUserRow{"usr_1", "org", "ou-1", "{}", 1, 1}));
            return txn.DeleteUser("org", "usr_1");
          })
          .ok());
  auto erased = store_->EraseFinished(200);
  ASSERT_TRUE(erased.ok()) << erased.status().message();
  EXPECT_EQ(*erased, 1);
  DeliveryRow done = Get(claimed[0].integration_id, claimed[0].id);
  EXPECT_TRUE(done.erased);
  EXPECT_TRUE(done.payload.empty());
  ASSERT_EQ(done.attempts.size(), 1u);
  EXPECT_TRUE(done.attempts[0].response_body.empty());
  DeliveryRow waiting = Get(claimed[1].integration_id, claimed[1].id);
  EXPECT_FALSE(waiting.erased) << "what waits is still sent";
  EXPECT_EQ(waiting.payload, claimed[1].payload);
  // Once it ends, it is erased too.
  auto again = Claim(300, 10, 2);
  ASSERT_EQ(again.size(), 1u);
  ASSERT_TRUE(
      store_->RecordOutcomes({Outcome(again[0], DeliveryStatus::kDead)}, 310, testing::kNoBreaker)
          .ok());
  EXPECT_EQ(*store_->EraseFinished(320), 1);
  DeliveryRow dead = Get(claimed[1].integration_id, claimed[1].id);
  EXPECT_TRUE(dead.erased);
  EXPECT_EQ(dead.status, DeliveryStatus::kCancelled) << "nothing left to replay";
}

// A disabled integration sends nothing until it is enabled again, which may be never: an erased
// user's deliveries waiting for it are cancelled and lose their bytes at once. Those of an enabled
// integration still go out (and are erased when they end), and a lane a node holds is left to end.
TEST_P(OutboxStoreTest, AnErasedUsersDeliveriesWaitingForADisabledIntegrationLoseTheirBytesNow) {
  AddIntegration("int_off", /*enabled=*/true);
  AddMessage("usr_1", 100, {"int_a", "int_off"});
  AddMessage("usr_1", 110, {"int_off"});
  AddMessage("usr_2", 100, {"int_off"});  // another user's: kept
  Query("UPDATE integrations SET enabled = 0 WHERE id = 'int_off'");
  ASSERT_TRUE(
      store_
          ->Write([&](WriteTransaction& txn) -> Status {
            RELAY_RETURN_IF_ERROR(txn.PutUser(ConsentUserRow{"usr_1", "org", "ou-1", "{}", 1, 1}));
            return txn.DeleteUser("org", "usr_1");
          })
          .ok());
  auto erased = store_->EraseFinished(200);
  ASSERT_TRUE(erased.ok()) << erased.status().message();
  EXPECT_EQ(*erased, 2);
  EXPECT_EQ(Query("SELECT d.status, CASE WHEN d.erased_at IS NULL THEN 0 ELSE 1 END FROM "
                  "deliveries d JOIN messages m ON m.seq = d.message_seq WHERE d.integration_id = "
                  "'int_off' ORDER BY m.ordering_key, d.seq"),
            (std::vector<std::vector<std::string>>{
                {"cancelled", "1"}, {"cancelled", "1"}, {"pending", "0"}}));
  // The bytes are the message's: gone where nothing waits to send them (int_a still does).
  EXPECT_EQ(
      Query("SELECT ordering_key, CASE WHEN payload = '' THEN 1 ELSE 0 END FROM messages "
            "ORDER BY seq"),
      (std::vector<std::vector<std::string>>{{"usr_1", "0"}, {"usr_1", "1"}, {"usr_2", "0"}}));
  EXPECT_EQ(Query("SELECT count(*) FROM lanes WHERE integration_id = 'int_off'"),
            (std::vector<std::vector<std::string>>{{"1"}}))
      << "usr_1's lane is gone; usr_2's waits";
  // int_a's delivery is still sent, then erased; the erasure is done once nothing waits.
  auto claimed = Claim(300, 10, 1);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].integration_id, "int_a");
  EXPECT_FALSE(Get("int_a", claimed[0].id).erased);
  ASSERT_TRUE(store_
                  ->RecordOutcomes({Outcome(claimed[0], DeliveryStatus::kSucceeded, 0, 200)}, 310,
                                   testing::kNoBreaker)
                  .ok());
  EXPECT_EQ(*store_->EraseFinished(320), 1);
  EXPECT_EQ(Query("SELECT count(*) FROM messages WHERE ordering_key = 'usr_1' AND payload <> ''"),
            (std::vector<std::vector<std::string>>{{"0"}}));
  EXPECT_EQ(Query("SELECT count(*) FROM erasures"), (std::vector<std::vector<std::string>>{{"0"}}));
}

RELAY_STORE_SUITE(OutboxStoreTest);

}  // namespace
}  // namespace relay::store
