// The dispatcher in process, on a real SQLite store, sending through a fake Sender the test
// answers by hand, with a clock the test moves: claims, caps, leases, token expiry and rotation,
// each exactly, with no endpoint and no waiting on the wall clock's mercy.
#include "delivery/dispatcher.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "common/json.h"
#include "consent/consent_service.h"
#include "delivery/http_client.h"
#include "integrations/features.h"
#include "store/sqlite/sqlite_store.h"
#include "support/process.h"
#include "support/test_receiver.h"

namespace relay::delivery {
namespace {
namespace json = boost::json;
using relay::testing::WaitUntil;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Holds every call until the test answers it, or answers at once through `auto_answer`.
class FakeSender final : public Sender {
 public:
  // Answers a call at once when it returns a status; nullopt leaves the call to the test.
  std::function<std::optional<int>(const HttpCall&, std::string* body)> auto_answer;

  void Start(HttpCall call, Callback done) override {
    std::lock_guard<std::mutex> lock(mu_);
    started_.push_back(call);
    if (auto_answer) {
      std::string body;
      if (auto status = auto_answer(call, &body)) {
        HttpCallResult r;
        r.status = *status;
        r.body = std::move(body);
        answered_.emplace_back(std::move(done), std::move(r));
        cv_.notify_all();
        return;
      }
    }
    held_.push_back({std::move(call), std::move(done)});
    cv_.notify_all();
  }

  void Poll(int timeout_ms) override {
    std::vector<std::pair<Callback, HttpCallResult>> ready;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, milliseconds(timeout_ms), [&] { return !answered_.empty() || woken_; });
      woken_ = false;
      ready.swap(answered_);
    }
    for (auto& [done, result] : ready) done(std::move(result));
  }

  void Wakeup() override {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
    cv_.notify_all();
  }

  // Waits until `n` calls are held; false at the deadline.
  bool WaitHeld(size_t n, milliseconds timeout = milliseconds(10'000)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return held_.size() >= n; });
  }
  std::vector<HttpCall> Held() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<HttpCall> out;
    for (const auto& h : held_) out.push_back(h.call);
    return out;
  }
  // Answers the oldest held call.
  void AnswerOldest(int status) {
    std::lock_guard<std::mutex> lock(mu_);
    HttpCallResult r;
    r.status = status;
    answered_.emplace_back(std::move(held_.front().done), std::move(r));
    held_.pop_front();
    cv_.notify_all();
  }
  std::vector<HttpCall> Started() {
    std::lock_guard<std::mutex> lock(mu_);
    return started_;
  }

 private:
  struct HeldCall {
    HttpCall call;
    Callback done;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<HeldCall> held_;
  std::vector<std::pair<Callback, HttpCallResult>> answered_;
  std::vector<HttpCall> started_;
  bool woken_ = false;
};

std::string Header(const HttpCall& call, const std::string& name) {
  for (const auto& h : call.headers) {
    if (h.rfind(name + ": ", 0) == 0) return h.substr(name.size() + 2);
  }
  return "";
}

// How long a condition may take to come true here (support/test_receiver.h's WaitUntil).
constexpr milliseconds kWait = seconds(10);

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(store::SqliteStore::Open(dir_.path() + "/relay.db")).value();
    ASSERT_TRUE(
        store_->SetOrganizationFeature("acme", integrations::kFeatureWebhooks, true, 1).ok());
    integrations_ =
        std::make_unique<integrations::IntegrationService>(*store_, keyring_, *clock_, guard_);
    consents_ = std::make_unique<consent::ConsentService>(*store_, *clock_);
  }
  void TearDown() override {
    if (dispatcher_) dispatcher_->Stop(0);
  }

  std::string CreateIntegration(const std::string& url, const std::string& authentication = "{}") {
    auto body = ParseJson(R"({"type_id":"webhook-http","authentication":)" + authentication +
                          R"(,"properties":{"url":")" + url + R"(","events":["event.created"]}})");
    auto created = integrations_->Create("acme", *body);
    EXPECT_TRUE(created.ok()) << created.status().message();
    if (created.ok()) integration_ids_.push_back(created->integration.id);
    return created.ok() ? created->integration.id : "";
  }
  void PostEvent(const std::string& user) {
    std::string body = R"({"user":{"organization_user_id":")" + user + R"("},"consents":{}})";
    auto created = consents_->CreateEvent("acme", *ParseJson(body), body, "");
    ASSERT_TRUE(created.ok()) << created.status().message();
    if (dispatcher_) dispatcher_->Wake();
  }
  void StartDispatcher(DispatcherOptions options) {
    options.sender = &sender_;
    dispatcher_ = std::make_unique<Dispatcher>(std::move(options), *store_, *integrations_, guard_,
                                               *clock_, random_, metrics_);
    dispatcher_->Start();
  }
  // Deliveries of every integration created here with `status`.
  int64_t CountWithStatus(store::DeliveryStatus status) {
    int64_t total = 0;
    for (const auto& id : integration_ids_) {
      store::DeliveryFilter filter;
      filter.integration_id = id;
      filter.status = status;
      auto page = store_->ListDeliveries("acme", filter, store::PageRequest{1000, 0});
      EXPECT_TRUE(page.ok());
      if (page.ok()) total += page->total;
    }
    return total;
  }

  relay::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  Keyring keyring_{std::string(32, 'm')};
  ManualClock manual_clock_{1'700'000'000'000};
  const Clock* clock_ = &SystemClock::Instance();  // the services' and the dispatcher's
  DestinationGuard guard_;
  FixedRandom random_{0.5};
  MetricsRegistry metrics_;
  std::unique_ptr<integrations::IntegrationService> integrations_;
  std::unique_ptr<consent::ConsentService> consents_;
  FakeSender sender_;
  std::vector<std::string> integration_ids_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

// Services built on the manual clock, for the tests that move time.
class ManualClockDispatcherTest : public DispatcherTest {
 protected:
  ManualClockDispatcherTest() { clock_ = &manual_clock_; }
};

TEST_F(DispatcherTest, CapsHoldPerIntegrationAndOverallAndComeBackWhenAttemptsEnd) {
  CreateIntegration("https://a.example/hook");
  CreateIntegration("https://b.example/hook");
  DispatcherOptions options;
  options.max_in_flight = 5;
  options.max_in_flight_per_integration = 3;
  StartDispatcher(options);
  for (int wave = 0; wave < 2; ++wave) {
    for (int i = 0; i < 12; ++i) PostEvent("u-" + std::to_string(i));
    // Both integrations have 12 due: the engine fills its five slots, no integration above three.
    ASSERT_TRUE(sender_.WaitHeld(5)) << "wave " << wave;
    size_t most = 0, most_a = 0, most_b = 0;
    for (int answered = 0; answered < 24; ++answered) {
      ASSERT_TRUE(sender_.WaitHeld(1));
      auto held = sender_.Held();
      size_t a = 0;
      for (const auto& call : held) a += call.url.find("a.example") != std::string::npos;
      most = std::max(most, held.size());
      most_a = std::max(most_a, a);
      most_b = std::max(most_b, held.size() - a);
      sender_.AnswerOldest(200);
    }
    EXPECT_EQ(most, 5u) << "wave " << wave;
    // Five slots over two integrations of at most three: one had three at once, never more.
    EXPECT_LE(most_a, 3u) << "wave " << wave;
    EXPECT_LE(most_b, 3u) << "wave " << wave;
    EXPECT_EQ(std::max(most_a, most_b), 3u) << "wave " << wave;
    // Every slot is handed back: the second wave gets the same capacity as the first.
    ASSERT_TRUE(WaitUntil([&] { return dispatcher_->in_flight() == 0; }, kWait)) << "wave " << wave;
  }
  ASSERT_TRUE(
      WaitUntil([&] { return CountWithStatus(store::DeliveryStatus::kSucceeded) == 48; }, kWait));
  std::map<std::string, int> sends;
  for (const auto& call : sender_.Started()) ++sends[Header(call, "webhook-id") + call.url];
  EXPECT_EQ(sends.size(), 48u);
  for (const auto& [id, n] : sends) EXPECT_EQ(n, 1) << id;
}

TEST_F(DispatcherTest, AnAttemptOutlastingManyLeasesIsHeldRenewedAndSentOnce) {
  CreateIntegration("https://a.example/hook");
  DispatcherOptions options;
  options.lease_millis = 400;
  StartDispatcher(options);
  PostEvent("u-1");
  ASSERT_TRUE(sender_.WaitHeld(1));
  // Five leases long, another node (a claim of its own) never gets it: the heartbeat holds it.
  auto until = std::chrono::steady_clock::now() + milliseconds(2'000);
  int claims = 0;
  while (std::chrono::steady_clock::now() < until) {
    store::ClaimRequest other;
    other.now = clock_->NowMillis();
    other.lease_until = other.now + 400;
    other.lease_token = 42;
    other.limit = 10;
    auto claimed = store_->ClaimDeliveries(other);
    ASSERT_TRUE(claimed.ok());
    EXPECT_TRUE(claimed->empty()) << "claimed under a live holder";
    ++claims;
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_GT(claims, 10);
  sender_.AnswerOldest(200);
  ASSERT_TRUE(
      WaitUntil([&] { return CountWithStatus(store::DeliveryStatus::kSucceeded) == 1; }, kWait));
  EXPECT_EQ(sender_.Started().size(), 1u);
  EXPECT_TRUE(WaitUntil([&] { return dispatcher_->in_flight() == 0; }, kWait));
}

TEST_F(DispatcherTest, AFailedAttemptIsRetriedThenDiesAndFreesItsSlot) {
  CreateIntegration("https://a.example/hook");
  DispatcherOptions options;
  options.max_in_flight_per_integration = 1;
  options.retry_schedule = {50};
  StartDispatcher(options);
  PostEvent("u-1");
  ASSERT_TRUE(sender_.WaitHeld(1));
  sender_.AnswerOldest(500);
  ASSERT_TRUE(sender_.WaitHeld(1)) << "retried after 50 ms";
  sender_.AnswerOldest(500);
  ASSERT_TRUE(WaitUntil([&] { return CountWithStatus(store::DeliveryStatus::kDead) == 1; }, kWait));
  // The cap of one is free again: the next delivery goes out.
  PostEvent("u-2");
  ASSERT_TRUE(sender_.WaitHeld(1));
  sender_.AnswerOldest(200);
  ASSERT_TRUE(
      WaitUntil([&] { return CountWithStatus(store::DeliveryStatus::kSucceeded) == 1; }, kWait));
  EXPECT_EQ(sender_.Started().size(), 3u);
  EXPECT_TRUE(WaitUntil([&] { return dispatcher_->in_flight() == 0; }, kWait));
}

// Ten users' deliveries to an endpoint that fails, one at a time: the third failure opens the
// breaker, and nothing more starts: not between the failure and the store's answer (this node may
// have reached the threshold), nor after it (what this node had claimed goes back untried).
TEST_F(DispatcherTest, AnOpenedBreakerStartsNothingMoreAndHandsBackWhatWasClaimed) {
  const std::string id = CreateIntegration("https://a.example/hook");
  sender_.auto_answer = [](const HttpCall&, std::string*) -> std::optional<int> { return 503; };
  DispatcherOptions options;
  options.max_in_flight_per_integration = 1;
  options.health.breaker_failures = 3;
  options.health.breaker_cooldown_ms = 60'000;
  for (int i = 0; i < 10; ++i) PostEvent("u-" + std::to_string(i));
  StartDispatcher(options);
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto i = integrations_->Get("acme", id);
        return i.ok() && i->health.state == "open" && dispatcher_->in_flight() == 0;
      },
      kWait));
  EXPECT_EQ(sender_.Started().size(), 3u);
  EXPECT_TRUE(
      WaitUntil([&] { return CountWithStatus(store::DeliveryStatus::kPending) == 10; }, kWait));
  EXPECT_NE(metrics_.Render().find("relay_integration_state_changes_total{state=\"open\"} 1"),
            std::string::npos);
}

TEST_F(ManualClockDispatcherTest, AnOAuthTokenIsReusedUntilExpiresInLessThirtySeconds) {
  CreateIntegration("https://a.example/hook",
                    R"({"url":"https://auth.example/token","client_id":"c","client_secret":"s"})");
  int tokens = 0;
  sender_.auto_answer = [&](const HttpCall& call, std::string* body) -> std::optional<int> {
    if (call.url == "https://auth.example/token") {
      *body = R"({"access_token":"tok-)" + std::to_string(++tokens) +
              R"(","token_type":"Bearer","expires_in":60})";
    }
    return 200;
  };
  StartDispatcher({});
  auto deliver = [&](const std::string& user) {
    size_t before = sender_.Started().size();
    PostEvent(user);
    EXPECT_TRUE(WaitUntil(
        [&] {
          auto started = sender_.Started();
          return started.size() > before && started.back().url == "https://a.example/hook";
        },
        kWait));
    return Header(sender_.Started().back(), "Authorization");
  };
  EXPECT_EQ(deliver("u-1"), "Bearer tok-1");
  manual_clock_.AdvanceMillis(30'000 - 1);  // cached for expires_in - 30 s
  EXPECT_EQ(deliver("u-2"), "Bearer tok-1");
  manual_clock_.AdvanceMillis(1);
  EXPECT_EQ(deliver("u-3"), "Bearer tok-2");
  EXPECT_EQ(deliver("u-4"), "Bearer tok-2");
  EXPECT_EQ(tokens, 2);
}

TEST_F(ManualClockDispatcherTest, BothSignaturesGoOutForExactly24HoursAfterARotation) {
  std::string id = CreateIntegration("https://a.example/hook");
  sender_.auto_answer = [](const HttpCall&, std::string*) -> std::optional<int> { return 200; };
  StartDispatcher({});
  auto signatures = [&](const std::string& user) {
    size_t before = sender_.Started().size();
    PostEvent(user);
    EXPECT_TRUE(WaitUntil([&] { return sender_.Started().size() > before; }, kWait));
    std::string header = Header(sender_.Started().back(), "webhook-signature");
    return 1 + std::count(header.begin(), header.end(), ' ');
  };
  EXPECT_EQ(signatures("u-1"), 1);
  ASSERT_TRUE(integrations_->RotateSigningSecret("acme", id).ok());
  EXPECT_EQ(signatures("u-2"), 2);
  manual_clock_.AdvanceMillis(integrations::kRotationOverlapMillis - 1);
  EXPECT_EQ(signatures("u-3"), 2);
  manual_clock_.AdvanceMillis(1);
  EXPECT_EQ(signatures("u-4"), 1) << "the old secret signs no more, even from the cache";
}

}  // namespace
}  // namespace relay::delivery
