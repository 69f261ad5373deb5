// Per-user ordering: a user's deliveries reach an endpoint one at a time, in the order the user's
// changes committed, however the endpoint fails; other users' lanes go on meanwhile. On both
// stores (the "pg." variants run the same tests against PostgreSQL).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "e2e/delivery_fixture.h"
#include "e2e/flaky_event_receiver.h"
#include "support/test_receiver.h"

namespace relay::testing {
namespace {
namespace json = boost::json;
using std::chrono::seconds;

// Each test's receiver is a local declared after what its handler captures, so that it stops
// (and no late retry reaches the handler) before those are gone.
class OrderingTest : public DeliveryFixture {};

TEST_F(OrderingTest, TheOrderingPropertyIsShownAndAnUnknownValueRefused) {
  StartRelay();
  TestReceiver receiver_;
  HttpResult bad = Call("POST", Path("/v1/marketplace/integrations"), token_,
                        R"({"type_id":"webhook-http","properties":{"url":")" + receiver_.Url() +
                            R"(","ordering":"fifo"}})");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_NE(bad.body.find("properties.ordering"), std::string::npos) << bad.body;
  auto created = CreateIntegration(receiver_.Url());
  HttpResult got = Call("GET", Path("/v1/marketplace/integrations/" + created.id), token_);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.Json().at("properties").at("ordering"), "per_user") << "the default";
  HttpResult patched =
      Call("PATCH", Path("/v1/marketplace/integrations/" + created.id), token_,
           R"({"properties":{"url":")" + receiver_.Url() + R"(","ordering":"none"}})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.Json().at("properties").at("ordering"), "none");
}

// The proof the issue asks for: users each make several changes in sequence while the endpoint
// fails 30% of requests at random, after a random delay. Every change arrives (none goes dead:
// the schedule allows many retries), and each user's accepted webhooks come in the order the
// changes were made.
TEST_F(OrderingTest, EachUsersChangesArriveInOrderThroughAFlakySlowEndpoint) {
  StartRelay({"--retry-schedule",
              "30ms,60ms,60ms,60ms,60ms,60ms,60ms,60ms,60ms,60ms,60ms,60ms,60ms,60ms,60ms"});
  FlakyEventReceiver receiver(20261130);
  CreateIntegration(receiver.Url(), R"("events":["event.created"])");
  constexpr int kUsers = 8;
  constexpr int kChanges = 5;
  std::map<std::string, std::vector<std::string>> made;  // user -> event ids, as made
  for (int c = 0; c < kChanges; ++c) {
    for (int u = 0; u < kUsers; ++u) {
      const std::string user = "user-" + std::to_string(u);
      json::object event = PostEvent(user, "purpose-" + std::to_string(c));
      made[user].push_back(std::string(event.at("id").as_string()));
    }
  }
  ASSERT_TRUE(receiver.WaitForAccepted(kUsers * kChanges, seconds(60)));
  EXPECT_EQ(receiver.AcceptedCount(), static_cast<size_t>(kUsers * kChanges))
      << "each accepted once";
  EXPECT_EQ(receiver.Overlaps(), 0);
  EXPECT_EQ(receiver.Accepted(), made);
}

// A hot lane: one user's 40 changes wait behind their first, which fails once, then go out. The
// dispatcher holds the lane and sends each next delivery right after the one before it succeeds,
// without a claim (relay_lane_chained_total). The order is the order of the changes, one request
// at a time.
TEST_F(OrderingTest, AHotLaneGoesOnWithoutAClaimAfterEachSuccessAndKeepsItsOrder) {
  StartRelay({"--retry-schedule", "1s"});
  std::mutex mu;
  std::vector<std::string> accepted;
  int calls = 0, at_once = 0, overlaps = 0;
  TestReceiver receiver;
  receiver.SetHandler([&](const ReceivedRequest& r) {
    std::unique_lock<std::mutex> lock(mu);
    if (++at_once > 1) ++overlaps;
    const bool fail = ++calls == 1;
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    lock.lock();
    --at_once;
    if (fail) return ReplyWith(503, "{}");
    accepted.push_back(EventAndUser(r).first);
    return ReplyWith(200, "{}");
  });
  CreateIntegration(receiver.Url(), R"("events":["event.created"])");
  std::vector<std::string> made;
  for (int c = 0; c < 40; ++c) {
    json::object event = PostEvent("hot-user", "purpose-" + std::to_string(c));
    made.push_back(std::string(event.at("id").as_string()));
  }
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  std::unique_lock<std::mutex> lock(mu);
  while (accepted.size() < made.size() && std::chrono::steady_clock::now() < deadline) {
    lock.unlock();
    receiver.WaitForCount(static_cast<size_t>(calls) + 1, std::chrono::milliseconds(100));
    lock.lock();
  }
  ASSERT_EQ(accepted.size(), made.size());
  for (size_t i = 0; i < made.size(); ++i) EXPECT_EQ(accepted[i], made[i]) << "change " << i;
  EXPECT_EQ(overlaps, 0);
  HttpResult metrics = HttpRequest("GET", Url("/metrics"));
  const std::string line = "\nrelay_lane_chained_total ";
  const size_t at = metrics.body.find(line);
  ASSERT_NE(at, std::string::npos);
  EXPECT_GE(std::stoll(metrics.body.substr(at + line.size())), 10)
      << "most successes were followed at once by the next change";
}

// A user whose webhook keeps failing holds only their own lane: the next change of that user
// waits (no attempt at all) while other users' changes go out; once the head is dead the lane
// goes on. With "ordering": "none" the second change does not wait.
TEST_F(OrderingTest, AFailingHeadHoldsOnlyItsOwnLaneUntilItIsDead) {
  StartRelay({"--retry-schedule", "300ms,300ms,300ms"});
  std::mutex mu;
  std::string failing_event;
  TestReceiver receiver_;
  receiver_.SetHandler([&](const ReceivedRequest& r) {
    std::lock_guard<std::mutex> lock(mu);
    return EventAndUser(r).first == failing_event ? ReplyWith(503, "down") : ReplyWith(200);
  });
  auto ordered = CreateIntegration(receiver_.Url(), R"("events":["event.created"])");
  TestReceiver unordered_receiver;
  unordered_receiver.SetHandler([&](const ReceivedRequest& r) {
    std::lock_guard<std::mutex> lock(mu);
    return EventAndUser(r).first == failing_event ? ReplyWith(503, "down") : ReplyWith(200);
  });
  auto unordered = CreateIntegration(unordered_receiver.Url(),
                                     R"("events":["event.created"],"ordering":"none")");
  {
    // The first change of user-a fails everywhere; its id is known only once it is made, so
    // the receivers hold it back until then.
    std::lock_guard<std::mutex> lock(mu);
    failing_event = std::string(PostEvent("user-a", "p1").at("id").as_string());
  }
  const std::string a2(PostEvent("user-a", "p2").at("id").as_string());
  const std::string b1(PostEvent("user-b", "p1").at("id").as_string());
  auto received = [](const TestReceiver& r, const std::string& event) {
    for (const auto& req : r.Requests()) {
      if (EventAndUser(req).first == event) return true;
    }
    return false;
  };
  // Without ordering, a2 goes out at once; with it, b1 does but a2 waits.
  ASSERT_TRUE(WaitUntil([&] { return received(unordered_receiver, a2); }, seconds(10)));
  ASSERT_TRUE(WaitUntil([&] { return received(receiver_, b1); }, seconds(10)));
  EXPECT_FALSE(received(receiver_, a2)) << "a2 overtook the failing head of its lane";
  // The head has 4 attempts 300 ms apart, then is dead; then a2 goes.
  ASSERT_TRUE(WaitUntil([&] { return received(receiver_, a2); }, seconds(15)));
  // Every attempt of the head came before a2's first.
  std::vector<ReceivedRequest> requests = receiver_.Requests();
  size_t last_head = 0, first_a2 = requests.size();
  for (size_t i = 0; i < requests.size(); ++i) {
    const std::string id = EventAndUser(requests[i]).first;
    if (id == failing_event) last_head = i;
    if (id == a2 && first_a2 == requests.size()) first_a2 = i;
  }
  EXPECT_LT(last_head, first_a2);
  EXPECT_EQ(Deliveries(ordered.id, "status=dead").size(), 1u)
      << "the lane went on once its head was dead";
  EXPECT_TRUE(
      WaitUntil([&] { return Deliveries(unordered.id, "status=dead").size() == 1; }, seconds(10)));
}

}  // namespace
}  // namespace relay::testing
