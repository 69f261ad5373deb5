// StateChanges implementation.
#include "integrations/state_changes.h"

#include "common/log.h"

namespace relay::integrations {

void StateChanges::Report(const std::string& organization_id, const std::string& integration_id,
                          std::string_view state, const std::string& reason) {
  std::string labels = "state=\"";
  labels += state;
  labels += '"';
  metrics_
      .GetCounter("relay_integration_state_changes_total",
                  "Integrations entering a health state (healthy, failing, open, disabled)", labels)
      .Add();
  const bool bad = state == "open" || state == "disabled";
  log::Write(bad ? log::Level::kWarn : log::Level::kInfo, "integration health changed",
             {{"organization", organization_id},
              {"integration", integration_id},
              {"state", std::string(state)},
              {"reason", reason}});
}

}  // namespace relay::integrations
