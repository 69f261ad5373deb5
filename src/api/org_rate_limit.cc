// OrgRateLimiter implementation.
#include "api/org_rate_limit.h"

#include <charconv>

#include "api/handler_support.h"
#include "common/time_format.h"

namespace relay::api {

Result<OrgRateLimit> ParseOrgRateLimit(std::string_view text) {
  const auto slash = text.find('/');
  OrgRateLimit policy;
  std::optional<int64_t> window;
  if (slash != std::string_view::npos) {
    const std::string_view count = text.substr(0, slash);
    auto [ptr, ec] = std::from_chars(count.data(), count.data() + count.size(), policy.limit);
    if (ec != std::errc() || ptr != count.data() + count.size()) policy.limit = 0;
    window = ParseDurationMillis(text.substr(slash + 1));
  }
  if (policy.limit < 1 || policy.limit > 1'000'000 || !window || *window < 1000 ||
      *window > 3'600'000 || *window % 1000 != 0) {
    return InvalidArgument(
        "--org-rate-limit must be REQUESTS/WINDOW, e.g. 100/15s: 1 to 1000000 requests, a window "
        "of whole seconds from 1s to 1h");
  }
  policy.window_millis = *window;
  return policy;
}

OrgRateLimiter::Decision OrgRateLimiter::Take(const std::string& organization_id) {
  const int64_t now = clock_.NowMillis();
  MutexLock lock(mu_);
  Window& w = windows_[organization_id];
  if (now - w.start >= policy_.window_millis) {
    w.start = now;
    w.used = 0;
  }
  Decision d;
  d.allowed = w.used < policy_.limit;
  if (d.allowed) ++w.used;
  d.remaining = policy_.limit - w.used;
  d.reset_seconds = (w.start + policy_.window_millis - now + 999) / 1000;
  if (windows_.size() > 100'000) {
    // Forget windows that ended (organizations idle for a window): memory stays bounded.
    for (auto it = windows_.begin(); it != windows_.end();) {
      it = now - it->second.start >= policy_.window_millis ? windows_.erase(it) : std::next(it);
    }
  }
  return d;
}

RouteHandler OrgRateLimiter::Wrap(auth::AuthService& auth, RouteHandler inner) {
  return [this, &auth, inner = std::move(inner)](const HttpRequest& r, const PathParams& p) {
    auto org = Authorize(auth, r);
    if (!org.ok()) return inner(r, p);
    const Decision d = Take(*org);
    const int64_t window = policy_.window_millis / 1000;
    HttpResponse answer;
    if (d.allowed) {
      answer = inner(r, p);
    } else {
      std::string message = "organization ";
      message += *org;
      message += " made its " + std::to_string(policy_.limit) + " requests of the last ";
      message += std::to_string(window) + " s; try again in ";
      message += std::to_string(d.reset_seconds) + " s";
      answer = Fail(ResourceExhausted(std::move(message)).WithRetryAfter(d.reset_seconds), r);
    }
    answer.headers.emplace_back("RateLimit-Limit", std::to_string(policy_.limit));
    answer.headers.emplace_back("RateLimit-Remaining", std::to_string(d.remaining));
    answer.headers.emplace_back("RateLimit-Reset", std::to_string(d.reset_seconds));
    std::string policy = std::to_string(policy_.limit);
    policy += ";w=";
    policy += std::to_string(window);
    answer.headers.emplace_back("RateLimit-Policy", std::move(policy));
    return answer;
  };
}

}  // namespace relay::api
