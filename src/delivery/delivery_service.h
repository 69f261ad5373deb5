// DeliveryService: what the API shows of the outbox, per integration.
#pragma once

#include <boost/json/object.hpp>
#include <string>

#include "common/status.h"
#include "store/store.h"

namespace relay::delivery {

// A delivery as the API shows it: {"id", "message_id", "integration_id", "type", "regulation",
// "status", "payload" (the exact JSON object that is POSTed), "created_at", "attempts"}.
boost::json::object DeliveryToJson(const store::DeliveryRow& row);

// Thread-safe; scoped to an organization and one of its integrations (kNotFound otherwise).
class DeliveryService {
 public:
  explicit DeliveryService(store::Store& store) : store_(store) {}

  // Newest first.
  Result<store::Page<store::DeliveryRow>> List(const std::string& organization_id,
                                               const store::DeliveryFilter& filter,
                                               const store::PageRequest& page);
  Result<store::DeliveryRow> Get(const std::string& organization_id,
                                 const std::string& integration_id, const std::string& id);

 private:
  store::Store& store_;
};

}  // namespace relay::delivery
