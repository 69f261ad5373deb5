// Routes of the Consents API: /v1/consents/events and /v1/consents/users.
#include <boost/json.hpp>

#include "api/handler_support.h"
#include "api/routes.h"

namespace relay::api {
namespace json = boost::json;

namespace {

std::string QueryOr(const HttpRequest& r, const std::string& name, const std::string& fallback) {
  return r.Query(name).value_or(fallback);
}

HttpResponse CreateEvent(auth::AuthService& auth, consent::ConsentService& consent,
                         const HttpRequest& request, const PathParams&) {
  auto org = Authorize(auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  HttpResponse error;
  auto body = ParseBody(request, &error);
  if (!body.ok()) return error;
  if (Status s = CheckBodyOrganization(*body, *org); !s.ok()) return Fail(s, request);
  auto created = consent.CreateEvent(*org, *body, request.body, request.Header("idempotency-key"));
  if (!created.ok()) return Fail(created.status(), request);
  HttpResponse r = RawJsonResponse(201, std::move(created->body));
  if (created->replayed) r.headers.emplace_back("Idempotent-Replayed", "true");
  return r;
}

HttpResponse ListEvents(auth::AuthService& auth, consent::ConsentService& consent,
                        const HttpRequest& request, const PathParams&) {
  auto org = Authorize(auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  auto page = ParsePage(request);
  if (!page.ok()) return Fail(page.status(), request);
  auto result = consent.ListEvents(*org, QueryOr(request, "user_id", ""),
                                   QueryOr(request, "organization_user_id", ""),
                                   QueryOr(request, "regulation", ""), *page);
  if (!result.ok()) return Fail(result.status(), request);
  json::array data;
  for (auto& e : result->items) data.emplace_back(std::move(e));
  return JsonResponse(200, PageJson(result->total, *page, std::move(data)));
}

HttpResponse GetEvent(auth::AuthService& auth, consent::ConsentService& consent,
                      const HttpRequest& request, const PathParams& params) {
  auto org = Authorize(auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  auto result = consent.GetEvent(*org, params.at("id"));
  if (!result.ok()) return Fail(result.status(), request);
  return JsonResponse(200, *result);
}

HttpResponse PatchEvent(auth::AuthService& auth, consent::ConsentService& consent,
                        const HttpRequest& request, const PathParams& params) {
  auto org = Authorize(auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  HttpResponse error;
  auto body = ParseBody(request, &error);
  if (!body.ok()) return error;
  if (Status s = CheckBodyOrganization(*body, *org); !s.ok()) return Fail(s, request);
  auto result = consent.PatchEvent(*org, params.at("id"), *body);
  if (!result.ok()) return Fail(result.status(), request);
  return JsonResponse(200, *result);
}

HttpResponse DeleteEvent(auth::AuthService& auth, consent::ConsentService& consent,
                         const HttpRequest& request, const PathParams& params) {
  auto org = Authorize(auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  auto result = consent.DeleteEvent(*org, params.at("id"));
  if (!result.ok()) return Fail(result.status(), request);
  return JsonResponse(200, *result);
}

HttpResponse ListUsers(auth::AuthService& auth, consent::ConsentService& consent,
                       const HttpRequest& request, const PathParams&) {
  auto org = Authorize(auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  auto page = ParsePage(request);
  if (!page.ok()) return Fail(page.status(), request);
  auto result = consent.ListUsers(*org, QueryOr(request, "organization_user_id", ""),
                                  QueryOr(request, "regulation", "gdpr"), *page);
  if (!result.ok()) return Fail(result.status(), request);
  json::array data;
  for (auto& u : result->items) data.emplace_back(std::move(u));
  return JsonResponse(200, PageJson(result->total, *page, std::move(data)));
}

HttpResponse GetUser(auth::AuthService& auth, consent::ConsentService& consent,
                     const HttpRequest& request, const PathParams& params) {
  auto org = Authorize(auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  auto result = consent.GetUser(*org, params.at("id"), QueryOr(request, "regulation", "gdpr"));
  if (!result.ok()) return Fail(result.status(), request);
  return JsonResponse(200, *result);
}

HttpResponse PatchUser(auth::AuthService& auth, consent::ConsentService& consent,
                       const HttpRequest& request, const PathParams& params) {
  auto org = Authorize(auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  HttpResponse error;
  auto body = ParseBody(request, &error);
  if (!body.ok()) return error;
  if (Status s = CheckBodyOrganization(*body, *org); !s.ok()) return Fail(s, request);
  auto result =
      consent.PatchUser(*org, params.at("id"), *body, QueryOr(request, "regulation", "gdpr"));
  if (!result.ok()) return Fail(result.status(), request);
  return JsonResponse(200, *result);
}

HttpResponse DeleteUser(auth::AuthService& auth, consent::ConsentService& consent,
                        const HttpRequest& request, const PathParams& params) {
  auto org = Authorize(auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  auto result = consent.DeleteUser(*org, params.at("id"), QueryOr(request, "regulation", "gdpr"));
  if (!result.ok()) return Fail(result.status(), request);
  return JsonResponse(200, *result);
}

}  // namespace

void AddConsentRoutes(Router& router, auth::AuthService& auth, consent::ConsentService& consent) {
  using Handler = HttpResponse (*)(auth::AuthService&, consent::ConsentService&, const HttpRequest&,
                                   const PathParams&);
  auto bind = [&](Handler fn) {
    return [&auth, &consent, fn](const HttpRequest& r, const PathParams& p) {
      return fn(auth, consent, r, p);
    };
  };
  router.Add("POST", "/v1/consents/events", bind(CreateEvent));
  router.Add("GET", "/v1/consents/events", bind(ListEvents));
  router.Add("GET", "/v1/consents/events/{id}", bind(GetEvent));
  router.Add("PATCH", "/v1/consents/events/{id}", bind(PatchEvent));
  router.Add("DELETE", "/v1/consents/events/{id}", bind(DeleteEvent));
  router.Add("GET", "/v1/consents/users", bind(ListUsers));
  router.Add("GET", "/v1/consents/users/{id}", bind(GetUser));
  router.Add("PATCH", "/v1/consents/users/{id}", bind(PatchUser));
  router.Add("DELETE", "/v1/consents/users/{id}", bind(DeleteUser));
}

}  // namespace relay::api
