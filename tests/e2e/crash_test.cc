// SIGKILL at random moments while events pour in: every acknowledged event is stored with all its
// deliveries, and no delivery exists for an event that was not stored.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <boost/json.hpp>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "e2e/api_fixture.h"

namespace relay::testing {
namespace {
namespace json = boost::json;

class CrashTest : public ApiFixture {
 protected:
  // Every item of a paginated list, following $skip until `total` is reached.
  std::vector<json::value> All(const std::string& path) {
    std::vector<json::value> out;
    for (int64_t skip = 0;; skip += 1000) {
      std::string sep = path.find('?') == std::string::npos ? "?" : "&";
      HttpResult r = Call(
          "GET", path + sep + "organization_id=org_a&$limit=1000&$skip=" + std::to_string(skip),
          token_);
      EXPECT_EQ(r.status, 200) << r.body;
      json::value page = r.Json();
      if (!page.is_object()) return out;
      for (const auto& item : page.at("data").as_array()) out.push_back(item);
      if (static_cast<int64_t>(out.size()) >= page.at("total").as_int64() ||
          page.at("data").as_array().empty()) {
        return out;
      }
    }
  }
  std::string token_;
};

TEST_F(CrashTest, AcknowledgedEventsSurviveSigkillWithAllTheirDeliveries) {
  ApiKey key = CreateKey({"org_a"});
  EnableFeature("org_a", "webhooks");
  StartServer();
  token_ = Token(key);
  HttpResult integration =
      Call("POST", "/v1/marketplace/integrations?organization_id=org_a", token_, kSeedBody);
  ASSERT_EQ(integration.status, 201);
  std::string integration_id(integration.Json().at("id").as_string());

  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  std::cout << "crash test seed " << seed << std::endl;
  std::mutex mu;
  std::set<std::string> acknowledged;
  int attempted = 0;
  constexpr int kRounds = 4;
  constexpr int kPosters = 3;
  for (int round = 0; round < kRounds; ++round) {
    if (round > 0) StartServer();
    std::atomic<bool> killed{false};
    std::vector<std::thread> posters;
    for (int t = 0; t < kPosters; ++t) {
      posters.emplace_back([&, t] {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        for (int n = 0; std::chrono::steady_clock::now() < deadline; ++n) {
          std::string id =
              "crash-" + std::to_string(round) + "-" + std::to_string(t) + "-" + std::to_string(n);
          std::string body = R"({"id":")" + id + R"(","user":{"organization_user_id":"user-)" +
                             std::to_string(n % 7) + R"("},"consents":{"purposes":[{"id":"p)" +
                             std::to_string(n % 5) + R"(","enabled":)" +
                             (n % 2 ? "true" : "false") + "}]}}";
          HttpResult r = Call("POST", "/v1/consents/events?organization_id=org_a", token_, body);
          {
            std::lock_guard<std::mutex> lock(mu);
            ++attempted;
            if (r.status == 201) acknowledged.insert(id);
          }
          if (r.status == 0) {
            EXPECT_TRUE(killed.load()) << "request failed before the kill: " << r.error;
            return;
          }
          EXPECT_EQ(r.status, 201) << r.body;
        }
        ADD_FAILURE() << "the server was not killed within 30 s";
      });
    }
    // The random moment: somewhere in the first half second of load.
    std::uniform_int_distribution<int> delay_ms(50, 500);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    killed = true;
    kill(server_.pid(), SIGKILL);
    for (auto& p : posters) p.join();
    server_.Kill();  // reap
  }

  StartServer();
  std::set<std::string> stored;
  for (const auto& e : All("/v1/consents/events"))
    stored.insert(std::string(e.at("id").as_string()));
  for (const auto& id : acknowledged) EXPECT_EQ(stored.count(id), 1u) << "acknowledged " << id;

  std::set<std::string> announced;
  std::set<std::string> users;
  for (const auto& u : All("/v1/consents/users")) users.insert(std::string(u.at("id").as_string()));
  for (const auto& d : All("/v1/marketplace/integrations/" + integration_id + "/deliveries")) {
    const auto& params = d.at("payload").at("parameters");
    if (d.at("type") == "event.created") {
      std::string id(params.at("entity").at("id").as_string());
      EXPECT_TRUE(announced.insert(id).second) << "two event.created for " << id;
    } else if (d.at("type") == "user.created") {
      EXPECT_EQ(users.count(std::string(params.at("entity").at("id").as_string())), 1u);
    }
  }
  EXPECT_EQ(announced, stored) << "every stored event has its delivery, and only those do";
  EXPECT_GT(acknowledged.size(), 0u);
  std::cout << "attempted " << attempted << ", acknowledged " << acknowledged.size() << ", stored "
            << stored.size() << " (" << stored.size() - acknowledged.size()
            << " committed but not acknowledged)" << std::endl;
}

}  // namespace
}  // namespace relay::testing
