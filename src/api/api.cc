// The Api: every route, wired onto one Router.
#include "api/api.h"

#include <boost/json.hpp>

#include "api/handler_support.h"
#include "api/routes.h"

namespace relay::api {

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
