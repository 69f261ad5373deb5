// Crash safety of the delivery engine: SIGKILL mid-delivery loses nothing, SIGTERM drains.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <boost/json.hpp>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "integration/delivery_fixture.h"

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
  // leases to run out instead of releasing them at start: a short lease keeps the test short.
  std::vector<std::string> lease;
  if (UsingPostgres()) lease = {"--lease", "3s"};
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

}  // namespace
}  // namespace relay::testing
