// Didomi-style rate limits per organization (--org-rate-limit N/WINDOW): every /v1 route but the
// Consents API and sessions allows an organization N requests per window, answers with the IETF
// RateLimit headers, and 429 with Retry-After past the limit.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "api/router.h"
#include "auth/auth_service.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"

namespace relay::api {

struct OrgRateLimit {
  int64_t limit = 0;  // requests per window
  int64_t window_millis = 0;
};

// "100/15s": a count from 1 to 1,000,000, a window from 1 s to 1 h.
Result<OrgRateLimit> ParseOrgRateLimit(std::string_view text);

// Fixed windows per organization, starting with its first request. Counts this node's requests:
// N nodes allow up to N times the limit (README). Thread-safe.
class OrgRateLimiter {
 public:
  OrgRateLimiter(OrgRateLimit policy, const Clock& clock) : policy_(policy), clock_(clock) {}

  struct Decision {
    bool allowed = true;
    int64_t remaining = 0;      // after this request
    int64_t reset_seconds = 0;  // until the window ends, rounded up
  };
  Decision Take(const std::string& organization_id);
  // Wraps a handler: an authorized request counts against its organization, and its answer
  // carries RateLimit-Limit, -Remaining, -Reset and -Policy; past the limit the handler does not
  // run and the answer is 429 with Retry-After. A request that fails authorization is handed to
  // the handler, which refuses it, and counts for nobody.
  RouteHandler Wrap(auth::AuthService& auth, RouteHandler inner);

 private:
  struct Window {
    int64_t start = 0;
    int64_t used = 0;
  };
  const OrgRateLimit policy_;
  const Clock& clock_;
  Mutex mu_;
  std::unordered_map<std::string, Window> windows_ GUARDED_BY(mu_);
};

}  // namespace relay::api
