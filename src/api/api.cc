// Route handlers: authenticate, scope to the organization, parse JSON, call a service, render.
#include "api/api.h"

#include <boost/json.hpp>
#include <charconv>

#include "api/errors.h"
#include "common/json.h"

namespace relay::api {
namespace json = boost::json;

namespace {

constexpr int64_t kDefaultLimit = 100;
constexpr int64_t kMaxLimit = 1000;

HttpResponse JsonResponse(int status, const json::value& body) {
  HttpResponse r;
  r.status = status;
  r.body = ToJsonString(body);
  return r;
}

HttpResponse Fail(const Status& status, const HttpRequest& request) {
  return ErrorResponse(status, request.request_id);
}

// The body as JSON: 415 unless the content type is JSON, 400 with line and column when malformed.
Result<json::value> ParseBody(const HttpRequest& request, HttpResponse* error) {
  std::string type = request.Header("content-type");
  std::string media = type.substr(0, type.find(';'));
  while (!media.empty() && media.back() == ' ') media.pop_back();
  for (char& c : media) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (media != "application/json" && media != "application/merge-patch+json") {
    *error = ErrorResponse(415, "Content-Type must be application/json");
    return InvalidArgument("");
  }
  if (request.body.empty()) {
    *error = ErrorResponse(400, "the request body is empty; a JSON object is expected");
    return InvalidArgument("");
  }
  auto parsed = ParseJson(request.body);
  if (!parsed.ok()) {
    *error = Fail(parsed.status(), request);
    return parsed.status();
  }
  return parsed;
}

Result<int64_t> ParseNonNegative(const std::optional<std::string>& text, const std::string& name,
                                 int64_t fallback, int64_t max) {
  if (!text) return fallback;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || ptr != text->data() + text->size() || v < 0 || v > max) {
    return InvalidField(name, "must be an integer from 0 to " + std::to_string(max));
  }
  return v;
}

Result<store::PageRequest> ParsePage(const HttpRequest& request) {
  store::PageRequest page;
  RELAY_ASSIGN_OR_RETURN(
      page.limit, ParseNonNegative(request.Query("$limit"), "$limit", kDefaultLimit, kMaxLimit));
  RELAY_ASSIGN_OR_RETURN(page.skip,
                         ParseNonNegative(request.Query("$skip"), "$skip", 0, int64_t{1} << 40));
  return page;
}

// Authenticates the caller and checks the organization_id query parameter against its keys.
Result<std::string> Authorize(auth::AuthService& auth, const HttpRequest& request) {
  const std::string& header = request.Header("authorization");
  if (header.empty()) return Unauthenticated("missing Authorization: Bearer <token> header");
  RELAY_ASSIGN_OR_RETURN(auth::Principal principal, auth.Authenticate(header));
  auto org = request.Query("organization_id");
  if (!org || org->empty()) return InvalidField("organization_id", "query parameter is required");
  RELAY_RETURN_IF_ERROR(principal.CheckOrganization(*org));
  return *org;
}

// A body's organization_id, when present, must name the organization of the query.
Status CheckBodyOrganization(json::value& body, const std::string& organization_id) {
  if (!body.is_object()) return Status::Ok();
  auto& obj = body.as_object();
  auto* org = obj.if_contains("organization_id");
  if (!org) return Status::Ok();
  if (!org->is_string() || org->as_string() != organization_id) {
    return InvalidField("organization_id", "must match the organization_id query parameter");
  }
  obj.erase("organization_id");
  return Status::Ok();
}

}  // namespace

Api::Api(ApiServices services) : services_(services) {
  router_.Add("GET", "/healthz", [](const HttpRequest&, const PathParams&) {
    return JsonResponse(200, json::object{{"status", "ok"}});
  });
  router_.Add("POST", "/v1/sessions",
              [this](const HttpRequest& r, const PathParams&) { return CreateSession(r); });
  router_.Add("POST", "/v1/marketplace/integrations",
              [this](const HttpRequest& r, const PathParams&) { return CreateIntegration(r); });
  router_.Add("GET", "/v1/marketplace/integrations",
              [this](const HttpRequest& r, const PathParams&) { return ListIntegrations(r); });
  router_.Add("GET", "/v1/marketplace/integrations/{id}",
              [this](const HttpRequest& r, const PathParams& p) { return GetIntegration(r, p); });
  router_.Add("PATCH", "/v1/marketplace/integrations/{id}",
              [this](const HttpRequest& r, const PathParams& p) { return PatchIntegration(r, p); });
  router_.Add(
      "DELETE", "/v1/marketplace/integrations/{id}",
      [this](const HttpRequest& r, const PathParams& p) { return DeleteIntegration(r, p); });
  router_.Add(
      "GET", "/v1/marketplace/integrations/{id}/secret",
      [this](const HttpRequest& r, const PathParams& p) { return GetIntegrationSecret(r, p); });
}

HttpResponse Api::CreateSession(const HttpRequest& request) const {
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
      services_.auth.CreateSession(std::string(key->as_string()), std::string(secret->as_string()));
  if (!session.ok()) return Fail(session.status(), request);
  HttpResponse r = JsonResponse(201, json::object{{"access_token", session->access_token},
                                                  {"token_type", "Bearer"},
                                                  {"expires_in", session->expires_in}});
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse Api::CreateIntegration(const HttpRequest& request) const {
  auto org = Authorize(services_.auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  HttpResponse error;
  auto body = ParseBody(request, &error);
  if (!body.ok()) return error;
  if (Status s = CheckBodyOrganization(*body, *org); !s.ok()) return Fail(s, request);
  auto created = services_.integrations.Create(*org, *body);
  if (!created.ok()) return Fail(created.status(), request);
  json::object out = integrations::IntegrationToJson(created->integration);
  out["signing_secret"] = created->signing_secret;
  HttpResponse r = JsonResponse(201, out);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse Api::ListIntegrations(const HttpRequest& request) const {
  auto org = Authorize(services_.auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  auto page = ParsePage(request);
  if (!page.ok()) return Fail(page.status(), request);
  auto result = services_.integrations.List(*org, *page);
  if (!result.ok()) return Fail(result.status(), request);
  json::array data;
  for (const auto& i : result->items) data.emplace_back(integrations::IntegrationToJson(i));
  return JsonResponse(200, json::object{{"total", result->total},
                                        {"limit", page->limit},
                                        {"skip", page->skip},
                                        {"data", std::move(data)}});
}

HttpResponse Api::GetIntegration(const HttpRequest& request, const PathParams& params) const {
  auto org = Authorize(services_.auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  auto result = services_.integrations.Get(*org, params.at("id"));
  if (!result.ok()) return Fail(result.status(), request);
  return JsonResponse(200, integrations::IntegrationToJson(*result));
}

HttpResponse Api::PatchIntegration(const HttpRequest& request, const PathParams& params) const {
  auto org = Authorize(services_.auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  HttpResponse error;
  auto body = ParseBody(request, &error);
  if (!body.ok()) return error;
  if (Status s = CheckBodyOrganization(*body, *org); !s.ok()) return Fail(s, request);
  auto result = services_.integrations.Patch(*org, params.at("id"), *body);
  if (!result.ok()) return Fail(result.status(), request);
  return JsonResponse(200, integrations::IntegrationToJson(*result));
}

HttpResponse Api::DeleteIntegration(const HttpRequest& request, const PathParams& params) const {
  auto org = Authorize(services_.auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  auto result = services_.integrations.Delete(*org, params.at("id"));
  if (!result.ok()) return Fail(result.status(), request);
  return JsonResponse(200, integrations::IntegrationToJson(*result));
}

HttpResponse Api::GetIntegrationSecret(const HttpRequest& request, const PathParams& params) const {
  auto org = Authorize(services_.auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  auto secret = services_.integrations.GetSigningSecret(*org, params.at("id"));
  if (!secret.ok()) return Fail(secret.status(), request);
  HttpResponse r = JsonResponse(200, json::object{{"signing_secret", *secret}});
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

}  // namespace relay::api
