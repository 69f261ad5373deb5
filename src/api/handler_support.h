// Helpers every route handler uses: authorization, JSON bodies, pagination, answers.
// Internal to src/api.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>

#include "api/http_types.h"
#include "api/router.h"
#include "auth/auth_service.h"
#include "common/status.h"
#include "store/rows.h"

namespace relay::api {

HttpResponse JsonResponse(int status, const boost::json::value& body);
// A JSON body that is already serialized.
HttpResponse RawJsonResponse(int status, std::string body);
HttpResponse Fail(const Status& status, const HttpRequest& request);

// The body as JSON. On failure `*error` holds the answer to send: 415 unless the content type is
// JSON, 400 when empty or malformed (with line and column).
Result<boost::json::value> ParseBody(const HttpRequest& request, HttpResponse* error);

// $limit (default 100, at most 1000) and $skip.
Result<store::PageRequest> ParsePage(const HttpRequest& request);
// {"total", "limit", "skip", "data"}.
boost::json::object PageJson(int64_t total, const store::PageRequest& page,
                             boost::json::array data);

// Authenticates the caller and checks the organization_id query parameter against its keys:
// 401, then 400 when the parameter is missing, then 403.
Result<std::string> Authorize(auth::AuthService& auth, const HttpRequest& request);

// A body's organization_id, when present, must name the query's organization; it is removed.
Status CheckBodyOrganization(boost::json::value& body, const std::string& organization_id);

// What every /v1 handler starts from: the authorized organization and, for writes, the body.
struct RequestScope {
  std::string organization_id;
  boost::json::value body;  // null unless asked for
};
enum class Body { kNone, kJson };
// Authorizes the request and, with Body::kJson, parses its body (checking its organization_id).
// On failure returns nullopt with the answer to send in `*error`.
std::optional<RequestScope> Scope(auth::AuthService& auth, const HttpRequest& request, Body body,
                                  HttpResponse* error);

// 200 with `render(value)`, or the error's answer.
template <typename T, typename Render>
HttpResponse Answer(const Result<T>& result, const HttpRequest& request, Render render,
                    int status = 200) {
  if (!result.ok()) return Fail(result.status(), request);
  return JsonResponse(status, render(*result));
}

// Binds a handler taking (auth, service, request, params) into a RouteHandler.
template <typename Service>
RouteHandler Bind(auth::AuthService& auth, Service& service,
                  HttpResponse (*fn)(auth::AuthService&, Service&, const HttpRequest&,
                                     const PathParams&)) {
  return [&auth, &service, fn](const HttpRequest& r, const PathParams& p) {
    return fn(auth, service, r, p);
  };
}

}  // namespace relay::api
