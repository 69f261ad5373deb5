// One delivery attempt, without state: the webhook request built from a claimed delivery and its
// target, the OAuth token request, what an endpoint's answer means, and the attempt's record. The
// dispatcher owns when; this file owns what.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "delivery/http_client.h"
#include "delivery/target_cache.h"
#include "store/rows.h"

namespace relay::delivery {

// The POST of `d`'s stored bytes to the target's URL: Standard Webhooks headers signed at
// `timestamp_seconds` with every key in force, this hop's traceparent, the integration's own
// headers, and the bearer token when there is one.
HttpCall BuildWebhookCall(const store::ClaimedDelivery& d, const SendTarget& target,
                          const std::string& token, int64_t timestamp_seconds);

// The client-credentials request for the target's OAuth configuration (which it must have).
HttpCall BuildTokenCall(const SendTarget& target);

enum class Verdict {
  kSucceeded,     // a 2xx
  kRefreshToken,  // a first 401 under OAuth: drop the token, get a new one, send once more now
  kFailed,        // anything else: retry per the schedule, or dead
};

struct Judgement {
  Verdict verdict = Verdict::kFailed;
  std::optional<int64_t> retry_after;  // the wait a 429 or 503 asked for, in milliseconds
};

// What the endpoint's answer means for the delivery. `refreshed` is true when this attempt already
// used a token fetched after a 401.
Judgement Judge(const HttpCallResult& result, bool oauth, bool refreshed, int64_t now_millis);

// The attempt as the store keeps it: its text always valid UTF-8 (the API shows it as JSON).
store::AttemptRow AttemptRecord(const store::ClaimedDelivery& d, int64_t started_at,
                                int64_t now_millis, const HttpCallResult& result);

}  // namespace relay::delivery
