// Routes for sessions and webhook-http integrations.
#include <boost/json.hpp>

#include "api/handler_support.h"
#include "api/routes.h"
#include "common/json.h"

namespace relay::api {
namespace json = boost::json;

namespace {

HttpResponse CreateSession(auth::AuthService& auth, integrations::IntegrationService&,
                           const HttpRequest& request, const PathParams&) {
  HttpResponse error;
  auto body = ParseBody(request, &error);
  if (!body.ok()) return error;
  if (!body->is_object()) return Fail(InvalidArgument("the body must be a JSON object"), request);
  const auto& obj = body->as_object();
  for (const auto& kv : obj) {
    if (kv.key() != "type" && kv.key() != "key" && kv.key() != "secret") {
      return Fail(InvalidField(std::string(kv.key()), "unknown field"), request);
    }
  }
  const auto* type = obj.if_contains("type");
  const auto* key = obj.if_contains("key");
  const auto* secret = obj.if_contains("secret");
  if (!type || !type->is_string() || type->as_string() != "api-key") {
    return Fail(InvalidField("type", "must be \"api-key\""), request);
  }
  if (!key || !key->is_string() || key->as_string().empty()) {
    return Fail(InvalidField("key", "is required"), request);
  }
  if (!secret || !secret->is_string() || secret->as_string().empty()) {
    return Fail(InvalidField("secret", "is required"), request);
  }
  auto session =
      auth.CreateSession(std::string(key->as_string()), std::string(secret->as_string()));
  if (!session.ok()) return Fail(session.status(), request);
  HttpResponse r = JsonResponse(201, json::object{{"access_token", session->access_token},
                                                  {"token_type", "Bearer"},
                                                  {"expires_in", session->expires_in}});
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse CreateIntegration(auth::AuthService& auth,
                               integrations::IntegrationService& integrations,
                               const HttpRequest& request, const PathParams&) {
  auto org = Authorize(auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  HttpResponse error;
  auto body = ParseBody(request, &error);
  if (!body.ok()) return error;
  if (Status s = CheckBodyOrganization(*body, *org); !s.ok()) return Fail(s, request);
  auto created = integrations.Create(*org, *body);
  if (!created.ok()) return Fail(created.status(), request);
  json::object out = integrations::IntegrationToJson(created->integration);
  out["signing_secret"] = created->signing_secret;
  HttpResponse r = JsonResponse(201, out);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse ListIntegrations(auth::AuthService& auth,
                              integrations::IntegrationService& integrations,
                              const HttpRequest& request, const PathParams&) {
  auto org = Authorize(auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  auto page = ParsePage(request);
  if (!page.ok()) return Fail(page.status(), request);
  auto result = integrations.List(*org, *page);
  if (!result.ok()) return Fail(result.status(), request);
  json::array data;
  for (const auto& i : result->items) data.emplace_back(integrations::IntegrationToJson(i));
  return JsonResponse(200, PageJson(result->total, *page, std::move(data)));
}

HttpResponse GetIntegration(auth::AuthService& auth, integrations::IntegrationService& integrations,
                            const HttpRequest& request, const PathParams& params) {
  auto org = Authorize(auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  auto result = integrations.Get(*org, params.at("id"));
  if (!result.ok()) return Fail(result.status(), request);
  return JsonResponse(200, integrations::IntegrationToJson(*result));
}

HttpResponse PatchIntegration(auth::AuthService& auth,
                              integrations::IntegrationService& integrations,
                              const HttpRequest& request, const PathParams& params) {
  auto org = Authorize(auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  HttpResponse error;
  auto body = ParseBody(request, &error);
  if (!body.ok()) return error;
  if (Status s = CheckBodyOrganization(*body, *org); !s.ok()) return Fail(s, request);
  auto result = integrations.Patch(*org, params.at("id"), *body);
  if (!result.ok()) return Fail(result.status(), request);
  return JsonResponse(200, integrations::IntegrationToJson(*result));
}

HttpResponse DeleteIntegration(auth::AuthService& auth,
                               integrations::IntegrationService& integrations,
                               const HttpRequest& request, const PathParams& params) {
  auto org = Authorize(auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  auto result = integrations.Delete(*org, params.at("id"));
  if (!result.ok()) return Fail(result.status(), request);
  return JsonResponse(200, integrations::IntegrationToJson(*result));
}

HttpResponse GetIntegrationSecret(auth::AuthService& auth,
                                  integrations::IntegrationService& integrations,
                                  const HttpRequest& request, const PathParams& params) {
  auto org = Authorize(auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  auto secret = integrations.GetSigningSecret(*org, params.at("id"));
  if (!secret.ok()) return Fail(secret.status(), request);
  HttpResponse r = JsonResponse(200, json::object{{"signing_secret", *secret}});
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse RotateIntegrationSecret(auth::AuthService& auth,
                                     integrations::IntegrationService& integrations,
                                     const HttpRequest& request, const PathParams& params) {
  auto org = Authorize(auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  auto secret = integrations.RotateSigningSecret(*org, params.at("id"));
  if (!secret.ok()) return Fail(secret.status(), request);
  HttpResponse r = JsonResponse(200, json::object{{"signing_secret", *secret}});
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

}  // namespace

void AddIntegrationRoutes(Router& router, auth::AuthService& auth,
                          integrations::IntegrationService& integrations) {
  using Handler = HttpResponse (*)(auth::AuthService&, integrations::IntegrationService&,
                                   const HttpRequest&, const PathParams&);
  auto bind = [&](Handler fn) {
    return [&auth, &integrations, fn](const HttpRequest& r, const PathParams& p) {
      return fn(auth, integrations, r, p);
    };
  };
  router.Add("POST", "/v1/sessions", bind(CreateSession));
  router.Add("POST", "/v1/marketplace/integrations", bind(CreateIntegration));
  router.Add("GET", "/v1/marketplace/integrations", bind(ListIntegrations));
  router.Add("GET", "/v1/marketplace/integrations/{id}", bind(GetIntegration));
  router.Add("PATCH", "/v1/marketplace/integrations/{id}", bind(PatchIntegration));
  router.Add("DELETE", "/v1/marketplace/integrations/{id}", bind(DeleteIntegration));
  router.Add("GET", "/v1/marketplace/integrations/{id}/secret", bind(GetIntegrationSecret));
  router.Add("POST", "/v1/marketplace/integrations/{id}/secret/rotate",
             bind(RotateIntegrationSecret));
}

}  // namespace relay::api
