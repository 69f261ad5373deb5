// Routes of the Consents API: /v1/consents/events and /v1/consents/users.
#include <boost/json.hpp>

#include "api/handler_support.h"
#include "api/routes.h"
#include "common/trace_context.h"

namespace relay::api {
namespace json = boost::json;

namespace {

using consent::ConsentService;

std::string QueryOr(const HttpRequest& r, const std::string& name, const std::string& fallback) {
  return r.Query(name).value_or(fallback);
}

json::value Same(const json::object& o) { return o; }

// How a write is made: Didomi's `$disable_integrations` (`true` stores the change without
// producing webhooks), and the request's W3C `traceparent`, which its webhooks continue (one that
// is not valid is ignored, as the spec says: the webhooks start a trace of their own).
Result<consent::WriteOptions> Options(const HttpRequest& r) {
  consent::WriteOptions options;
  auto value = r.Query("$disable_integrations");
  if (value && *value == "true") {
    options.quiet = true;
  } else if (value && *value != "false") {
    return InvalidField("$disable_integrations", "must be true or false");
  }
  options.traceparent = ParseTraceparent(r.Header("traceparent")).value_or("");
  return options;
}

HttpResponse PageAnswer(const Result<store::Page<json::object>>& result,
                        const store::PageRequest& page, const HttpRequest& request) {
  return Answer(result, request, [&](const store::Page<json::object>& p) {
    json::array data;
    for (const auto& item : p.items) data.emplace_back(item);
    return PageJson(p.total, page, std::move(data));
  });
}

HttpResponse CreateEvent(auth::AuthService& auth, ConsentService& consent,
                         const HttpRequest& request, const PathParams&) {
  HttpResponse error;
  auto scope = Scope(auth, request, Body::kJson, &error);
  if (!scope) return error;
  auto options = Options(request);
  if (!options.ok()) return Fail(options.status(), request);
  auto created = consent.CreateEvent(scope->organization_id, scope->body, request.body,
                                     request.Header("idempotency-key"), *options);
  if (!created.ok()) return Fail(created.status(), request);
  HttpResponse r = RawJsonResponse(201, std::move(created->body));
  if (created->replayed) r.headers.emplace_back("Idempotent-Replayed", "true");
  return r;
}

HttpResponse ListEvents(auth::AuthService& auth, ConsentService& consent,
                        const HttpRequest& request, const PathParams&) {
  HttpResponse error;
  auto scope = Scope(auth, request, Body::kNone, &error);
  if (!scope) return error;
  auto page = ParsePage(request);
  if (!page.ok()) return Fail(page.status(), request);
  return PageAnswer(consent.ListEvents(scope->organization_id, QueryOr(request, "user_id", ""),
                                       QueryOr(request, "organization_user_id", ""),
                                       QueryOr(request, "regulation", ""), *page),
                    *page, request);
}

HttpResponse GetEvent(auth::AuthService& auth, ConsentService& consent, const HttpRequest& request,
                      const PathParams& params) {
  HttpResponse error;
  auto scope = Scope(auth, request, Body::kNone, &error);
  if (!scope) return error;
  return Answer(consent.GetEvent(scope->organization_id, params.at("id")), request, Same);
}

HttpResponse PatchEvent(auth::AuthService& auth, ConsentService& consent,
                        const HttpRequest& request, const PathParams& params) {
  HttpResponse error;
  auto scope = Scope(auth, request, Body::kJson, &error);
  if (!scope) return error;
  auto options = Options(request);
  if (!options.ok()) return Fail(options.status(), request);
  return Answer(consent.PatchEvent(scope->organization_id, params.at("id"), scope->body, *options),
                request, Same);
}

HttpResponse DeleteEvent(auth::AuthService& auth, ConsentService& consent,
                         const HttpRequest& request, const PathParams& params) {
  HttpResponse error;
  auto scope = Scope(auth, request, Body::kNone, &error);
  if (!scope) return error;
  auto options = Options(request);
  if (!options.ok()) return Fail(options.status(), request);
  return Answer(consent.DeleteEvent(scope->organization_id, params.at("id"), *options), request,
                Same);
}

HttpResponse ListUsers(auth::AuthService& auth, ConsentService& consent, const HttpRequest& request,
                       const PathParams&) {
  HttpResponse error;
  auto scope = Scope(auth, request, Body::kNone, &error);
  if (!scope) return error;
  auto page = ParsePage(request);
  if (!page.ok()) return Fail(page.status(), request);
  return PageAnswer(
      consent.ListUsers(scope->organization_id, QueryOr(request, "organization_user_id", ""),
                        QueryOr(request, "regulation", "gdpr"), *page),
      *page, request);
}

HttpResponse GetUser(auth::AuthService& auth, ConsentService& consent, const HttpRequest& request,
                     const PathParams& params) {
  HttpResponse error;
  auto scope = Scope(auth, request, Body::kNone, &error);
  if (!scope) return error;
  return Answer(consent.GetUser(scope->organization_id, params.at("id"),
                                QueryOr(request, "regulation", "gdpr")),
                request, Same);
}

HttpResponse PatchUser(auth::AuthService& auth, ConsentService& consent, const HttpRequest& request,
                       const PathParams& params) {
  HttpResponse error;
  auto scope = Scope(auth, request, Body::kJson, &error);
  if (!scope) return error;
  auto options = Options(request);
  if (!options.ok()) return Fail(options.status(), request);
  return Answer(consent.PatchUser(scope->organization_id, params.at("id"), scope->body,
                                  QueryOr(request, "regulation", "gdpr"), *options),
                request, Same);
}

HttpResponse DeleteUser(auth::AuthService& auth, ConsentService& consent,
                        const HttpRequest& request, const PathParams& params) {
  HttpResponse error;
  auto scope = Scope(auth, request, Body::kNone, &error);
  if (!scope) return error;
  auto options = Options(request);
  if (!options.ok()) return Fail(options.status(), request);
  return Answer(consent.DeleteUser(scope->organization_id, params.at("id"),
                                   QueryOr(request, "regulation", "gdpr"), *options),
                request, Same);
}

// The console's "Send test event": 202 with {"type", "event_id"}; its webhook follows.
HttpResponse SendTestEvent(auth::AuthService& auth, ConsentService& consent,
                           const HttpRequest& request, const PathParams& params) {
  HttpResponse error;
  auto scope = Scope(auth, request, Body::kNone, &error);
  if (!scope) return error;
  auto options = Options(request);
  if (!options.ok()) return Fail(options.status(), request);
  return Answer(consent.SendTestEvent(scope->organization_id, params.at("id"), *options), request,
                Same, 202);
}

}  // namespace

void AddConsentRoutes(Router& router, auth::AuthService& auth, ConsentService& consent) {
  router.Add("POST", "/v1/consents/events", Bind(auth, consent, CreateEvent));
  router.Add("GET", "/v1/consents/events", Bind(auth, consent, ListEvents));
  router.Add("GET", "/v1/consents/events/{id}", Bind(auth, consent, GetEvent));
  router.Add("PATCH", "/v1/consents/events/{id}", Bind(auth, consent, PatchEvent));
  router.Add("DELETE", "/v1/consents/events/{id}", Bind(auth, consent, DeleteEvent));
  router.Add("GET", "/v1/consents/users", Bind(auth, consent, ListUsers));
  router.Add("GET", "/v1/consents/users/{id}", Bind(auth, consent, GetUser));
  router.Add("PATCH", "/v1/consents/users/{id}", Bind(auth, consent, PatchUser));
  router.Add("DELETE", "/v1/consents/users/{id}", Bind(auth, consent, DeleteUser));
  router.Add("POST", "/v1/marketplace/integrations/{id}/test", Bind(auth, consent, SendTestEvent));
}

}  // namespace relay::api
