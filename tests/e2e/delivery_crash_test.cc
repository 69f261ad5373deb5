// Crash safety of the delivery engine: SIGKILL mid-delivery loses nothing, SIGTERM drains.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <atomic>
#include <boost/json.hpp>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "e2e/delivery_fixture.h"

namespace relay::testing {
namespace {
namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// The event ids a receiver has seen in event.created payloads, with how often.
std::map<std::string, int> ReceivedEventIds(const TestReceiver& receiver) {
  std::map<std::string, int> seen;
  for (const auto& r : receiver.Requests()) {
    boost::system::error_code ec;
    auto v = json::parse(r.body, ec);
    if (ec) continue;
    seen[std::string(v.at("parameters").at("entity").at("id").as_string())]++;
  }
  return seen;
}

class DeliveryCrashTest : public DeliveryFixture {
 protected:
  TestReceiver receiver_;
};

TEST_F(DeliveryCrashTest, SigkillMidDeliveryLosesNoAcknowledgedMessage) {
  // A slightly slow endpoint keeps deliveries in flight when the kill comes.
  receiver_.SetHandler([](const ReceivedRequest&) { return ReplyWith(200, "ok", 15); });
  // On PostgreSQL other nodes may hold claims, so a restarted node waits for the killed one's
  // leases to run out instead of releasing them at start. The default lease is short enough
  // (its holder renews it) that every acknowledged event still arrives within 30 s.
  std::vector<std::string> lease;
  StartRelay(lease);
  auto integration = CreateIntegration(receiver_.Url(), R"("events":["event.created"])");
  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  std::cout << "delivery crash test seed " << seed << std::endl;

  std::mutex mu;
  std::set<std::string> acknowledged;
  for (int round = 0; round < 3; ++round) {
    if (round > 0) {
      std::vector<std::string> args = {"--allow-destination", "127.0.0.0/8"};
      args.insert(args.end(), lease.begin(), lease.end());
      StartServer(args);
    }
    std::atomic<bool> killed{false};
    std::thread poster([&] {
      auto deadline = std::chrono::steady_clock::now() + seconds(30);
      for (int n = 0; std::chrono::steady_clock::now() < deadline; ++n) {
        std::string id = "kill-" + std::to_string(round) + "-" + std::to_string(n);
        HttpResult r = Call("POST", Path("/v1/consents/events"), token_,
                            R"({"id":")" + id + R"(","user":{"organization_user_id":"u)" +
                                std::to_string(n % 13) + R"("},"consents":{}})");
        if (r.status == 201) {
          std::lock_guard<std::mutex> lock(mu);
          acknowledged.insert(id);
        } else {
          EXPECT_TRUE(killed.load()) << r.status << " " << r.body << r.error;
          return;
        }
      }
    });
    std::uniform_int_distribution<int> delay(200, 700);
    std::this_thread::sleep_for(milliseconds(delay(rng)));  // the random moment of the kill
    killed = true;
    kill(server_.pid(), SIGKILL);
    poster.join();
    server_.Kill();
  }
  StartServer({"--allow-destination", "127.0.0.0/8"});
  bool all = WaitUntil(
      [&] {
        auto seen = ReceivedEventIds(receiver_);
        for (const auto& id : acknowledged) {
          if (!seen.count(id)) return false;
        }
        return true;
      },
      seconds(30));
  auto seen = ReceivedEventIds(receiver_);
  size_t missing = 0;
  for (const auto& id : acknowledged) missing += seen.count(id) ? 0 : 1;
  EXPECT_TRUE(all) << missing << " acknowledged messages never arrived";
  size_t duplicates = 0;
  for (const auto& [id, n] : seen) duplicates += static_cast<size_t>(n - 1);
  std::cout << "acknowledged " << acknowledged.size() << ", received " << seen.size()
            << " distinct, " << duplicates << " duplicates" << std::endl;
  // Nothing stays claimed by the dead processes.
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Deliveries(integration.id, "status=in_flight").empty() &&
               Deliveries(integration.id, "status=pending").empty();
      },
      seconds(20)));
}

TEST_F(DeliveryCrashTest, SigtermLetsDeliveriesInFlightFinishAndExitsZero) {
  receiver_.SetHandler([](const ReceivedRequest&) { return ReplyWith(200, "ok", 700); });
  StartRelay({"--shutdown-grace", "5"});
  auto integration = CreateIntegration(receiver_.Url(), R"("events":["event.created"])");
  for (int i = 0; i < 5; ++i) PostEvent("u-" + std::to_string(i));
  ASSERT_TRUE(receiver_.WaitForCount(5, seconds(10)));
  auto stopping = std::chrono::steady_clock::now();
  EXPECT_EQ(server_.Stop(seconds(15)), 0);
  auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - stopping);
  EXPECT_LT(took.count(), 5000);
  // The deliveries in flight at SIGTERM finished and were recorded before the exit.
  StartServer({"--allow-destination", "127.0.0.0/8", "--no-dispatch"});
  auto done = Deliveries(integration.id, "status=succeeded");
  EXPECT_EQ(done.size(), 5u);
  EXPECT_EQ(receiver_.Count(), 5u);
}

TEST_F(DeliveryCrashTest, SigtermPastTheGracePutsDeliveriesBack) {
  receiver_.SetHandler([](const ReceivedRequest&) { return ReplyWith(200, "ok", 5000); });
  StartRelay({"--shutdown-grace", "1"});
  auto integration = CreateIntegration(receiver_.Url(), R"("events":["event.created"])");
  PostEvent("u-1");
  ASSERT_TRUE(receiver_.WaitForCount(1, seconds(10)));
  EXPECT_EQ(server_.Stop(seconds(15)), 0);
  receiver_.SetHandler([](const ReceivedRequest&) { return ReplyWith(200); });
  StartServer({"--allow-destination", "127.0.0.0/8"});
  ASSERT_TRUE(WaitForStatus(integration.id, "succeeded", 1));
  auto d = Deliveries(integration.id)[0];
  EXPECT_EQ(d.at("attempts").as_array().size(), 1u) << "the interrupted try was not counted";
}

// A lease is renewed while its holder works: an attempt that outlasts several lease periods is
// never claimed again and sent a second time meanwhile.
TEST_F(DeliveryCrashTest, AnAttemptOutlastingSeveralLeasesIsSentOnce) {
  receiver_.SetHandler([](const ReceivedRequest&) { return ReplyWith(200, "ok", 3500); });
  StartRelay({"--lease", "1s"});
  auto integration = CreateIntegration(receiver_.Url(), R"("events":["event.created"])");
  for (int i = 0; i < 3; ++i) PostEvent("u-" + std::to_string(i));
  ASSERT_TRUE(WaitForStatus(integration.id, "succeeded", 3, seconds(30)));
  // A second claim would have been sent a second after the first, long before the first ended.
  EXPECT_EQ(receiver_.Count(), 3u);
  for (const auto& [id, n] : ReceivedEventIds(receiver_)) EXPECT_EQ(n, 1) << id;
  for (const auto& d : Deliveries(integration.id)) {
    EXPECT_EQ(d.at("attempts").as_array().size(), 1u) << json::serialize(d);
  }
}

// SIGTERM ends the process in bounded time even when the store cannot record the last outcomes
// (here another connection holds SQLite's write lock); what was not recorded is sent again.
TEST_F(DeliveryCrashTest, SigtermEndsInTimeWhenTheStoreCannotRecordAndNothingIsLost) {
  if (UsingPostgres()) GTEST_SKIP() << "holds the embedded store's write lock";
  receiver_.SetHandler([](const ReceivedRequest&) { return ReplyWith(200, "ok", 1500); });
  StartRelay({"--shutdown-grace", "1"});
  auto integration = CreateIntegration(receiver_.Url(), R"("events":["event.created"])");
  for (int i = 0; i < 3; ++i) PostEvent("u-" + std::to_string(i));
  ASSERT_TRUE(receiver_.WaitForCount(3, seconds(10)));
  sqlite3* blocker = nullptr;
  ASSERT_EQ(sqlite3_open((DataDir() + "/relay.db").c_str(), &blocker), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto stopping = std::chrono::steady_clock::now();
  int code = server_.Stop(seconds(40));
  auto took = std::chrono::duration_cast<seconds>(std::chrono::steady_clock::now() - stopping);
  EXPECT_NE(code, -1) << "the process did not stop";
  EXPECT_LE(took.count(), 15) << "grace 1 s, a busy store: the stop must still be bounded";
  EXPECT_NE(server_.Logs().find("unrecorded"), std::string::npos) << server_.Logs();
  sqlite3_exec(blocker, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(blocker);
  receiver_.SetHandler([](const ReceivedRequest&) { return ReplyWith(200); });
  StartServer({"--allow-destination", "127.0.0.0/8"});
  EXPECT_TRUE(WaitForStatus(integration.id, "succeeded", 3, seconds(20)))
      << "the deliveries whose outcomes were lost are sent again";
}

}  // namespace
}  // namespace relay::testing
