#include "delivery/attempt.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/trace_context.h"
#include "delivery/signer.h"

namespace relay::delivery {
namespace {

constexpr char kParent[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

store::ClaimedDelivery Delivery() {
  store::ClaimedDelivery d;
  d.message_id = "msg_1";
  d.payload = R"({"type":"event.created"})";
  d.traceparent = kParent;
  d.attempt_count = 2;
  return d;
}

SendTarget Target() {
  SendTarget t;
  t.target.integration.spec.properties.url = "https://hooks.example/in";
  t.target.integration.spec.properties.timeout_ms = 1234;
  t.target.integration.spec.properties.headers = {{"X-Team", "privacy"}};
  t.keys = {"key-new", "key-old"};
  return t;
}

std::string Header(const HttpCall& call, const std::string& name) {
  for (const auto& h : call.headers) {
    if (h.rfind(name + ": ", 0) == 0) return h.substr(name.size() + 2);
  }
  return "<absent>";
}

TEST(AttemptTest, AWebhookCarriesItsStoredBytesSignedWithEveryKeyAndThisHopsSpan) {
  const auto d = Delivery();
  HttpCall call = BuildWebhookCall(d, Target(), "", 1'700'000'000);
  EXPECT_EQ(call.url, "https://hooks.example/in");
  EXPECT_EQ(call.timeout_ms, 1234);
  EXPECT_EQ(call.body, d.payload);
  EXPECT_EQ(Header(call, "webhook-id"), "msg_1");
  EXPECT_EQ(Header(call, "webhook-timestamp"), "1700000000");
  EXPECT_EQ(Header(call, "webhook-signature"),
            Sign("key-new", "msg_1", 1'700'000'000, d.payload) + " " +
                Sign("key-old", "msg_1", 1'700'000'000, d.payload));
  const std::string traceparent = Header(call, "traceparent");
  EXPECT_EQ(TraceIdOf(traceparent), TraceIdOf(kParent));
  EXPECT_NE(traceparent, kParent);  // a span of its own
  EXPECT_EQ(Header(call, "X-Team"), "privacy");
  EXPECT_EQ(Header(call, "Authorization"), "<absent>");

  call = BuildWebhookCall(d, Target(), "tok", 1'700'000'000);
  EXPECT_EQ(Header(call, "Authorization"), "Bearer tok");
}

TEST(AttemptTest, ATokenCallIsTheClientCredentialsRequestToTheTokenUrl) {
  SendTarget t = Target();
  integrations::OAuthConfig oauth;
  oauth.url = "https://auth.example/token";
  oauth.client_id = "id";
  oauth.client_secret = "secret";
  oauth.client_auth_method = "client_secret_post";
  t.target.integration.spec.oauth = oauth;
  HttpCall call = BuildTokenCall(t);
  EXPECT_EQ(call.url, "https://auth.example/token");
  EXPECT_NE(call.body.find("grant_type=client_credentials"), std::string::npos);
  EXPECT_NE(call.body.find("client_secret=secret"), std::string::npos);
}

HttpCallResult Answer(std::optional<int> status, std::map<std::string, std::string> headers = {}) {
  HttpCallResult r;
  r.status = status;
  r.headers = std::move(headers);
  return r;
}

TEST(AttemptTest, TheAnswerDecidesSuccessOneTokenRefreshOrFailure) {
  EXPECT_EQ(Judge(Answer(200), false, false, 0).verdict, Verdict::kSucceeded);
  EXPECT_EQ(Judge(Answer(299), true, true, 0).verdict, Verdict::kSucceeded);
  EXPECT_EQ(Judge(Answer(300), false, false, 0).verdict, Verdict::kFailed);
  EXPECT_EQ(Judge(Answer(std::nullopt), true, false, 0).verdict, Verdict::kFailed);
  // A 401 under OAuth asks for a new token once; a second 401, or one without OAuth, fails.
  EXPECT_EQ(Judge(Answer(401), true, false, 0).verdict, Verdict::kRefreshToken);
  EXPECT_EQ(Judge(Answer(401), true, true, 0).verdict, Verdict::kFailed);
  EXPECT_EQ(Judge(Answer(401), false, false, 0).verdict, Verdict::kFailed);
}

TEST(AttemptTest, RetryAfterCountsOnlyOnA429OrA503) {
  EXPECT_EQ(Judge(Answer(429, {{"retry-after", "7"}}), false, false, 0).retry_after, 7000);
  EXPECT_EQ(Judge(Answer(503, {{"retry-after", "2"}}), false, false, 0).retry_after, 2000);
  EXPECT_FALSE(Judge(Answer(500, {{"retry-after", "7"}}), false, false, 0).retry_after);
  EXPECT_FALSE(Judge(Answer(429, {{"retry-after", "soon"}}), false, false, 0).retry_after);
  EXPECT_FALSE(Judge(Answer(429), false, false, 0).retry_after);
}

TEST(AttemptTest, TheRecordCountsTheAttemptAndHoldsValidTextWhateverTheEndpointSent) {
  HttpCallResult r = Answer(500);
  r.body = std::string("bad \xff\xfe bytes");
  store::AttemptRow a = AttemptRecord(Delivery(), 1000, 1250, r);
  EXPECT_EQ(a.attempt, 3);
  EXPECT_EQ(a.started_at, 1000);
  EXPECT_EQ(a.duration_ms, 250);
  EXPECT_EQ(a.http_status, 500);
  EXPECT_EQ(a.error, "");
  EXPECT_EQ(a.response_body.find('\xff'), std::string::npos);
  EXPECT_NE(a.response_body.find("bytes"), std::string::npos);

  HttpCallResult none;
  none.error = "timed out";
  a = AttemptRecord(Delivery(), 1000, 900, none);  // a clock that stepped back: never negative
  EXPECT_EQ(a.duration_ms, 0);
  EXPECT_FALSE(a.http_status);
  EXPECT_EQ(a.error, "timed out");
}

}  // namespace
}  // namespace relay::delivery
