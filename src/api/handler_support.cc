// Route handler helpers.
#include "api/handler_support.h"

#include <boost/json.hpp>
#include <charconv>

#include "api/errors.h"
#include "common/json.h"

namespace relay::api {
namespace json = boost::json;

namespace {
constexpr int64_t kDefaultLimit = 100;
constexpr int64_t kMaxLimit = 1000;

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
}  // namespace

HttpResponse RawJsonResponse(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

json::object PageJson(int64_t total, const store::PageRequest& page, json::array data) {
  return json::object{
      {"total", total}, {"limit", page.limit}, {"skip", page.skip}, {"data", std::move(data)}};
}

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
  RELAY_RETURN_IF_ERROR(auth.CheckOrganization(principal, *org));
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

std::optional<RequestScope> Scope(auth::AuthService& auth, const HttpRequest& request, Body body,
                                  HttpResponse* error) {
  auto org = Authorize(auth, request);
  if (!org.ok()) {
    *error = Fail(org.status(), request);
    return std::nullopt;
  }
  RequestScope scope{*org, nullptr};
  if (body == Body::kJson) {
    auto parsed = ParseBody(request, error);
    if (!parsed.ok()) return std::nullopt;
    scope.body = std::move(parsed).value();
    if (Status s = CheckBodyOrganization(scope.body, scope.organization_id); !s.ok()) {
      *error = Fail(s, request);
      return std::nullopt;
    }
  }
  return scope;
}

}  // namespace relay::api
