// Organization features an operator switches on with `consent-relay orgs enable`.
#pragma once

#include <string_view>

namespace relay::integrations {

// Webhooks are a premium feature: off until the operator enables it for an organization.
inline constexpr char kFeatureWebhooks[] = "webhooks";
// Non-GDPR regulations may be sent only to organizations with this feature.
inline constexpr char kFeatureMultiRegulation[] = "multi-regulation";

inline bool IsKnownFeature(std::string_view f) {
  return f == kFeatureWebhooks || f == kFeatureMultiRegulation;
}

}  // namespace relay::integrations
