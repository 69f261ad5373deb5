#include "delivery/attempt.h"

#include <algorithm>

#include "common/json.h"
#include "common/trace_context.h"
#include "delivery/oauth.h"
#include "delivery/retry_policy.h"
#include "delivery/signer.h"

namespace relay::delivery {
namespace {

constexpr int kTokenTimeoutMs = 10000;

}  // namespace

HttpCall BuildWebhookCall(const store::ClaimedDelivery& d, const SendTarget& target,
                          const std::string& token, int64_t timestamp_seconds) {
  const auto& properties = target.target.integration.spec.properties;
  HttpCall call;
  call.url = properties.url;
  call.timeout_ms = properties.timeout_ms;
  call.headers = {"Content-Type: application/json", "webhook-id: " + d.message_id,
                  "webhook-timestamp: " + std::to_string(timestamp_seconds),
                  "webhook-signature: " +
                      SignatureHeader(target.keys, d.message_id, timestamp_seconds, d.payload),
                  // This hop's span in the change's trace (W3C Trace Context).
                  "traceparent: " + ChildTraceparent(d.traceparent)};
  for (const auto& [name, value] : properties.headers) call.headers.push_back(name + ": " + value);
  if (!token.empty()) call.headers.push_back("Authorization: Bearer " + token);
  call.body = d.payload;
  return call;
}

HttpCall BuildTokenCall(const SendTarget& target) {
  const auto& oauth = *target.target.integration.spec.oauth;
  TokenRequest request = BuildTokenRequest(oauth);
  HttpCall call;
  call.url = oauth.url;
  call.headers = std::move(request.headers);
  call.body = std::move(request.body);
  call.timeout_ms = kTokenTimeoutMs;
  return call;
}

Judgement Judge(const HttpCallResult& result, bool oauth, bool refreshed, int64_t now_millis) {
  Judgement j;
  if (!result.status) return j;
  const int status = *result.status;
  if (status >= 200 && status <= 299) {
    j.verdict = Verdict::kSucceeded;
  } else if (status == 401 && oauth && !refreshed) {
    j.verdict = Verdict::kRefreshToken;
  } else if (status == 429 || status == 503) {
    auto header = result.headers.find("retry-after");
    if (header != result.headers.end()) j.retry_after = ParseRetryAfter(header->second, now_millis);
  }
  return j;
}

store::AttemptRow AttemptRecord(const store::ClaimedDelivery& d, int64_t started_at,
                                int64_t now_millis, const HttpCallResult& result) {
  store::AttemptRow a;
  a.attempt = d.attempt_count + 1;
  a.started_at = started_at;
  a.duration_ms = std::max<int64_t>(0, now_millis - started_at);
  a.http_status = result.status;
  a.error = result.status ? "" : SanitizeText(result.error);
  a.response_body = SanitizeText(result.body);
  return a;
}

}  // namespace relay::delivery
