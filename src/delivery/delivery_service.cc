// DeliveryService implementation.
#include "delivery/delivery_service.h"

#include <boost/json.hpp>

#include "common/json.h"
#include "common/time_format.h"

namespace relay::delivery {
namespace json = boost::json;

json::object DeliveryToJson(const store::DeliveryRow& d) {
  auto payload = ParseJson(d.payload);
  return json::object{{"id", d.id},
                      {"message_id", d.message_id},
                      {"integration_id", d.integration_id},
                      {"type", d.type},
                      {"regulation", d.regulation},
                      {"status", store::DeliveryStatusName(d.status)},
                      {"payload", payload.ok() ? payload.value() : json::value(d.payload)},
                      {"created_at", FormatTimestamp(d.created_at)},
                      {"attempts", json::array()}};
}

Result<store::Page<store::DeliveryRow>> DeliveryService::List(const std::string& org,
                                                              const store::DeliveryFilter& filter,
                                                              const store::PageRequest& page) {
  // The integration must exist in the organization (a deleted one answers 404).
  RELAY_RETURN_IF_ERROR(store_.GetIntegration(org, filter.integration_id).status());
  return store_.ListDeliveries(org, filter, page);
}

Result<store::DeliveryRow> DeliveryService::Get(const std::string& org,
                                                const std::string& integration_id,
                                                const std::string& id) {
  RELAY_ASSIGN_OR_RETURN(auto row, store_.GetDelivery(org, integration_id, id));
  if (!row) return NotFound("delivery not found: " + id);
  return std::move(*row);
}

}  // namespace relay::delivery
