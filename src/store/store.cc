// Names of delivery statuses, shared by every backend and the API.
#include "store/store.h"

namespace relay::store {

const char* DeliveryStatusName(DeliveryStatus status) {
  switch (status) {
    case DeliveryStatus::kPending:
      return "pending";
    case DeliveryStatus::kInFlight:
      return "in_flight";
    case DeliveryStatus::kSucceeded:
      return "succeeded";
    case DeliveryStatus::kDead:
      return "dead";
    case DeliveryStatus::kCancelled:
      return "cancelled";
  }
  return "pending";
}

std::optional<DeliveryStatus> ParseDeliveryStatus(std::string_view name) {
  for (auto s : {DeliveryStatus::kPending, DeliveryStatus::kInFlight, DeliveryStatus::kSucceeded,
                 DeliveryStatus::kDead, DeliveryStatus::kCancelled}) {
    if (name == DeliveryStatusName(s)) return s;
  }
  return std::nullopt;
}

Result<RoundTripResult> OutboxStore::RecordAndClaim(const std::vector<DeliveryOutcome>& outcomes,
                                                    int64_t now, const HealthPolicy& policy,
                                                    const ClaimRequest& request) {
  RoundTripResult result;
  RELAY_ASSIGN_OR_RETURN(result.health, RecordOutcomes(outcomes, now, policy));
  RELAY_ASSIGN_OR_RETURN(result.claimed, ClaimDeliveries(request));
  return result;
}

}  // namespace relay::store
