// The HTTP API: Didomi-compatible routes under /v1 plus /healthz, wired onto a Router.
#pragma once

#include <boost/json/object.hpp>
#include <functional>

#include "api/http_types.h"
#include "api/org_rate_limit.h"
#include "api/router.h"
#include "auth/auth_service.h"
#include "common/metrics.h"
#include "consent/consent_service.h"
#include "delivery/delivery_service.h"
#include "integrations/integration_service.h"

namespace relay::api {

struct ApiServices {
  auth::AuthService& auth;
  integrations::IntegrationService& integrations;
  consent::ConsentService& consent;
  delivery::DeliveryService& deliveries;
  const MetricsRegistry& metrics;
  // Extra fields of GET /healthz (e.g. the dispatcher's state); ok=false answers 503.
  std::function<bool(boost::json::object&)> health;
  // --org-rate-limit, when set: every /v1 route but /v1/consents/* and /v1/sessions.
  OrgRateLimiter* org_rate_limit = nullptr;
};

// Owns the router; Handle is thread-safe and never throws on bad input.
class Api {
 public:
  explicit Api(ApiServices services);
  HttpResponse Handle(const HttpRequest& request) const { return router_.Dispatch(request); }
  const Router& router() const { return router_; }

 private:
  Router router_;
};

}  // namespace relay::api
