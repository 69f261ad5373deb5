// DeliveryService: what the API shows of the outbox, per integration.
#pragma once

#include <boost/json/object.hpp>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "store/integration_store.h"
#include "store/outbox_store.h"

namespace relay::delivery {

// A delivery as the API shows it: {"id", "message_id", "integration_id", "type", "regulation",
// "status", "payload" (the exact JSON object that is POSTed), "created_at", "attempts",
// "next_attempt_at" (while pending), "trace_id" (of the change's W3C trace, which the webhook
// requests continue; null for messages older than traces)}.
boost::json::object DeliveryToJson(const store::DeliveryRow& row);

// Thread-safe; scoped to an organization and one of its integrations (kNotFound otherwise).
class DeliveryService {
 public:
  // `integrations` scopes every call to an integration of the organization.
  DeliveryService(store::OutboxStore& outbox, store::IntegrationStore& integrations,
                  const Clock& clock)
      : outbox_(outbox), integrations_(integrations), clock_(clock) {}

  // Newest first.
  Result<store::Page<store::DeliveryRow>> List(const std::string& organization_id,
                                               const store::DeliveryFilter& filter,
                                               const store::PageRequest& page);
  Result<store::DeliveryRow> Get(const std::string& organization_id,
                                 const std::string& integration_id, const std::string& id);
  // Re-queues one delivery now, with a fresh retry schedule.
  Result<store::DeliveryRow> Retry(const std::string& organization_id,
                                   const std::string& integration_id, const std::string& id);
  // Re-queues every delivery of the integration matching `filter`, in batches; returns how many.
  Result<int64_t> Replay(const std::string& organization_id, const std::string& integration_id,
                         const store::ReplayFilter& filter);

 private:
  store::OutboxStore& outbox_;
  store::IntegrationStore& integrations_;
  const Clock& clock_;
};

}  // namespace relay::delivery
