// IntegrationStore: integrations, and the organization features that gate them (the integration
// service).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/rows.h"

namespace relay::store {

// All methods are thread-safe and each is atomic: it either happens whole or not at all. A write
// that returns ok is durable (on disk, or committed on the database server). Errors: kNotFound
// for absent rows (rows of another organization count as absent), kConflict for duplicates and
// version mismatches, kUnavailable when the database cannot be written (disk full, locked too
// long), kInternal otherwise.
class IntegrationStore {
 public:
  virtual ~IntegrationStore() = default;

  // --- organization features ---
  // The organization's enabled features; empty for an unknown organization.
  virtual Result<std::set<std::string>> GetOrganizationFeatures(
      const std::string& organization_id) = 0;

  // --- integrations (always scoped to an organization) ---
  virtual Status CreateIntegration(const IntegrationRow& row) = 0;
  virtual Result<IntegrationRow> GetIntegration(const std::string& organization_id,
                                                const std::string& id) = 0;
  // Oldest first, stable across pages.
  virtual Result<Page<IntegrationRow>> ListIntegrations(const std::string& organization_id,
                                                        const PageRequest& page) = 0;
  // Replaces the row if its stored version is `expected_version`, else kConflict.
  virtual Status UpdateIntegration(const IntegrationRow& row, int64_t expected_version) = 0;
  // Marks deleted (kept for the history of its deliveries) and erases its secrets.
  virtual Status DeleteIntegration(const std::string& organization_id, const std::string& id,
                                   int64_t now) = 0;
};

}  // namespace relay::store
