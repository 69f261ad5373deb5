// StateChanges: an integration's change of health state (healthy, failing, open, disabled), logged
// once by whoever caused it (the dispatcher whose outcomes did, or the API's PATCH of enabled) and
// counted in relay_integration_state_changes_total{state}.
#pragma once

#include <string>
#include <string_view>

#include "common/metrics.h"

namespace relay::integrations {

class StateChanges {
 public:
  explicit StateChanges(MetricsRegistry& metrics) : metrics_(metrics) {}
  void Report(const std::string& organization_id, const std::string& integration_id,
              std::string_view state, const std::string& reason);

 private:
  MetricsRegistry& metrics_;
};

}  // namespace relay::integrations
