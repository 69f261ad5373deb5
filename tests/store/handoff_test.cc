// The handoff (store/handoff.h), on the store one process owns: a write that starts a lane claims
// its head, and what follows it in the same write, under the lease the handoff gave, and hands
// them over once committed; a write that fails hands nothing and gives its room back; without room,
// or for an integration that may not send, the delivery waits for a claim as before. PostgreSQL
// nodes claim for themselves: there the store ignores a handoff.
#include <mutex>
#include <optional>

#include "store/store_fixture.h"

namespace relay::testing {
namespace {

// A handoff that records what the store asks of it, with room for `room` reservations.
class RecordingHandoff final : public store::Handoff {
 public:
  explicit RecordingHandoff(int room) : room_(room) {}
  std::optional<store::HandoffLease> Reserve(const std::string& integration, int64_t now) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (room_ <= 0) return std::nullopt;
    --room_;
    reserved.push_back(integration);
    return store::HandoffLease{777, now + 5000};
  }
  void Deliver(std::vector<store::ClaimedDelivery> claimed) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& c : claimed) delivered.push_back(std::move(c));
  }
  void Cancel(const std::vector<std::string>& integrations) override {
    std::lock_guard<std::mutex> lock(mu_);
    room_ += static_cast<int>(integrations.size());
    cancelled.insert(cancelled.end(), integrations.begin(), integrations.end());
  }
  std::vector<std::string> reserved;
  std::vector<store::ClaimedDelivery> delivered;
  std::vector<std::string> cancelled;

 private:
  std::mutex mu_;
  int room_;
};

class HandoffTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    PutIntegration("org", "int_a");
    handoff_ = std::make_shared<RecordingHandoff>(room_);
    store_->SetHandoff(handoff_);
  }
  void TearDown() override {
    if (store_) store_->SetHandoff(nullptr);
    StoreTest::TearDown();
  }
  // One write: for each key, a message with one delivery to int_a, due now (100); `fail` makes
  // the write fail after them.
  Status Put(const std::vector<std::string>& keys, bool fail = false) {
    static int n = 0;
    return store_->Write([&](store::WriteTransaction& txn) -> Status {
      for (const auto& key : keys) {
        const std::string id = "msg_" + std::to_string(++n);
        store::MessageRow m{id, "org", "event.created", "gdpr", key, "{\"n\":1}", 100, ""};
        store::DeliveryRow d;
        d.id = "dlv_" + id;
        d.organization_id = "org";
        d.integration_id = "int_a";
        d.next_attempt_at = 100;
        d.created_at = 100;
        RELAY_RETURN_IF_ERROR(txn.InsertMessage(m, {d}));
      }
      return fail ? InvalidArgument("the rest of the request was bad") : Status::Ok();
    });
  }
  std::vector<store::ClaimedDelivery> Claim() {
    auto claimed = store_->ClaimDeliveries(store::ClaimRequest{200, 1200, 9, 100, {}});
    EXPECT_TRUE(claimed.ok());
    return claimed.ok() ? *claimed : std::vector<store::ClaimedDelivery>{};
  }
  int room_ = 10;
  std::shared_ptr<RecordingHandoff> handoff_;
};

TEST_P(HandoffTest, ANewLanesHeadAndWhatFollowsItInTheSameWriteAreHandedOverClaimed) {
  if (postgres()) {
    ASSERT_TRUE(Put({"usr_1"}).ok());
    EXPECT_TRUE(handoff_->reserved.empty()) << "PostgreSQL nodes claim for themselves";
    EXPECT_EQ(Claim().size(), 1u);
    return;
  }
  ASSERT_TRUE(Put({"usr_1", "usr_1", "usr_2"}).ok());
  ASSERT_EQ(handoff_->delivered.size(), 3u);
  EXPECT_EQ(handoff_->delivered[0].lane_id, handoff_->delivered[1].lane_id) << "usr_1's lane";
  EXPECT_LT(handoff_->delivered[0].seq, handoff_->delivered[1].seq) << "in lane order";
  EXPECT_NE(handoff_->delivered[0].lane_id, handoff_->delivered[2].lane_id);
  for (const auto& c : handoff_->delivered) {
    EXPECT_EQ(c.lease_token, 777);
    EXPECT_EQ(c.payload, "{\"n\":1}");
    EXPECT_EQ(c.integration_id, "int_a");
    EXPECT_EQ(c.attempt_count, 0);
  }
  EXPECT_EQ(Query("SELECT status, lease_token, lease_until FROM deliveries ORDER BY seq"),
            (std::vector<std::vector<std::string>>{{"in_flight", "777", "5100"},
                                                   {"in_flight", "777", "5100"},
                                                   {"in_flight", "777", "5100"}}));
  EXPECT_EQ(Query("SELECT state, lease_token FROM lanes ORDER BY lane_id"),
            (std::vector<std::vector<std::string>>{{"in_flight", "777"}, {"in_flight", "777"}}));
  EXPECT_TRUE(Claim().empty()) << "nothing is left for a claim";
  // The outcome of a handed delivery is fenced by its lease like a claimed one's, and moves its
  // lane on.
  store::DeliveryOutcome ok;
  ok.seq = handoff_->delivered[2].seq;
  ok.lease_token = 777;
  ok.integration_id = "int_a";
  ok.status = store::DeliveryStatus::kSucceeded;
  ok.attempt = store::AttemptRow{1, 150, 1, 200, "", ""};
  ASSERT_TRUE(store_->RecordOutcomes({ok}, 160, kNoBreaker).ok());
  EXPECT_EQ(Query("SELECT count(*) FROM lanes"), (std::vector<std::vector<std::string>>{{"1"}}));
}

TEST_P(HandoffTest, AFailedWriteHandsNothingAndGivesItsRoomBack) {
  if (postgres()) GTEST_SKIP() << "the handoff is the embedded store's";
  EXPECT_FALSE(Put({"usr_1", "usr_2"}, /*fail=*/true).ok());
  EXPECT_TRUE(handoff_->delivered.empty());
  EXPECT_EQ(handoff_->cancelled, (std::vector<std::string>{"int_a", "int_a"}));
  EXPECT_EQ(Query("SELECT count(*) FROM deliveries"),
            (std::vector<std::vector<std::string>>{{"0"}}));
}

TEST_P(HandoffTest, WithoutRoomOrForAHeldIntegrationADeliveryWaitsForAClaim) {
  if (postgres()) GTEST_SKIP() << "the handoff is the embedded store's";
  // A lane started by an earlier write: its new delivery follows, pending, and is not handed over.
  ASSERT_TRUE(Put({"usr_1"}).ok());
  ASSERT_TRUE(Put({"usr_1"}).ok());
  EXPECT_EQ(handoff_->delivered.size(), 1u);
  // A disabled integration sends nothing: it is not handed over, nor due.
  Query("UPDATE integrations SET enabled = 0 WHERE id = 'int_a'");
  ASSERT_TRUE(Put({"usr_2"}).ok());
  EXPECT_EQ(handoff_->delivered.size(), 1u);
  Query("UPDATE integrations SET enabled = 1 WHERE id = 'int_a'");
  // No room: the head waits for a claim, due now.
  store_->SetHandoff(std::make_shared<RecordingHandoff>(0));
  ASSERT_TRUE(Put({"usr_3"}).ok());
  auto claimed = Claim();
  EXPECT_EQ(claimed.size(), 2u) << "usr_2's and usr_3's heads; usr_1's lane is in flight";
}

RELAY_STORE_SUITE(HandoffTest);

}  // namespace
}  // namespace relay::testing
