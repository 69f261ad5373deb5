// TargetCache: what the dispatcher needs to send to an integration (its configuration, signing
// keys and OAuth fingerprint), loaded once and reused while the integration's version holds and
// no rotated-out signing secret has expired. Single-threaded: the dispatcher's thread owns it.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "integrations/integration_service.h"
#include "store/rows.h"

namespace relay::delivery {

struct SendTarget {
  int64_t version = 0;
  integrations::DeliveryTarget target;
  std::vector<std::string> keys;  // signing keys in force, newest first
  std::string oauth_fingerprint;  // empty without OAuth
};

class TargetCache {
 public:
  TargetCache(integrations::IntegrationService& integrations, const Clock& clock)
      : integrations_(integrations), clock_(clock) {}

  // The target for `d`'s integration (the pointer holds until the next Get). kNotFound when the
  // integration is gone.
  Result<const SendTarget*> Get(const store::ClaimedDelivery& d);

 private:
  integrations::IntegrationService& integrations_;
  const Clock& clock_;
  std::unordered_map<std::string, SendTarget> targets_;
};

}  // namespace relay::delivery
