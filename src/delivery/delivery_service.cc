// DeliveryService implementation.
#include "delivery/delivery_service.h"

#include <boost/json.hpp>

#include "common/json.h"
#include "common/time_format.h"
#include "common/trace_context.h"

namespace relay::delivery {
namespace json = boost::json;

json::object DeliveryToJson(const store::DeliveryRow& d) {
  auto payload = ParseJson(d.payload);
  json::array attempts;
  for (const auto& a : d.attempts) {
    attempts.emplace_back(json::object{
        {"attempt", a.attempt},
        {"started_at", FormatTimestamp(a.started_at)},
        {"duration_ms", a.duration_ms},
        {"http_status", a.http_status ? json::value(*a.http_status) : json::value(nullptr)},
        {"error", a.error.empty() ? json::value(nullptr) : json::value(a.error)},
        {"response_body",
         a.http_status && !d.erased ? json::value(a.response_body) : json::value(nullptr)}});
  }
  // An erased user's delivery shows no payload; "erased" says why.
  json::value shown_payload = d.erased       ? json::value(nullptr)
                              : payload.ok() ? payload.value()
                                             : json::value(d.payload);
  json::object out{{"id", d.id},
                   {"message_id", d.message_id},
                   {"integration_id", d.integration_id},
                   {"type", d.type},
                   {"regulation", d.regulation},
                   {"status", store::DeliveryStatusName(d.status)},
                   {"payload", std::move(shown_payload)},
                   {"erased", d.erased},
                   {"created_at", FormatTimestamp(d.created_at)},
                   {"trace_id", d.traceparent.empty() ? json::value(nullptr)
                                                      : json::value(TraceIdOf(d.traceparent))},
                   {"attempts", std::move(attempts)}};
  if (d.status == store::DeliveryStatus::kPending) {
    out["next_attempt_at"] = FormatTimestamp(d.next_attempt_at);
  }
  return out;
}

Result<store::Page<store::DeliveryRow>> DeliveryService::List(const std::string& org,
                                                              const store::DeliveryFilter& filter,
                                                              const store::PageRequest& page) {
  // The integration must exist in the organization (a deleted one answers 404).
  RELAY_RETURN_IF_ERROR(integrations_.GetIntegration(org, filter.integration_id).status());
  return outbox_.ListDeliveries(org, filter, page);
}

Result<store::DeliveryRow> DeliveryService::Get(const std::string& org,
                                                const std::string& integration_id,
                                                const std::string& id) {
  RELAY_ASSIGN_OR_RETURN(auto row, outbox_.GetDelivery(org, integration_id, id));
  if (!row) return NotFound("delivery not found: " + id);
  return std::move(*row);
}

Result<store::DeliveryRow> DeliveryService::Retry(const std::string& org,
                                                  const std::string& integration_id,
                                                  const std::string& id) {
  RELAY_RETURN_IF_ERROR(integrations_.GetIntegration(org, integration_id).status());
  return outbox_.RequeueDelivery(org, integration_id, id, clock_.NowMillis());
}

Result<int64_t> DeliveryService::Replay(const std::string& org, const std::string& integration_id,
                                        const store::ReplayFilter& filter) {
  RELAY_RETURN_IF_ERROR(integrations_.GetIntegration(org, integration_id).status());
  if (filter.status != store::DeliveryStatus::kDead &&
      filter.status != store::DeliveryStatus::kSucceeded) {
    return InvalidField("status", "must be dead or succeeded");
  }
  return outbox_.RequeueDeliveries(org, integration_id, filter, clock_.NowMillis(), 5000);
}

}  // namespace relay::delivery
