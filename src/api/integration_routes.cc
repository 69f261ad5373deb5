// Routes for sessions and webhook-http integrations.
#include <boost/json.hpp>

#include "api/handler_support.h"
#include "api/routes.h"

namespace relay::api {
namespace json = boost::json;

namespace {

using integrations::IntegrationService;

json::value Render(const integrations::Integration& i) {
  return integrations::IntegrationToJson(i);
}

HttpResponse NoStore(HttpResponse r) {
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse SecretAnswer(const Result<std::string>& secret, const HttpRequest& request) {
  return NoStore(Answer(secret, request, [](const std::string& s) {
    return json::object{{"signing_secret", s}};
  }));
}

HttpResponse CreateSession(auth::AuthService& auth, IntegrationService&, const HttpRequest& request,
                           const PathParams&) {
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
  auto session = auth.CreateSession(std::string(key->as_string()), std::string(secret->as_string()),
                                    request.remote_address);
  return NoStore(Answer(
      session, request,
      [](const auth::Session& s) {
        json::array organizations;
        for (const auto& o : s.organizations) organizations.emplace_back(o);
        return json::object{{"access_token", s.access_token},
                            {"token_type", "Bearer"},
                            {"expires_in", s.expires_in},
                            {"organizations", std::move(organizations)}};
      },
      201));
}

HttpResponse CreateIntegration(auth::AuthService& auth, IntegrationService& integrations,
                               const HttpRequest& request, const PathParams&) {
  HttpResponse error;
  auto scope = Scope(auth, request, Body::kJson, &error);
  if (!scope) return error;
  auto created = integrations.Create(scope->organization_id, scope->body);
  return NoStore(Answer(
      created, request,
      [](const integrations::CreatedIntegration& c) {
        json::object out = integrations::IntegrationToJson(c.integration);
        out["signing_secret"] = c.signing_secret;
        return out;
      },
      201));
}

HttpResponse ListIntegrations(auth::AuthService& auth, IntegrationService& integrations,
                              const HttpRequest& request, const PathParams&) {
  HttpResponse error;
  auto scope = Scope(auth, request, Body::kNone, &error);
  if (!scope) return error;
  auto page = ParsePage(request);
  if (!page.ok()) return Fail(page.status(), request);
  return Answer(integrations.List(scope->organization_id, *page), request,
                [&](const store::Page<integrations::Integration>& result) {
                  json::array data;
                  for (const auto& i : result.items) data.emplace_back(Render(i));
                  return PageJson(result.total, *page, std::move(data));
                });
}

HttpResponse GetIntegration(auth::AuthService& auth, IntegrationService& integrations,
                            const HttpRequest& request, const PathParams& params) {
  HttpResponse error;
  auto scope = Scope(auth, request, Body::kNone, &error);
  if (!scope) return error;
  return Answer(integrations.Get(scope->organization_id, params.at("id")), request, Render);
}

HttpResponse PatchIntegration(auth::AuthService& auth, IntegrationService& integrations,
                              const HttpRequest& request, const PathParams& params) {
  HttpResponse error;
  auto scope = Scope(auth, request, Body::kJson, &error);
  if (!scope) return error;
  return Answer(integrations.Patch(scope->organization_id, params.at("id"), scope->body), request,
                Render);
}

HttpResponse DeleteIntegration(auth::AuthService& auth, IntegrationService& integrations,
                               const HttpRequest& request, const PathParams& params) {
  HttpResponse error;
  auto scope = Scope(auth, request, Body::kNone, &error);
  if (!scope) return error;
  return Answer(integrations.Delete(scope->organization_id, params.at("id")), request, Render);
}

HttpResponse GetIntegrationSecret(auth::AuthService& auth, IntegrationService& integrations,
                                  const HttpRequest& request, const PathParams& params) {
  HttpResponse error;
  auto scope = Scope(auth, request, Body::kNone, &error);
  if (!scope) return error;
  return SecretAnswer(integrations.GetSigningSecret(scope->organization_id, params.at("id")),
                      request);
}

HttpResponse RotateIntegrationSecret(auth::AuthService& auth, IntegrationService& integrations,
                                     const HttpRequest& request, const PathParams& params) {
  HttpResponse error;
  auto scope = Scope(auth, request, Body::kNone, &error);
  if (!scope) return error;
  return SecretAnswer(integrations.RotateSigningSecret(scope->organization_id, params.at("id")),
                      request);
}

}  // namespace

void AddIntegrationRoutes(Router& router, auth::AuthService& auth,
                          IntegrationService& integrations) {
  const std::string base = "/v1/marketplace/integrations";
  router.Add("POST", "/v1/sessions", Bind(auth, integrations, CreateSession));
  router.Add("POST", base, Bind(auth, integrations, CreateIntegration));
  router.Add("GET", base, Bind(auth, integrations, ListIntegrations));
  router.Add("GET", base + "/{id}", Bind(auth, integrations, GetIntegration));
  router.Add("PATCH", base + "/{id}", Bind(auth, integrations, PatchIntegration));
  router.Add("DELETE", base + "/{id}", Bind(auth, integrations, DeleteIntegration));
  router.Add("GET", base + "/{id}/secret", Bind(auth, integrations, GetIntegrationSecret));
  router.Add("POST", base + "/{id}/secret/rotate",
             Bind(auth, integrations, RotateIntegrationSecret));
}

}  // namespace relay::api
