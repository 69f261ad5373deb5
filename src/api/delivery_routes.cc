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

HttpResponse ListDeliveries(auth::AuthService& auth, delivery::DeliveryService& deliveries,
                            const HttpRequest& request, const PathParams& params) {
  auto org = Authorize(auth, request);
  if (!org.ok()) return Fail(org.status(), request);
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
  auto result = deliveries.List(*org, filter, *page);
  if (!result.ok()) return Fail(result.status(), request);
  json::array data;
  for (const auto& d : result->items) data.emplace_back(delivery::DeliveryToJson(d));
  return JsonResponse(200, PageJson(result->total, *page, std::move(data)));
}

HttpResponse GetDelivery(auth::AuthService& auth, delivery::DeliveryService& deliveries,
                         const HttpRequest& request, const PathParams& params) {
  auto org = Authorize(auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  auto result = deliveries.Get(*org, params.at("id"), params.at("delivery_id"));
  if (!result.ok()) return Fail(result.status(), request);
  return JsonResponse(200, delivery::DeliveryToJson(*result));
}

HttpResponse RetryDelivery(auth::AuthService& auth, delivery::DeliveryService& deliveries,
                           const HttpRequest& request, const PathParams& params) {
  auto org = Authorize(auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  auto result = deliveries.Retry(*org, params.at("id"), params.at("delivery_id"));
  if (!result.ok()) return Fail(result.status(), request);
  return JsonResponse(200, delivery::DeliveryToJson(*result));
}

HttpResponse Replay(auth::AuthService& auth, delivery::DeliveryService& deliveries,
                    const HttpRequest& request, const PathParams& params) {
  auto org = Authorize(auth, request);
  if (!org.ok()) return Fail(org.status(), request);
  store::ReplayFilter filter;
  if (!request.body.empty()) {
    HttpResponse error;
    auto body = ParseBody(request, &error);
    if (!body.ok()) return error;
    if (!body->is_object()) return Fail(InvalidArgument("the body must be a JSON object"), request);
    for (const auto& kv : body->as_object()) {
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
  auto count = deliveries.Replay(*org, params.at("id"), filter);
  if (!count.ok()) return Fail(count.status(), request);
  return JsonResponse(200, json::object{{"requeued", *count}});
}

}  // namespace

void AddDeliveryRoutes(Router& router, auth::AuthService& auth,
                       delivery::DeliveryService& deliveries) {
  router.Add("GET", "/v1/marketplace/integrations/{id}/deliveries",
             [&auth, &deliveries](const HttpRequest& r, const PathParams& p) {
               return ListDeliveries(auth, deliveries, r, p);
             });
  router.Add("GET", "/v1/marketplace/integrations/{id}/deliveries/{delivery_id}",
             [&auth, &deliveries](const HttpRequest& r, const PathParams& p) {
               return GetDelivery(auth, deliveries, r, p);
             });
  router.Add("POST", "/v1/marketplace/integrations/{id}/deliveries/{delivery_id}/retry",
             [&auth, &deliveries](const HttpRequest& r, const PathParams& p) {
               return RetryDelivery(auth, deliveries, r, p);
             });
  router.Add("POST", "/v1/marketplace/integrations/{id}/replay",
             [&auth, &deliveries](const HttpRequest& r, const PathParams& p) {
               return Replay(auth, deliveries, r, p);
             });
}

}  // namespace relay::api
