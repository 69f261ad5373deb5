// Endpoint health: the circuit breaker holds a sick endpoint's deliveries (no attempt spent, none
// dead) and probes it back; 410 Gone and a long run of failures disable an integration, whose
// deliveries wait until it is enabled again. On both stores (the "pg." variants).
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <string>

#include "common/time_format.h"
#include "e2e/delivery_fixture.h"
#include "support/test_receiver.h"

namespace relay::testing {
namespace {
namespace json = boost::json;
using std::chrono::seconds;

// Each test's receivers are locals declared after what their handlers capture.
class HealthTest : public DeliveryFixture {
 protected:
  json::object Integration(const std::string& id) {
    HttpResult got = Call("GET", Path("/v1/marketplace/integrations/" + id), token_);
    EXPECT_EQ(got.status, 200) << got.body;
    return got.status == 200 ? got.Json().as_object() : json::object{};
  }
  json::object Health(const std::string& id) {
    json::object i = Integration(id);
    return i.contains("health") ? i.at("health").as_object() : json::object{};
  }
  // Waits until the relay disabled the integration, and checks why; returns its health.
  json::object WaitUntilDisabled(const std::string& id, const std::string& reason) {
    EXPECT_TRUE(WaitUntil([&] { return !Integration(id).at("enabled").as_bool(); }, seconds(10)));
    json::object h = Health(id);
    EXPECT_EQ(h.at("state"), "disabled");
    const json::value& why = h.at("disabled_reason");
    EXPECT_TRUE(why.is_string() && std::string(why.as_string()).find(reason) != std::string::npos)
        << why;
    return h;
  }
  static int64_t Millis(const json::value& time) {
    return time.is_string() ? ParseTimestamp(time.as_string()).value_or(-1) : -1;
  }
  // The value of a counter line of /metrics, or -1 when absent.
  int64_t Metric(const std::string& line_start) {
    HttpResult m = HttpRequest("GET", Url("/metrics"));
    size_t at = m.body.find(line_start + " ");
    if (at == std::string::npos) return -1;
    return std::stoll(m.body.substr(at + line_start.size() + 1));
  }
};

// One user's four changes to a sick endpoint (one lane) and to a healthy one. The lane's head
// fails its whole schedule (three attempts): that opens the breaker, and the attempt is held, not
// dead. While open nothing is sent; after the cooldown one probe goes, fails, and the cooldown
// doubles; the next probe succeeds and the lane drains. The healthy endpoint never waits.
TEST_F(HealthTest, TheBreakerOpensSpendsNoAttemptProbesClosesAndLetsNothingDie) {
  StartRelay({"--breaker-failures", "3", "--breaker-cooldown", "500ms", "--retry-schedule",
              "100ms,100ms"});
  std::atomic<int> answer{503};
  TestReceiver healthy;
  TestReceiver sick;
  sick.SetHandler([&answer](const ReceivedRequest&) { return ReplyWith(answer.load(), "{}"); });
  auto a = CreateIntegration(sick.Url());
  auto b = CreateIntegration(healthy.Url());
  EXPECT_EQ(Health(a.id).at("state"), "healthy");
  PostEvent("u-1", "p1");
  PostEvent("u-1", "p2");

  ASSERT_TRUE(WaitForStatus(b.id, "succeeded", 4));
  ASSERT_TRUE(WaitUntil([&] { return Health(a.id).at("state") == "open"; }, seconds(10)));
  json::object h = Health(a.id);
  EXPECT_EQ(h.at("consecutive_failures").as_int64(), 3);
  EXPECT_EQ(Millis(h.at("open_until")) - Millis(h.at("last_failure_at")), 500);
  EXPECT_TRUE(h.at("last_success_at").is_null());
  EXPECT_EQ(sick.Count(), 3u) << "nothing sent after the breaker opened";
  EXPECT_EQ(Health(b.id).at("state"), "healthy");

  // The probe: the oldest due delivery, alone. It fails: open again, for twice as long.
  ASSERT_TRUE(sick.WaitForCount(4, seconds(5)));
  ASSERT_TRUE(WaitUntil([&] { return Health(a.id).at("consecutive_failures") == 4; }, seconds(5)));
  h = Health(a.id);
  EXPECT_EQ(h.at("state"), "open");
  EXPECT_EQ(Millis(h.at("open_until")) - Millis(h.at("last_failure_at")), 1000);
  EXPECT_EQ(sick.Count(), 4u) << "one probe, nothing else";
  // The head has had four attempts on a schedule of three, and waits: nothing went dead.
  EXPECT_TRUE(Deliveries(a.id, "status=dead").empty());

  answer = 200;
  ASSERT_TRUE(WaitForStatus(a.id, "succeeded", 4, seconds(10)));
  h = Health(a.id);
  EXPECT_EQ(h.at("state"), "healthy");
  EXPECT_EQ(h.at("consecutive_failures").as_int64(), 0);
  EXPECT_TRUE(h.at("open_until").is_null());
  EXPECT_GE(Millis(h.at("last_success_at")), Millis(h.at("last_failure_at")));
  EXPECT_EQ(sick.Count(), 8u) << "3 failures, 2 probes, then the other 3 deliveries once each";
  size_t head_attempts = 0;
  for (const auto& d : Deliveries(a.id)) {
    head_attempts = std::max(head_attempts, d.at("attempts").as_array().size());
  }
  EXPECT_EQ(head_attempts, 5u);
  EXPECT_EQ(Metric(R"(relay_deliveries_total{status="dead"})"), 0);
  // Each change of state counted once: healthy -> failing -> open -> healthy.
  EXPECT_EQ(Metric(R"(relay_integration_state_changes_total{state="failing"})"), 1);
  EXPECT_EQ(Metric(R"(relay_integration_state_changes_total{state="open"})"), 1);
  EXPECT_EQ(Metric(R"(relay_integration_state_changes_total{state="healthy"})"), 1);
}

// The endpoint fails once (503), then answers the retry, the delivery's last attempt, with 410
// Gone: the integration is disabled with the reason, its deliveries wait (none dead, a later
// change is not even tried), and enabling it again sends them all.
TEST_F(HealthTest, A410DisablesTheIntegrationKeepsItsDeliveriesAndEnablingResumesThem) {
  StartRelay({"--retry-schedule", "100ms"});
  std::atomic<int> calls{0};
  std::atomic<bool> gone{true};
  TestReceiver receiver;
  receiver.SetHandler([&](const ReceivedRequest&) {
    if (!gone) return ReplyWith(200, "{}");
    return ReplyWith(++calls == 1 ? 503 : 410, "{}");
  });
  auto a = CreateIntegration(receiver.Url());
  PostEvent("u-1");
  WaitUntilDisabled(a.id, "the endpoint answered 410 Gone at 20");
  PostEvent("u-2");
  ASSERT_TRUE(WaitForStatus(a.id, "pending", 4));
  EXPECT_EQ(receiver.Count(), 2u) << "nothing is sent to a disabled integration";
  EXPECT_EQ(Metric(R"(relay_integration_state_changes_total{state="disabled"})"), 1);

  gone = false;
  HttpResult patched =
      Call("PATCH", Path("/v1/marketplace/integrations/" + a.id), token_, R"({"enabled":true})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  const json::value answer = patched.Json();
  const json::object& resumed = answer.at("health").as_object();
  EXPECT_EQ(resumed.at("state"), "healthy");
  EXPECT_TRUE(resumed.at("disabled_reason").is_null());
  EXPECT_EQ(resumed.at("consecutive_failures").as_int64(), 0);
  ASSERT_TRUE(WaitForStatus(a.id, "succeeded", 4));
  EXPECT_EQ(receiver.Count(), 6u);
  EXPECT_EQ(Metric(R"(relay_integration_state_changes_total{state="healthy"})"), 1);
}

// No breaker, a long schedule: the endpoint fails for longer than --auto-disable-after, and the
// integration is disabled with why; its deliveries wait.
TEST_F(HealthTest, AnEndpointThatOnlyFailsIsDisabledAfterTheConfiguredTime) {
  std::string schedule = "100ms";
  for (int i = 0; i < 40; ++i) schedule += ",100ms";
  StartRelay(
      {"--auto-disable-after", "1s", "--breaker-failures", "0", "--retry-schedule", schedule});
  TestReceiver receiver;
  receiver.SetHandler([](const ReceivedRequest&) { return ReplyWith(500, "{}"); });
  auto a = CreateIntegration(receiver.Url());
  PostEvent("u-1");
  json::object h = WaitUntilDisabled(a.id, "no attempt succeeded from");
  EXPECT_GE(h.at("consecutive_failures").as_int64(), 8) << "a second of failures, 100 ms apart";
  ASSERT_TRUE(WaitForStatus(a.id, "pending", 2));
}

}  // namespace
}  // namespace relay::testing
