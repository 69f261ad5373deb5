// Store: the narrow interface every backend (SQLite now, PostgreSQL later) implements. Nothing
// outside src/store knows SQL. Rows hold what the database holds: secrets arrive already sealed
// (encrypted) by the caller and leave sealed; JSON columns are opaque text to the store.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace relay::store {

struct ApiKeyRow {
  std::string id;
  std::string name;
  std::string secret_hash;  // SHA-256 of the secret; the secret itself is never stored
  std::vector<std::string> organizations;
  int64_t created_at = 0;
  std::optional<int64_t> revoked_at;
};

struct OrganizationRow {
  std::string id;
  std::set<std::string> features;
  int64_t created_at = 0;
};

struct IntegrationRow {
  std::string id;
  std::string organization_id;
  std::string type_id;
  bool enabled = true;
  std::string authentication_json;    // the authentication object without client_secret
  std::string properties_json;        // the properties object
  std::string client_secret_sealed;   // empty when there is no OAuth client secret
  std::string signing_secret_sealed;  // the Standard Webhooks secret, sealed
  int64_t created_at = 0;
  int64_t updated_at = 0;
  int64_t version = 1;
};

struct PageRequest {
  int64_t limit = 100;
  int64_t skip = 0;
};

template <typename T>
struct Page {
  int64_t total = 0;
  std::vector<T> items;
};

// All methods are thread-safe and each is atomic: it either happens whole or not at all. A write
// that returns ok is durable (on disk, or committed on the database server). Errors: kNotFound
// for absent rows (rows of another organization count as absent), kConflict for duplicates and
// version mismatches, kUnavailable when the database cannot be written (disk full, locked too
// long), kInternal otherwise.
class Store {
 public:
  virtual ~Store() = default;

  // --- settings: small named values the server itself owns (e.g. the master key check) ---
  virtual Result<std::optional<std::string>> GetSetting(const std::string& name) = 0;
  // Stores `value` unless `name` already has one; returns the value in force afterwards.
  virtual Result<std::string> PutSettingIfAbsent(const std::string& name,
                                                 const std::string& value) = 0;

  // --- API keys ---
  // Creates the key and any organization it names that does not exist yet.
  virtual Status CreateApiKey(const ApiKeyRow& key) = 0;
  virtual Result<ApiKeyRow> GetApiKey(const std::string& id) = 0;
  virtual Result<std::vector<ApiKeyRow>> ListApiKeys() = 0;
  // Marks the key revoked at `now`; kNotFound if absent. Revoking twice keeps the first time.
  virtual Status RevokeApiKey(const std::string& id, int64_t now) = 0;

  // --- organizations and their features ---
  // Enables or disables `feature`; creates the organization when it does not exist yet.
  virtual Status SetOrganizationFeature(const std::string& organization_id,
                                        const std::string& feature, bool enabled, int64_t now) = 0;
  // The organization's enabled features; empty for an unknown organization.
  virtual Result<std::set<std::string>> GetOrganizationFeatures(
      const std::string& organization_id) = 0;
  virtual Result<std::vector<OrganizationRow>> ListOrganizations() = 0;

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
