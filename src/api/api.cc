// The Api: every route, wired onto one Router.
#include "api/api.h"

#include <boost/json.hpp>

#include "api/assets.h"
#include "api/handler_support.h"
#include "api/routes.h"

namespace relay::api {

namespace {

// The console's pages may load only what this server serves: no inline script or style, no
// other origin, no framing.
constexpr char kConsolePolicy[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'";

HttpResponse AssetResponse(const Asset& asset) {
  HttpResponse r;
  r.body = std::string(asset.body);
  r.content_type = std::string(asset.content_type);
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (asset.path.starts_with("/console")) {
    r.headers.emplace_back("Content-Security-Policy", kConsolePolicy);
    r.headers.emplace_back("X-Frame-Options", "DENY");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  return r;
}

const Asset* FindAsset(const std::string& path) {
  for (const auto& a : Assets()) {
    if (a.path == path) return &a;
  }
  return nullptr;
}

// GET /console (the page), /console/{file} (its script and style) and /openapi.json.
void AddAssetRoutes(Router& router) {
  auto serve = [](const std::string& path) {
    return [path](const HttpRequest& request, const PathParams& params) {
      std::string wanted = path;
      if (auto file = params.find("file"); file != params.end()) wanted += "/" + file->second;
      const Asset* asset = FindAsset(wanted);
      if (!asset) return Fail(NotFound("no such file: " + request.path), request);
      return AssetResponse(*asset);
    };
  };
  router.Add("GET", "/console", serve("/console"));
  router.Add("GET", "/console/{file}", serve("/console"));
  router.Add("GET", "/openapi.json", serve("/openapi.json"));
}

}  // namespace

Api::Api(ApiServices services) {
  router_.Add("GET", "/healthz", [health = services.health](const HttpRequest&, const PathParams&) {
    boost::json::object body{{"status", "ok"}};
    bool ok = !health || health(body);
    if (!ok) body["status"] = "unavailable";
    return JsonResponse(ok ? 200 : 503, body);
  });
  router_.Add("GET", "/metrics",
              [&metrics = services.metrics](const HttpRequest&, const PathParams&) {
                HttpResponse r;
                r.body = metrics.Render();
                r.content_type = "text/plain; version=0.0.4";
                return r;
              });
  AddAssetRoutes(router_);
  AddIntegrationRoutes(router_, services.auth, services.integrations);
  AddConsentRoutes(router_, services.auth, services.consent);
  AddDeliveryRoutes(router_, services.auth, services.deliveries);
  if (OrgRateLimiter* limiter = services.org_rate_limit) {
    router_.Wrap(
        [](const std::string& pattern) {
          return pattern.starts_with("/v1/") && !pattern.starts_with("/v1/consents/") &&
                 pattern != "/v1/sessions";
        },
        [limiter, &auth = services.auth](RouteHandler h) { return limiter->Wrap(auth, h); });
  }
}

}  // namespace relay::api
