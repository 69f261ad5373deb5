// The HTTP API: Didomi-compatible routes under /v1 plus /healthz, wired onto a Router.
#pragma once

#include "api/http_types.h"
#include "api/router.h"
#include "auth/auth_service.h"
#include "integrations/integration_service.h"

namespace relay::api {

struct ApiServices {
  auth::AuthService& auth;
  integrations::IntegrationService& integrations;
};

// Owns the router; Handle is thread-safe and never throws on bad input.
class Api {
 public:
  explicit Api(ApiServices services);
  HttpResponse Handle(const HttpRequest& request) const { return router_.Dispatch(request); }

 private:
  HttpResponse CreateSession(const HttpRequest& request) const;
  HttpResponse CreateIntegration(const HttpRequest& request) const;
  HttpResponse ListIntegrations(const HttpRequest& request) const;
  HttpResponse GetIntegration(const HttpRequest& request, const PathParams& params) const;
  HttpResponse PatchIntegration(const HttpRequest& request, const PathParams& params) const;
  HttpResponse DeleteIntegration(const HttpRequest& request, const PathParams& params) const;
  HttpResponse GetIntegrationSecret(const HttpRequest& request, const PathParams& params) const;

  ApiServices services_;
  Router router_;
};

}  // namespace relay::api
