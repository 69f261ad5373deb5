// Several nodes on one PostgreSQL database: any node takes API calls, any node delivers, and a
// node that dies loses nothing. Runs in the pg.* suite only (the embedded store has one node).
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "e2e/delivery_fixture.h"
#include "e2e/flaky_event_receiver.h"

namespace relay::testing {
namespace {
namespace json = boost::json;
using std::chrono::seconds;

class ClusterTest : public DeliveryFixture {
 protected:
  void SetUp() override {
    if (!UsingPostgres()) GTEST_SKIP() << "several nodes share a PostgreSQL database only";
  }

  // Node i (0-based): its own data directory, the first node's master key, a short lease so that
  // a killed node's deliveries come back within the test.
  std::vector<std::string> NodeArgs(int i) {
    return {"--data-dir",
            DataDir() + "/node" + std::to_string(i),
            "--master-key-file",
            DataDir() + "/master.key",
            "--allow-destination",
            "127.0.0.0/8",
            "--lease",
            "2s",
            "--shutdown-grace",
            "2"};
  }

  TestReceiver receiver_;
};

TEST_F(ClusterTest, ThreeNodesOneKilledOneStoppedEveryAcknowledgedMessageDelivered) {
  // The first node creates the master key the others are given; a node with another key would
  // refuse to start against this database.
  StartRelay({"--lease", "2s", "--shutdown-grace", "2"});
  std::vector<std::unique_ptr<ServerProcess>> nodes;
  for (int i = 1; i <= 2; ++i) {
    nodes.push_back(std::make_unique<ServerProcess>());
    ASSERT_TRUE(nodes.back()->Start(NodeArgs(i))) << nodes.back()->error();
  }
  std::vector<std::string> urls = {server_.base_url(), nodes[0]->base_url(), nodes[1]->base_url()};

  // Two integrations, two receivers; each counts deliveries by webhook-id.
  TestReceiver second;
  CreateIntegration(receiver_.Url("/a"));
  CreateIntegration(second.Url("/b"));

  // A session from node 0 works on every node: they share the signing key.
  ASSERT_EQ(HttpRequest("GET", urls[2] + Path("/v1/marketplace/integrations"), "",
                        {"Authorization: Bearer " + token_})
                .status,
            200);

  std::mutex mu;
  std::set<std::string> acknowledged;  // event ids answered 201
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  auto poster = [&](int worker) {
    for (int n = 0; !stop.load(); ++n) {
      int node = (worker + n) % 3;
      std::string id = "ev-" + std::to_string(worker) + "-" + std::to_string(n);
      std::string body = R"({"id":")" + id + R"(","user":{"organization_user_id":"u-)" +
                         std::to_string(n % 40) + R"("},"consents":{"purposes":[{"id":"p)" +
                         std::to_string(n % 7) + R"(","enabled":true}]}})";
      HttpResult r =
          HttpRequest("POST", urls[node] + Path("/v1/consents/events"), body,
                      {"Authorization: Bearer " + token_, "Content-Type: application/json"});
      ++sent;
      if (r.status == 201) {
        std::lock_guard<std::mutex> lock(mu);
        acknowledged.insert(id);
      }
    }
  };
  std::vector<std::thread> posters;
  for (int w = 0; w < 3; ++w) posters.emplace_back(poster, w);

  ASSERT_TRUE(WaitUntil([&] { return sent.load() >= 150; }, seconds(60)));
  nodes[0]->Kill();  // SIGKILL: its claims wait for their lease to run out
  ASSERT_TRUE(WaitUntil([&] { return sent.load() >= 300; }, seconds(60)));
  EXPECT_EQ(nodes[1]->Stop(seconds(20)), 0);  // SIGTERM: finishes or hands back its deliveries
  ASSERT_TRUE(WaitUntil([&] { return sent.load() >= 450; }, seconds(60)));
  stop = true;
  for (auto& t : posters) t.join();
  ASSERT_GT(acknowledged.size(), 100u);

  // Every acknowledged event reaches both integrations (event.created, by the entity's id).
  auto delivered_events = [](const TestReceiver& r) {
    std::map<std::string, int> by_webhook_id;
    std::set<std::string> events;
    for (const auto& req : r.Requests()) {
      ++by_webhook_id[req.Header("webhook-id")];
      json::value v = json::parse(req.body);
      if (v.at("type") == "event.created") {
        events.insert(std::string(v.at("parameters").at("entity").at("id").as_string()));
      }
    }
    int duplicates = 0;
    for (const auto& [id, count] : by_webhook_id) duplicates += count - 1;
    return std::make_pair(events, duplicates);
  };
  auto all_delivered = [&] {
    for (const TestReceiver* r : {&receiver_, &second}) {
      auto events = delivered_events(*r).first;
      for (const auto& id : acknowledged) {
        if (!events.count(id)) return false;
      }
    }
    return true;
  };
  EXPECT_TRUE(WaitUntil(all_delivered, seconds(60)));
  for (const TestReceiver* r : {&receiver_, &second}) {
    auto [events, duplicates] = delivered_events(*r);
    size_t missing = 0;
    for (const auto& id : acknowledged) missing += events.count(id) ? 0 : 1;
    EXPECT_EQ(missing, 0u);
    std::cout << "cluster test: " << acknowledged.size() << " events acknowledged of "
              << sent.load() << " sent; " << r->Count() << " webhooks received, " << duplicates
              << " duplicates" << std::endl;
  }
  // Nothing is left in flight: the dead node's leases ran out and the survivor finished.
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Sql("SELECT count(*) FROM deliveries WHERE status IN ('in_flight', 'pending')") ==
               std::vector<std::vector<std::string>>{{"0"}};
      },
      seconds(30)));
}

// The per-integration cap holds across the cluster: two nodes, a cap of 3, a slow endpoint;
// never more than 3 requests at once (not 3 per node).
// Two nodes, each sending one transfer at a time (--max-in-flight 1) and claiming at most two
// ahead; the integration may have three in flight across the cluster. The receiver holds every
// request until the test releases them: once it holds two, both nodes are sending, and the
// database shows exactly three of the integration's deliveries claimed (two by one node, one by
// the other). Without the shared cap, the second node would hold two as well (four).
TEST_F(ClusterTest, PerIntegrationCapHoldsAcrossNodes) {
  std::mutex mu;
  std::condition_variable cv;
  int now = 0;
  int peak = 0;
  bool released = false;
  receiver_.SetHandler([&](const ReceivedRequest&) {
    std::unique_lock<std::mutex> lock(mu);
    peak = std::max(peak, ++now);
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(8), [&] { return released; });
    --now;
    return ReplyWith(200);
  });
  const std::vector<std::string> caps = {"--max-in-flight-per-integration", "3", "--max-in-flight",
                                         "1"};
  StartRelay(caps);
  auto args = NodeArgs(1);
  args.insert(args.end(), caps.begin(), caps.end());
  ServerProcess other;
  ASSERT_TRUE(other.Start(args)) << other.error();
  CreateIntegration(receiver_.Url(), R"("events":["event.created"])");
  for (int i = 0; i < 24; ++i) PostEvent("u-" + std::to_string(i));
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(8), [&] { return now == 2; }))
        << "both nodes send at once";
  }
  EXPECT_EQ(Sql("SELECT count(*) FROM deliveries WHERE status = 'in_flight'"),
            (std::vector<std::vector<std::string>>{{"3"}}));
  {
    std::lock_guard<std::mutex> lock(mu);
    released = true;
  }
  cv.notify_all();
  EXPECT_TRUE(receiver_.WaitForCount(24, seconds(30)));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(peak, 2) << "one transfer per node";
}

// Per-user ordering across nodes: three nodes share one integration whose endpoint fails 30% of
// requests at random after a random delay. No user ever has two requests at the endpoint at once
// (one node at a time holds a lane's head: claims are serialized), and each user's accepted
// changes arrive in the order they were made, though each change went through another node.
TEST_F(ClusterTest, AUsersLaneIsHeldByOneNodeAtATimeAndKeepsItsOrder) {
  FlakyEventReceiver receiver(7);
  const std::vector<std::string> retries = {
      "--retry-schedule", "30ms,60ms,60ms,60ms,60ms,60ms,60ms,60ms,60ms,60ms,60ms,60ms,60ms,60ms"};
  StartRelay(retries);
  std::vector<std::unique_ptr<ServerProcess>> nodes;
  for (int i = 1; i <= 2; ++i) {
    auto args = NodeArgs(i);
    args.insert(args.end(), retries.begin(), retries.end());
    nodes.push_back(std::make_unique<ServerProcess>());
    ASSERT_TRUE(nodes.back()->Start(args)) << nodes.back()->error();
  }
  const std::vector<std::string> urls = {server_.base_url(), nodes[0]->base_url(),
                                         nodes[1]->base_url()};
  CreateIntegration(receiver.Url(), R"("events":["event.created"])");
  constexpr int kUsers = 6;
  constexpr int kChanges = 5;
  std::map<std::string, std::vector<std::string>> made;  // user -> event ids, as made
  for (int c = 0; c < kChanges; ++c) {
    for (int u = 0; u < kUsers; ++u) {
      const std::string user = "user-" + std::to_string(u);
      HttpResult r = HttpRequest("POST", urls[(c * kUsers + u) % 3] + Path("/v1/consents/events"),
                                 R"({"user":{"organization_user_id":")" + user +
                                     R"("},"consents":{"purposes":[{"id":"p-)" + std::to_string(c) +
                                     R"(","enabled":true}]}})",
                                 {"Authorization: Bearer " + token_});
      ASSERT_EQ(r.status, 201) << r.body;
      made[user].push_back(std::string(r.Json().at("id").as_string()));
    }
  }
  ASSERT_TRUE(receiver.WaitForAccepted(kUsers * kChanges, seconds(60)));
  EXPECT_EQ(receiver.Overlaps(), 0) << "two requests of one user were at the endpoint at once";
  EXPECT_EQ(receiver.Accepted(), made);
}

// Chaos, bounded: three nodes on one database, one of two SIGKILLed and restarted every ~2.5 s for
// ~20 s while two clients post changes of 16 users to whichever nodes are up, and the endpoint
// fails 10% of requests. Every acknowledged event is delivered, each user's in the order its
// changes were acknowledged (a re-send after a crash may repeat what was sent, never reorder it),
// duplicates stay few, and nothing is left pending or in flight.
TEST_F(ClusterTest, ChaosNodesKilledAndRestartedUnderLoadLoseAndReorderNothing) {
  FlakyEventReceiver receiver(11, /*fail_percent=*/10);
  const std::vector<std::string> retries = {"--retry-schedule",
                                            "20ms,50ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,"
                                            "100ms,100ms,100ms,100ms,100ms,100ms,100ms"};
  StartRelay({"--lease", "2s", "--shutdown-grace", "2", "--retry-schedule", retries[1]});
  std::vector<std::unique_ptr<ServerProcess>> nodes(2);
  std::mutex mu;
  std::vector<std::string> urls = {server_.base_url(), "", ""};  // "" while a node is down
  auto start = [&](int i) {
    auto args = NodeArgs(i + 1);
    args.insert(args.end(), retries.begin(), retries.end());
    nodes[i] = std::make_unique<ServerProcess>();
    if (!nodes[i]->Start(args)) return false;
    std::lock_guard<std::mutex> lock(mu);
    urls[i + 1] = nodes[i]->base_url();
    return true;
  };
  ASSERT_TRUE(start(0));
  ASSERT_TRUE(start(1));
  CreateIntegration(receiver.Url(), R"("events":["event.created"])");

  // Each user belongs to one client, which posts its changes one at a time: the order acknowledged
  // is the order committed.
  constexpr int kUsers = 16;
  std::map<std::string, std::vector<std::string>> acknowledged;  // user -> event ids, in order
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  auto client = [&](int worker) {
    std::mt19937 random(static_cast<unsigned>(worker));
    for (int n = 0; !stop.load(); ++n) {
      const std::string user = "user-" + std::to_string(worker + 2 * (n % (kUsers / 2)));
      std::string url;
      {
        std::lock_guard<std::mutex> lock(mu);
        url = urls[random() % 3];
      }
      if (url.empty()) continue;
      HttpResult r = HttpRequest("POST", url + Path("/v1/consents/events"),
                                 R"({"user":{"organization_user_id":")" + user +
                                     R"("},"consents":{"purposes":[{"id":"p-)" + std::to_string(n) +
                                     R"(","enabled":true}]}})",
                                 {"Authorization: Bearer " + token_});
      ++sent;
      if (r.status != 201) continue;  // refused, or cut off by a kill: it may have committed
      std::lock_guard<std::mutex> lock(mu);
      acknowledged[user].push_back(std::string(r.Json().at("id").as_string()));
    }
  };
  std::vector<std::thread> clients;
  for (int w = 0; w < 2; ++w) clients.emplace_back(client, w);

  const auto chaos_end = std::chrono::steady_clock::now() + seconds(20);
  int kills = 0;
  for (int round = 0; std::chrono::steady_clock::now() < chaos_end; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // load runs meanwhile
    const int victim = round % 2;
    {
      std::lock_guard<std::mutex> lock(mu);
      urls[victim + 1] = "";
    }
    nodes[victim]->Kill();
    ++kills;
    ASSERT_TRUE(start(victim)) << nodes[victim]->error();
  }
  stop = true;
  for (auto& t : clients) t.join();
  size_t total = 0;
  for (const auto& [user, events] : acknowledged) total += events.size();
  ASSERT_GT(total, 100u) << "the load must have run through the kills";

  // Delivered, in order: each user's first deliveries of its acknowledged events, in the order
  // they were accepted, are its acknowledged events in order.
  auto firsts = [&](const std::vector<std::string>& accepted,
                    const std::vector<std::string>& acked) {
    std::set<std::string> wanted(acked.begin(), acked.end());
    std::set<std::string> seen;
    std::vector<std::string> out;
    for (const auto& id : accepted) {
      if (wanted.count(id) && seen.insert(id).second) out.push_back(id);
    }
    return out;
  };
  auto all_delivered = [&] {
    auto accepted = receiver.Accepted();
    for (const auto& [user, events] : acknowledged) {
      if (firsts(accepted[user], events).size() < events.size()) return false;
    }
    return true;
  };
  EXPECT_TRUE(WaitUntil(all_delivered, seconds(90)));
  auto accepted = receiver.Accepted();
  size_t unique = 0;
  size_t accepted_total = 0;
  for (const auto& [user, events] : acknowledged) {
    EXPECT_EQ(firsts(accepted[user], events), events) << user;
  }
  for (const auto& [user, events] : accepted) {
    accepted_total += events.size();
    unique += std::set<std::string>(events.begin(), events.end()).size();
  }
  EXPECT_EQ(receiver.Overlaps(), 0) << "two requests of one user were at the endpoint at once";
  // A kill repeats at most what the dead node had sent and not yet recorded.
  EXPECT_LE(accepted_total - unique, unique / 5)
      << accepted_total << " accepted, " << unique << " distinct";
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Sql("SELECT count(*) FROM deliveries WHERE status IN ('in_flight', 'pending')") ==
               std::vector<std::vector<std::string>>{{"0"}};
      },
      seconds(30)));
  std::cout << "chaos test: " << kills << " kills; " << total << " events acknowledged of "
            << sent.load() << " sent; " << accepted_total << " accepted, "
            << accepted_total - unique << " duplicates" << std::endl;
}

}  // namespace
}  // namespace relay::testing
