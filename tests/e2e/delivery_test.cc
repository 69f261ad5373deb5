// The delivery engine end to end: the real binary POSTing to real receivers on loopback.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>
#include <set>
#include <thread>

#include "e2e/delivery_fixture.h"
#include "support/test_crypto.h"

namespace relay::testing {
namespace {
namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

int64_t UnixNow() {
  return std::chrono::duration_cast<seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The signature the test computes itself: HMAC-SHA256 over id.timestamp.body, keyed with the
// base64-decoded part of whsec_.
std::string ExpectedSignature(const std::string& secret, const ReceivedRequest& r) {
  std::string key = UnBase64(secret.substr(6));
  return "v1," + Base64(HmacSha256(key, r.Header("webhook-id") + "." +
                                            r.Header("webhook-timestamp") + "." + r.body));
}

class DeliveryTest : public DeliveryFixture {
 protected:
  TestReceiver receiver_;
};

TEST_F(DeliveryTest, PostsSignedPayloadsWithEveryHeader) {
  StartRelay();
  auto integration =
      CreateIntegration(receiver_.Url("/consents"), R"("headers":{"X-Tenant":"acme"})");
  PostEvent("u-1");
  ASSERT_TRUE(receiver_.WaitForCount(2, seconds(10)));
  ASSERT_TRUE(WaitForStatus(integration.id, "succeeded", 2));
  auto deliveries = Deliveries(integration.id);
  auto requests = receiver_.Requests();
  ASSERT_EQ(requests.size(), 2u);
  for (size_t i = 0; i < requests.size(); ++i) {
    const ReceivedRequest& r = requests[i];
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.path, "/consents");
    EXPECT_EQ(r.Header("content-type"), "application/json");
    EXPECT_EQ(r.Header("user-agent"), "consent-relay/0.1.0");
    EXPECT_EQ(r.Header("x-tenant"), "acme");
    EXPECT_TRUE(r.Header("authorization").empty());
    // The request carries exactly the stored payload, and its message id.
    const json::object* match = nullptr;
    for (const auto& d : deliveries) {
      if (d.at("message_id") == r.Header("webhook-id").c_str()) match = &d;
    }
    ASSERT_NE(match, nullptr) << r.Header("webhook-id");
    EXPECT_EQ(json::parse(r.body), match->at("payload"));
    int64_t ts = std::stoll(r.Header("webhook-timestamp"));
    EXPECT_LE(std::abs(ts - UnixNow()), 60);
    EXPECT_EQ(r.Header("webhook-signature"), ExpectedSignature(integration.signing_secret, r));
    const auto& attempts = match->at("attempts").as_array();
    ASSERT_EQ(attempts.size(), 1u);
    EXPECT_EQ(attempts[0].at("http_status"), 200);
    EXPECT_TRUE(attempts[0].at("error").is_null());
    EXPECT_EQ(attempts[0].at("response_body"), "ok");
    EXPECT_FALSE(match->contains("next_attempt_at"));
  }
}

// W3C Trace Context across the hop: a change's webhooks continue the trace of the request that
// made it (same trace id and flags, a span of their own), and start one when it had none (or an
// invalid one). The delivery shows its trace id.
// On the embedded store a new user's two webhooks (event.created, then user.created in its lane)
// are claimed by the write itself and handed to the dispatcher after the commit: neither waits
// for a claim (store/handoff.h). PostgreSQL nodes claim them.
TEST_F(DeliveryTest, FreshDeliveriesAreHandedToTheDispatcherWithoutAClaim) {
  StartRelay();
  auto integration = CreateIntegration(receiver_.Url("/consents"));
  PostEvent("u-1");
  ASSERT_TRUE(receiver_.WaitForCount(2, seconds(10)));
  ASSERT_TRUE(WaitForStatus(integration.id, "succeeded", 2));
  const std::string metrics = HttpRequest("GET", Url("/metrics")).body;
  auto counter = [&](const std::string& name) {
    size_t at = metrics.find("\n" + name + " ");
    return at == std::string::npos ? -1 : std::stoll(metrics.substr(at + name.size() + 2));
  };
  const int64_t handed = counter("relay_deliveries_handed_over_total");
  const int64_t claimed = counter("relay_deliveries_claimed_total");
  if (UsingPostgres()) {
    EXPECT_EQ(handed, 0);
    EXPECT_EQ(claimed, 2);
  } else {
    EXPECT_EQ(handed, 2);
    EXPECT_EQ(claimed, 0);
  }
  auto requests = receiver_.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_NE(requests[0].body.find("event.created"), std::string::npos) << "in lane order";
  EXPECT_NE(requests[1].body.find("user.created"), std::string::npos);
}

TEST_F(DeliveryTest, WebhooksContinueTheTraceOfTheChangeThatCausedThem) {
  StartRelay();
  auto integration = CreateIntegration(receiver_.Url("/consents"));
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  const std::string incoming = "00-" + trace + "-00f067aa0ba902b7-00";
  const std::string body =
      R"({"user":{"organization_user_id":"traced"},"consents":{"purposes":[{"id":"p","enabled":true}]}})";
  ASSERT_EQ(
      Call("POST", Path("/v1/consents/events"), token_, body, {"traceparent: " + incoming}).status,
      201);
  ASSERT_TRUE(WaitForStatus(integration.id, "succeeded", 2));
  auto requests = receiver_.Requests();
  ASSERT_EQ(requests.size(), 2u);
  std::set<std::string> spans;
  for (const auto& r : requests) {
    const std::string header = r.Header("traceparent");
    ASSERT_EQ(header.size(), 55u) << header;
    EXPECT_EQ(header.substr(0, 36), "00-" + trace + "-") << "the same trace";
    EXPECT_EQ(header.substr(52), "-00") << "its flags (not sampled) kept";
    EXPECT_NE(header.substr(36, 16), "00f067aa0ba902b7") << "a span of its own";
    spans.insert(header.substr(36, 16));
  }
  EXPECT_EQ(spans.size(), 2u) << "each request is a span";
  for (const auto& d : Deliveries(integration.id)) EXPECT_EQ(d.at("trace_id"), trace.c_str());

  // No traceparent, or one that is not valid (upper-case hex): a new trace per change.
  for (const std::string& header :
       {std::string(), "00-" + std::string(32, 'A') + "-00f067aa0ba902b7-01"}) {
    std::vector<std::string> headers;
    if (!header.empty()) headers.push_back("traceparent: " + header);
    size_t before = receiver_.Count();
    ASSERT_EQ(Call("POST", Path("/v1/consents/events"), token_, body, headers).status, 201);
    ASSERT_TRUE(receiver_.WaitForCount(before + 1, seconds(10)));
    const ReceivedRequest r = receiver_.Requests()[before];
    const std::string sent = r.Header("traceparent");
    ASSERT_EQ(sent.size(), 55u) << sent;
    const std::string sent_trace = sent.substr(3, 32);
    EXPECT_EQ(sent_trace.find_first_not_of("0123456789abcdef"), std::string::npos) << sent;
    EXPECT_NE(sent_trace, trace);
    EXPECT_NE(sent_trace, std::string(32, 'a'));
    ASSERT_TRUE(WaitForStatus(integration.id, "succeeded", before + 1));
    bool found = false;
    for (const auto& d : Deliveries(integration.id)) {
      if (d.at("message_id") == r.Header("webhook-id").c_str()) {
        EXPECT_EQ(d.at("trace_id"), sent_trace.c_str());
        found = true;
      }
    }
    EXPECT_TRUE(found);
  }
}

TEST_F(DeliveryTest, ANameResolvingToAnAllowedRangeIsDelivered) {
  StartRelay();  // --allow-destination 127.0.0.0/8
  auto integration =
      CreateIntegration("http://localhost:" + std::to_string(receiver_.port()) + "/hook",
                        R"("events":["event.created"])");
  PostEvent("u-1");
  ASSERT_TRUE(WaitForStatus(integration.id, "succeeded", 1));
  EXPECT_EQ(receiver_.Count(), 1u);
}

TEST_F(DeliveryTest, SignaturesVerifyWithThePublicStandardWebhooksLibrary) {
  StartRelay();
  auto integration = CreateIntegration(receiver_.Url());
  PostEvent("u-1");
  ASSERT_TRUE(receiver_.WaitForCount(2, seconds(10)));
  for (const auto& r : receiver_.Requests()) {
    json::object capture{
        {"secret", integration.signing_secret},
        {"body", r.body},
        {"headers", json::object{{"webhook-id", r.Header("webhook-id")},
                                 {"webhook-timestamp", r.Header("webhook-timestamp")},
                                 {"webhook-signature", r.Header("webhook-signature")}}}};
    std::string file = dir_.path() + "/capture.json";
    std::ofstream(file) << json::serialize(capture);
    std::string verify = std::string(RELAY_SOURCE_DIR) + "/tests/interop/verify.js";
    EXPECT_EQ(std::system(("node " + verify + " " + file + " >/dev/null").c_str()), 0);
    // And a tampered body must not verify.
    capture["body"] = r.body + " ";
    std::ofstream(file) << json::serialize(capture);
    EXPECT_NE(std::system(("node " + verify + " " + file + " 2>/dev/null >/dev/null").c_str()), 0);
  }
}

TEST_F(DeliveryTest, FollowsTheRetryScheduleThenDiesThenRevivesByRetryAndReplay) {
  StartRelay({"--retry-schedule", "300ms,600ms"});
  receiver_.SetHandler([](const ReceivedRequest&) { return ReplyWith(500, "down for now"); });
  auto integration = CreateIntegration(receiver_.Url(), R"("events":["event.created"])");
  PostEvent("u-1");
  PostEvent("u-2");
  ASSERT_TRUE(WaitForStatus(integration.id, "dead", 2, seconds(20)));
  auto requests = receiver_.Requests();
  ASSERT_EQ(requests.size(), 6u) << "1 attempt + 2 retries, for each of 2 deliveries";
  // The gaps between one message's attempts follow the schedule (with up to 10 % jitter).
  std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> by_message;
  for (const auto& r : requests) by_message[r.Header("webhook-id")].push_back(r.at);
  for (const auto& [id, times] : by_message) {
    ASSERT_EQ(times.size(), 3u);
    auto gap1 = std::chrono::duration_cast<milliseconds>(times[1] - times[0]).count();
    auto gap2 = std::chrono::duration_cast<milliseconds>(times[2] - times[1]).count();
    EXPECT_GE(gap1, 300);
    EXPECT_LT(gap1, 3000) << "not far past its time";
    EXPECT_GE(gap2, 600);
    EXPECT_LT(gap2, 3500) << "not far past its time";
  }
  auto dead = Deliveries(integration.id);
  for (const auto& d : dead) {
    const auto& attempts = d.at("attempts").as_array();
    ASSERT_EQ(attempts.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(attempts[i].at("attempt"), static_cast<int64_t>(i + 1));
      EXPECT_EQ(attempts[i].at("http_status"), 500);
      EXPECT_EQ(attempts[i].at("response_body"), "down for now");
    }
  }

  receiver_.SetHandler([](const ReceivedRequest&) { return Reply{}; });
  std::string first(dead[0].at("id").as_string());
  HttpResult retry = Call(
      "POST",
      Path("/v1/marketplace/integrations/" + integration.id + "/deliveries/" + first + "/retry"),
      token_);
  ASSERT_EQ(retry.status, 200) << retry.body;
  ASSERT_TRUE(WaitUntil([&] { return Delivery(integration.id, first).at("status") == "succeeded"; },
                        seconds(10)));
  EXPECT_EQ(Delivery(integration.id, first).at("attempts").as_array().size(), 4u);

  HttpResult replay =
      Call("POST", Path("/v1/marketplace/integrations/" + integration.id + "/replay"), token_,
           R"({"status":"dead"})");
  ASSERT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(replay.Json().at("requeued"), 1);
  ASSERT_TRUE(WaitForStatus(integration.id, "succeeded", 2));
  EXPECT_EQ(Call("POST", Path("/v1/marketplace/integrations/" + integration.id + "/replay"), token_,
                 R"({"status":"dead"})")
                .Json()
                .at("requeued"),
            0);
}

TEST_F(DeliveryTest, ReplayHonoursItsTimeWindow) {
  StartRelay({"--retry-schedule", "100ms"});
  receiver_.SetHandler([](const ReceivedRequest&) { return ReplyWith(500); });
  auto integration = CreateIntegration(receiver_.Url(), R"("events":["event.created"])");
  PostEvent("u-1");
  ASSERT_TRUE(WaitForStatus(integration.id, "dead", 1));
  std::string base = "/v1/marketplace/integrations/" + integration.id + "/replay";
  EXPECT_EQ(
      Call("POST", Path(base), token_, R"({"until":"2000-01-01T00:00:00Z"})").Json().at("requeued"),
      0);
  EXPECT_EQ(
      Call("POST", Path(base), token_, R"({"since":"2999-01-01T00:00:00Z"})").Json().at("requeued"),
      0);
  EXPECT_EQ(Call("POST", Path(base), token_, R"({"status":"pending"})").status, 400);
  EXPECT_EQ(Call("POST", Path(base), token_, R"({"when":"now"})").status, 400);
  EXPECT_EQ(Call("POST", Path(base), token_,
                 R"({"since":"2000-01-01T00:00:00Z","until":"2999-01-01T00:00:00Z"})")
                .Json()
                .at("requeued"),
            1);
}

TEST_F(DeliveryTest, HonoursRetryAfterOn429) {
  StartRelay({"--retry-schedule", "100ms"});
  receiver_.SetHandler([this](const ReceivedRequest&) {
    if (receiver_.Count() == 1) return ReplyWith(429, "slow down", 0, {{"Retry-After", "2"}});
    return Reply{};
  });
  auto integration = CreateIntegration(receiver_.Url(), R"("events":["event.created"])");
  PostEvent("u-1");
  ASSERT_TRUE(receiver_.WaitForCount(2, seconds(10)));
  auto r = receiver_.Requests();
  auto gap = std::chrono::duration_cast<milliseconds>(r[1].at - r[0].at).count();
  EXPECT_GE(gap, 2000) << "Retry-After: 2 beats the 100 ms schedule";
  EXPECT_LT(gap, 6000);
  ASSERT_TRUE(WaitForStatus(integration.id, "succeeded", 1));
}

TEST_F(DeliveryTest, FailuresOfEveryKindAreRecordedPerAttempt) {
  StartRelay({"--retry-schedule", "1h"});
  TestReceiver hang, closing, redirect, huge;
  hang.SetHandler([](const ReceivedRequest&) { return ReplyWith(200, "late", 3000); });
  closing.SetHandler([](const ReceivedRequest&) {
    Reply r;
    r.close_without_reply = true;
    return r;
  });
  redirect.SetHandler([&](const ReceivedRequest&) {
    return ReplyWith(302, "", 0, {{"Location", redirect.Url("/elsewhere")}});
  });
  huge.SetHandler([](const ReceivedRequest&) { return ReplyWith(200, std::string(1 << 20, 'x')); });
  auto i_hang = CreateIntegration(hang.Url(), R"("events":["event.created"],"timeout_ms":300)");
  auto i_close = CreateIntegration(closing.Url(), R"("events":["event.created"])");
  auto i_redirect = CreateIntegration(redirect.Url(), R"("events":["event.created"])");
  auto i_huge = CreateIntegration(huge.Url(), R"("events":["event.created"])");
  PostEvent("u-1");

  auto first_attempt = [&](const std::string& integration) -> json::object {
    json::object attempt;
    WaitUntil(
        [&] {
          auto d = Deliveries(integration);
          if (d.size() != 1 || d[0].at("attempts").as_array().empty()) return false;
          attempt = d[0].at("attempts").as_array()[0].as_object();
          return true;
        },
        seconds(10));
    return attempt;
  };
  json::object timeout = first_attempt(i_hang.id);
  ASSERT_FALSE(timeout.empty());
  EXPECT_TRUE(timeout.at("http_status").is_null());
  EXPECT_NE(std::string(timeout.at("error").as_string()).find("timeout"), std::string::npos);
  EXPECT_LT(timeout.at("duration_ms").as_int64(), 2500);

  json::object closed = first_attempt(i_close.id);
  ASSERT_FALSE(closed.empty());
  EXPECT_TRUE(closed.at("http_status").is_null());
  EXPECT_FALSE(closed.at("error").as_string().empty());

  json::object redirected = first_attempt(i_redirect.id);
  ASSERT_FALSE(redirected.empty());
  EXPECT_EQ(redirected.at("http_status"), 302);
  EXPECT_EQ(redirect.Count(), 1u) << "the redirect is not followed";
  EXPECT_EQ(Deliveries(i_redirect.id)[0].at("status"), "pending");
  EXPECT_TRUE(Deliveries(i_redirect.id)[0].contains("next_attempt_at"));

  ASSERT_TRUE(WaitForStatus(i_huge.id, "succeeded", 1));
  json::object big = Deliveries(i_huge.id)[0].at("attempts").as_array()[0].as_object();
  EXPECT_EQ(big.at("http_status"), 200);
  EXPECT_EQ(big.at("response_body").as_string().size(), 4096u);
}

TEST_F(DeliveryTest, DisabledIntegrationsDeliveriesWaitAndGoOutWhenEnabled) {
  StartRelay({"--retry-schedule", "200ms,200ms,200ms,200ms"});
  receiver_.SetHandler(
      [](const ReceivedRequest& r) { return ReplyWith(r.path == "/paused" ? 503 : 200); });
  auto paused = CreateIntegration(receiver_.Url("/paused"), R"("events":["event.created"])");
  auto sent_to_paused = [&] {
    size_t n = 0;
    for (const auto& r : receiver_.Requests()) n += r.path == "/paused";
    return n;
  };
  PostEvent("u-1");
  ASSERT_TRUE(receiver_.WaitForCount(1, seconds(10)));
  std::string path = Path("/v1/marketplace/integrations/" + paused.id);
  ASSERT_EQ(Call("PATCH", path, token_, R"({"enabled":false})").status, 200);
  const auto disabled_at = std::chrono::steady_clock::now();
  // An attempt claimed just before the PATCH may still be under way: let it end.
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto d = Deliveries(paused.id);
        return d.size() == 1 && d[0].at("status") == "pending";
      },
      seconds(10)));
  const size_t attempts = Deliveries(paused.id)[0].at("attempts").as_array().size();
  const size_t sent = sent_to_paused();
  // The whole retry schedule (0.8 s) passes...
  WaitUntil([&] { return std::chrono::steady_clock::now() - disabled_at > milliseconds(1000); },
            seconds(2));
  // ...and the dispatcher claims a delivery due after every retry of the paused one: had the
  // paused one been claimable, it would have been claimed by then (claims take the oldest due).
  auto other = CreateIntegration(receiver_.Url("/other"), R"("events":["user.created"])");
  PostEvent("u-2");
  ASSERT_TRUE(WaitForStatus(other.id, "succeeded", 1));
  auto waiting = Deliveries(paused.id);
  ASSERT_EQ(waiting.size(), 1u);
  EXPECT_EQ(waiting[0].at("status"), "pending") << "neither sent nor dead while disabled";
  EXPECT_EQ(waiting[0].at("attempts").as_array().size(), attempts);
  EXPECT_EQ(sent_to_paused(), sent);
  receiver_.SetHandler([](const ReceivedRequest&) { return Reply{}; });
  ASSERT_EQ(Call("PATCH", path, token_, R"({"enabled":true})").status, 200);
  EXPECT_TRUE(WaitForStatus(paused.id, "succeeded", 1));
}

// An endpoint may answer any bytes: invalid UTF-8 and NUL included. The attempt is recorded with
// such bytes as U+FFFD, the same on both stores (PostgreSQL's text refuses them), and the API
// still answers valid JSON (it used to copy the raw bytes into its JSON).
TEST_F(DeliveryTest, AnyResponseBytesAreRecorded) {
  StartRelay({"--retry-schedule", "1h"});
  receiver_.SetHandler(
      [](const ReceivedRequest&) { return ReplyWith(500, std::string("bad \xff\xfe\0 end", 11)); });
  auto integration = CreateIntegration(receiver_.Url(), R"("events":["event.created"])");
  PostEvent("u-1");
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto d = Deliveries(integration.id);
        return !d.empty() && d[0].at("attempts").as_array().size() == 1;
      },
      seconds(10)))
      << Call("GET", Path("/v1/marketplace/integrations/" + integration.id + "/deliveries"), token_)
             .body;
  auto body = Deliveries(integration.id)[0].at("attempts").at(0).at("response_body").as_string();
  EXPECT_TRUE(body.starts_with("bad ")) << body << " size " << body.size();
  EXPECT_TRUE(body.ends_with(" end")) << body;
  EXPECT_EQ(body, "bad \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd end");
}

TEST_F(DeliveryTest, DeletingAnIntegrationCancelsItsPendingDeliveries) {
  StartRelay({"--retry-schedule", "1h"});
  receiver_.SetHandler([](const ReceivedRequest&) { return ReplyWith(500); });
  auto integration = CreateIntegration(receiver_.Url(), R"("events":["event.created"])");
  PostEvent("u-1");
  ASSERT_TRUE(
      WaitUntil([&] { return Deliveries(integration.id)[0].at("attempts").as_array().size() == 1; },
                seconds(10)));
  ASSERT_EQ(Call("DELETE", Path("/v1/marketplace/integrations/" + integration.id), token_).status,
            200);
  ASSERT_EQ(server_.Stop(), 0);
  EXPECT_EQ(Sql("SELECT status FROM deliveries"),
            (std::vector<std::vector<std::string>>{{"cancelled"}}));
}

TEST_F(DeliveryTest, RotationSendsBothSignaturesForADay) {
  StartRelay();
  auto integration = CreateIntegration(receiver_.Url(), R"("events":["event.created"])");
  HttpResult rotated = Call(
      "POST", Path("/v1/marketplace/integrations/" + integration.id + "/secret/rotate"), token_);
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  std::string fresh(rotated.Json().at("signing_secret").as_string());
  ASSERT_NE(fresh, integration.signing_secret);
  EXPECT_EQ(Call("GET", Path("/v1/marketplace/integrations/" + integration.id + "/secret"), token_)
                .Json()
                .at("signing_secret"),
            json::value(fresh));
  PostEvent("u-1");
  ASSERT_TRUE(receiver_.WaitForCount(1, seconds(10)));
  ReceivedRequest r = receiver_.Requests()[0];
  EXPECT_EQ(r.Header("webhook-signature"),
            ExpectedSignature(fresh, r) + " " + ExpectedSignature(integration.signing_secret, r));
}

TEST_F(DeliveryTest, ASlowEndpointDoesNotDelayAHealthyOne) {
  StartRelay({"--max-in-flight-per-integration", "2"});
  TestReceiver slow;
  slow.SetHandler([](const ReceivedRequest&) { return ReplyWith(200, "ok", 8000); });
  auto i_slow = CreateIntegration(slow.Url(), R"("events":["event.created"])");
  auto i_fast = CreateIntegration(receiver_.Url(), R"("events":["event.created"])");
  for (int i = 0; i < 20; ++i) PostEvent("u-" + std::to_string(i));
  ASSERT_TRUE(receiver_.WaitForCount(20, seconds(6)))
      << "the healthy endpoint got " << receiver_.Count();
  EXPECT_LE(slow.Count(), 2u) << "the slow endpoint never has more than its cap in flight";
  EXPECT_EQ(Deliveries(i_slow.id, "status=succeeded").size(), 0u);
}

TEST_F(DeliveryTest, MetricsCountDeliveriesAndAttempts) {
  StartRelay();
  auto integration = CreateIntegration(receiver_.Url());
  PostEvent("u-1");
  ASSERT_TRUE(WaitForStatus(integration.id, "succeeded", 2));
  HttpResult m = HttpRequest("GET", Url("/metrics"));
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("relay_deliveries_total{status=\"succeeded\"} 2"), std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("relay_delivery_attempts_total{outcome=\"success\"} 2"), std::string::npos);
  EXPECT_NE(m.body.find("relay_delivery_latency_seconds_count 2"), std::string::npos);
  EXPECT_NE(m.body.find("relay_attempt_duration_seconds_bucket"), std::string::npos);
  EXPECT_NE(m.body.find("relay_deliveries_pending 0"), std::string::npos);
  EXPECT_NE(m.body.find("relay_deliveries_in_flight"), std::string::npos);
  EXPECT_NE(m.body.find("relay_oauth_token_fetches_total 0"), std::string::npos);
}

// Twenty requests at once with one Idempotency-Key, for a user that exists, split over two nodes
// on PostgreSQL: one event, one set of webhooks, and every answer the first one's. (They are
// serialized by the key: the later ones wait, then replay the first answer.)
TEST_F(DeliveryTest, ConcurrentRequestsWithOneIdempotencyKeyWriteOneEvent) {
  StartRelay();
  std::vector<std::string> urls = {server_.base_url()};
  ServerProcess second;
  if (UsingPostgres()) {
    ASSERT_TRUE(second.Start({"--data-dir", DataDir() + "/node1", "--master-key-file",
                              DataDir() + "/master.key", "--allow-destination", "127.0.0.0/8"}))
        << second.error();
    urls.push_back(second.base_url());
  }
  auto integration = CreateIntegration(receiver_.Url());
  PostEvent("u-1");  // the user exists: the race is on its merge
  ASSERT_TRUE(WaitForStatus(integration.id, "succeeded", 2));  // event.created, user.created
  const std::string body =
      R"({"user":{"organization_user_id":"u-1"},"consents":{"purposes":[{"id":"p2","enabled":true}]}})";
  std::vector<HttpResult> answers(20);
  std::vector<std::thread> clients;
  for (int i = 0; i < 20; ++i) {
    clients.emplace_back([&, i] {
      answers[i] = HttpRequest("POST", urls[i % urls.size()] + Path("/v1/consents/events"), body,
                               {"Authorization: Bearer " + token_, "Content-Type: application/json",
                                "Idempotency-Key: once"});
    });
  }
  for (auto& t : clients) t.join();
  for (const auto& a : answers) {
    ASSERT_EQ(a.status, 201) << a.body;
    EXPECT_EQ(a.Json().at("id"), answers[0].Json().at("id")) << "every answer is the first one's";
  }
  auto events = Call("GET", Path("/v1/consents/events?$limit=100"), token_);
  ASSERT_EQ(events.status, 200) << events.body;
  EXPECT_EQ(events.Json().at("total"), 2) << events.body;
  // event.created and user.updated for the one event, nothing more.
  ASSERT_TRUE(WaitForStatus(integration.id, "succeeded", 4));
  EXPECT_EQ(Deliveries(integration.id).size(), 4u);
}

// properties.rate_limit_per_second, measured where it matters: at the receiver. 60 deliveries
// to an integration limited to 20 per second (one second of burst): in no second does the
// receiver see more than 20 + 20 requests, and the 60 take at least two seconds. Without the
// limit they arrive in a fraction of that. Bad values are refused; answers show the limit.
TEST_F(DeliveryTest, ARateLimitHoldsAtTheReceiver) {
  StartRelay();
  for (const char* bad : {"0", "10001", "2.5", "\"20\""}) {
    HttpResult r = Call("POST", Path("/v1/marketplace/integrations"), token_,
                        R"({"type_id":"webhook-http","properties":{"url":")" + receiver_.Url() +
                            R"(","rate_limit_per_second":)" + bad + "}}");
    EXPECT_EQ(r.status, 400) << bad << " -> " << r.body;
    EXPECT_NE(r.body.find("properties.rate_limit_per_second"), std::string::npos) << r.body;
  }
  auto limited = CreateIntegration(
      receiver_.Url(),
      R"("events":["event.created"],"ordering":"none","rate_limit_per_second":20)");
  HttpResult shown = Call("GET", Path("/v1/marketplace/integrations/" + limited.id), token_);
  EXPECT_EQ(shown.Json().at("properties").at("rate_limit_per_second"), 20);
  constexpr int kEvents = 60;
  for (int i = 0; i < kEvents; ++i) PostEvent("u-" + std::to_string(i));
  ASSERT_TRUE(receiver_.WaitForCount(kEvents, seconds(20)));
  std::vector<std::chrono::steady_clock::time_point> at;
  for (const auto& r : receiver_.Requests()) at.push_back(r.at);
  std::sort(at.begin(), at.end());
  size_t most_in_a_second = 0;
  for (size_t i = 0, j = 0; i < at.size(); ++i) {
    while (at[i] - at[j] >= std::chrono::seconds(1)) ++j;
    most_in_a_second = std::max(most_in_a_second, i - j + 1);
  }
  EXPECT_LE(most_in_a_second, 40u);
  EXPECT_GE(at.back() - at.front(), milliseconds(1900)) << "(60 - 20 of burst) / 20 per second";
}

}  // namespace
}  // namespace relay::testing
