// Routes that show an integration's outbox: its deliveries.
#include <boost/json.hpp>

#include "api/handler_support.h"
#include "api/routes.h"
#include "common/time_format.h"

namespace relay::api {
namespace json = boost::json;

namespace {

Result<std::optional<int64_t>> ParseTime(const HttpRequest& request, const std::string& name) {
  auto text = request.Query(name);
  if (!text) return std::optional<int64_t>();
  auto t = ParseTimestamp(*text);
  if (!t) return InvalidField(name, "must be an ISO 8601 date-time");
  return std::optional<int64_t>(t);
}

using delivery::DeliveryService;

json::value Render(const store::DeliveryRow& d) { return delivery::DeliveryToJson(d); }

HttpResponse ListDeliveries(auth::AuthService& auth, DeliveryService& deliveries,
                            const HttpRequest& request, const PathParams& params) {
  HttpResponse error;
  auto scope = Scope(auth, request, Body::kNone, &error);
  if (!scope) return error;
  auto page = ParsePage(request);
  if (!page.ok()) return Fail(page.status(), request);
  store::DeliveryFilter filter;
  filter.integration_id = params.at("id");
  if (auto status = request.Query("status")) {
    filter.status = store::ParseDeliveryStatus(*status);
    if (!filter.status) {
      return Fail(
          InvalidField("status", "must be pending, in_flight, succeeded, dead or cancelled"),
          request);
    }
  }
  filter.type = request.Query("type").value_or("");
  auto since = ParseTime(request, "since");
  if (!since.ok()) return Fail(since.status(), request);
  auto until = ParseTime(request, "until");
  if (!until.ok()) return Fail(until.status(), request);
  filter.since = *since;
  filter.until = *until;
  // Keyset pages unless $skip asks for offset paging (which counts the matches, as it used to):
  // `cursor` is the last delivery's id while more follow.
  auto cursor = request.Query("$cursor");
  if (request.Query("$skip")) {
    if (cursor) return Fail(InvalidField("$cursor", "cannot be combined with $skip"), request);
  } else {
    page->keyset = true;
    page->after = cursor.value_or("");
  }
  return Answer(
      deliveries.List(scope->organization_id, filter, *page), request,
      [&](const store::Page<store::DeliveryRow>& result) {
        json::array data;
        for (const auto& d : result.items) data.emplace_back(Render(d));
        if (!page->keyset) return PageJson(result.total, *page, std::move(data));
        json::value next = nullptr;
        if (result.more && !result.items.empty()) next = result.items.back().id;
        return json::object{{"limit", page->limit}, {"cursor", next}, {"data", std::move(data)}};
      });
}

HttpResponse GetDelivery(auth::AuthService& auth, DeliveryService& deliveries,
                         const HttpRequest& request, const PathParams& params) {
  HttpResponse error;
  auto scope = Scope(auth, request, Body::kNone, &error);
  if (!scope) return error;
  return Answer(deliveries.Get(scope->organization_id, params.at("id"), params.at("delivery_id")),
                request, Render);
}

HttpResponse RetryDelivery(auth::AuthService& auth, DeliveryService& deliveries,
                           const HttpRequest& request, const PathParams& params) {
  HttpResponse error;
  auto scope = Scope(auth, request, Body::kNone, &error);
  if (!scope) return error;
  return Answer(deliveries.Retry(scope->organization_id, params.at("id"), params.at("delivery_id")),
                request, Render);
}

// The body is optional: without one, every dead delivery is replayed.
HttpResponse Replay(auth::AuthService& auth, DeliveryService& deliveries,
                    const HttpRequest& request, const PathParams& params) {
  HttpResponse error;
  auto scope = Scope(auth, request, request.body.empty() ? Body::kNone : Body::kJson, &error);
  if (!scope) return error;
  store::ReplayFilter filter;
  if (!scope->body.is_null()) {
    if (!scope->body.is_object()) {
      return Fail(InvalidArgument("the body must be a JSON object"), request);
    }
    for (const auto& kv : scope->body.as_object()) {
      std::string key(kv.key());
      if (key == "status") {
        auto status = kv.value().is_string() ? store::ParseDeliveryStatus(kv.value().as_string())
                                             : std::nullopt;
        if (!status) return Fail(InvalidField("status", "must be dead or succeeded"), request);
        filter.status = *status;
      } else if (key == "since" || key == "until") {
        std::optional<int64_t> t;
        if (kv.value().is_string()) t = ParseTimestamp(kv.value().as_string());
        if (!t) return Fail(InvalidField(key, "must be an ISO 8601 date-time"), request);
        (key == "since" ? filter.since : filter.until) = t;
      } else {
        return Fail(InvalidField(key, "unknown field"), request);
      }
    }
  }
  return Answer(deliveries.Replay(scope->organization_id, params.at("id"), filter), request,
                [](int64_t n) {
                  return json::object{{"requeued", n}};
                });
}

}  // namespace

void AddDeliveryRoutes(Router& router, auth::AuthService& auth, DeliveryService& deliveries) {
  const std::string base = "/v1/marketplace/integrations/{id}";
  router.Add("GET", base + "/deliveries", Bind(auth, deliveries, ListDeliveries));
  router.Add("GET", base + "/deliveries/{delivery_id}", Bind(auth, deliveries, GetDelivery));
  router.Add("POST", base + "/deliveries/{delivery_id}/retry",
             Bind(auth, deliveries, RetryDelivery));
  router.Add("POST", base + "/replay", Bind(auth, deliveries, Replay));
}

}  // namespace relay::api
