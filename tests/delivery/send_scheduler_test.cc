#include "delivery/send_scheduler.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace relay::delivery {
namespace {

class SendSchedulerTest : public ::testing::Test {
 protected:
  SendScheduler::Limits limits_{/*max_in_flight=*/4, /*per_integration=*/2,
                                /*breaker_failures=*/3};
  ManualClock clock_{1'000'000};
  std::set<int64_t> probes_;
  std::map<std::string, int> rates_;
  std::map<int64_t, std::string> integration_of_;

  void Queue(SendScheduler& s, const std::string& integration, int64_t seq, bool front = false) {
    integration_of_[seq] = integration;
    s.Queue(integration, seq, front);
  }
  std::vector<int64_t> Take(SendScheduler& s) {
    return s.TakeStartable([this](int64_t seq) {
      SendScheduler::Candidate c;
      c.probe = probes_.count(seq) > 0;
      auto rate = rates_.find(integration_of_[seq]);
      c.rate_per_second = rate == rates_.end() ? 0 : rate->second;
      return c;
    });
  }
};

TEST_F(SendSchedulerTest, EachIntegrationAndTheEngineStayWithinTheirCaps) {
  SendScheduler s(limits_, clock_);
  for (int64_t seq = 1; seq <= 3; ++seq) Queue(s, "a", seq);
  for (int64_t seq = 11; seq <= 12; ++seq) Queue(s, "b", seq);
  Queue(s, "c", 21);
  EXPECT_EQ(s.claimed("a"), 3);
  EXPECT_EQ(Take(s), (std::vector<int64_t>{1, 2, 11, 12}));  // 2 each, then the engine is full
  EXPECT_EQ(s.sending(), 4);
  EXPECT_TRUE(Take(s).empty());
  s.Done("b", /*was_sending=*/true);
  EXPECT_EQ(Take(s), (std::vector<int64_t>{21}));  // "a" is at its cap, "b" has none left
  s.Done("a", true);
  EXPECT_EQ(Take(s), (std::vector<int64_t>{3}));
  EXPECT_EQ(s.ClaimedAtLeast(3), std::vector<std::string>{});
  EXPECT_EQ(s.ClaimedAtLeast(2), std::vector<std::string>{"a"});  // for the claim to leave out
}

TEST_F(SendSchedulerTest, TheFrontOfAQueueIsForProbesAndALanesNextDelivery) {
  SendScheduler s(limits_, clock_);
  Queue(s, "a", 1);
  Queue(s, "a", 2);
  Queue(s, "a", 3, /*front=*/true);
  EXPECT_EQ(Take(s), (std::vector<int64_t>{3, 1}));
}

TEST_F(SendSchedulerTest, ARunOfFailuresHereHoldsAllButTheProbeUntilTheStoreAnswers) {
  SendScheduler s(limits_, clock_);
  store::HealthReport report;
  report.integration_id = "a";
  report.health.consecutive_failures = 1;
  s.Reported({report});  // the store knows of one failure
  s.NoteAttempt("a", false);
  EXPECT_FALSE(s.Suspect("a"));  // 2 of 3
  s.NoteAttempt("a", false);
  EXPECT_TRUE(s.Suspect("a"));  // 3 of 3: the breaker may have opened
  probes_ = {2};
  Queue(s, "a", 1);
  Queue(s, "a", 2, /*front=*/true);
  Queue(s, "b", 9);
  EXPECT_EQ(Take(s), (std::vector<int64_t>{2, 9}));  // the probe, and the other integration
  // Sent with a round trip that failed, they still count; once the store answers, its word holds.
  s.Submitted();
  EXPECT_TRUE(s.Suspect("a"));
  s.SubmitFailed();
  EXPECT_TRUE(s.Suspect("a"));
  s.Submitted();
  report.health.consecutive_failures = 0;  // another node's success reset it
  s.Reported({report});
  EXPECT_FALSE(s.Suspect("a"));
  EXPECT_EQ(Take(s), (std::vector<int64_t>{1}));
}

TEST_F(SendSchedulerTest, ASuccessClearsTheRunAndAHeldIntegrationForgetsIt) {
  SendScheduler s(limits_, clock_);
  for (int i = 0; i < 3; ++i) s.NoteAttempt("a", false);
  EXPECT_TRUE(s.Suspect("a"));
  s.NoteAttempt("a", true);
  EXPECT_FALSE(s.Suspect("a"));
  for (int i = 0; i < 3; ++i) s.NoteAttempt("a", false);
  s.Submitted();
  store::HealthReport held;
  held.integration_id = "a";
  held.enabled = false;
  s.Reported({held});
  EXPECT_FALSE(s.Suspect("a"));
}

TEST_F(SendSchedulerTest, ARateLimitLetsOneSecondOfBurstThenRefillsWithTheClock) {
  SendScheduler::Limits wide{100, 100, 0};
  SendScheduler s(wide, clock_);
  rates_["a"] = 2;
  for (int64_t seq = 1; seq <= 5; ++seq) Queue(s, "a", seq);
  EXPECT_EQ(Take(s), (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(Take(s).empty());
  clock_.AdvanceMillis(499);
  EXPECT_TRUE(Take(s).empty());
  clock_.AdvanceMillis(1);
  EXPECT_EQ(Take(s), (std::vector<int64_t>{3}));
  clock_.AdvanceMillis(10'000);  // a long pause banks no more than one second
  EXPECT_EQ(Take(s), (std::vector<int64_t>{4, 5}));
}

TEST_F(SendSchedulerTest, TakingQueuedDeliveriesBackKeepsTheCountsTrue) {
  SendScheduler s(limits_, clock_);
  Queue(s, "a", 1);
  Queue(s, "a", 2);
  Queue(s, "a", 3);
  Queue(s, "b", 4);
  EXPECT_EQ(s.TakeQueuedOf("a", [](int64_t seq) { return seq == 2; }),
            (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(s.claimed("a"), 1);
  auto all = s.TakeAllQueued();
  EXPECT_EQ(all.size(), 2u);
  EXPECT_EQ(s.claimed("a"), 0);
  EXPECT_EQ(s.claimed("b"), 0);
  EXPECT_FALSE(s.has_queued());
  EXPECT_TRUE(Take(s).empty());
}

}  // namespace
}  // namespace relay::delivery
