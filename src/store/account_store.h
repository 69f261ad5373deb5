// AccountStore: the server's settings, API keys and organizations (the auth service and the
// admin commands).
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
class AccountStore {
 public:
  virtual ~AccountStore() = default;

  // --- settings: small named values the server itself owns (e.g. the master key check) ---
  virtual Result<std::optional<std::string>> GetSetting(const std::string& name) = 0;
  // Stores `value` unless `name` already has one; returns the value in force afterwards.
  virtual Result<std::string> PutSettingIfAbsent(const std::string& name,
                                                 const std::string& value) = 0;

  // --- API keys ---
  // Creates the key and any organization it names that does not exist yet.
  virtual Status CreateApiKey(const ApiKeyRow& key) = 0;
  virtual Result<ApiKeyRow> GetApiKey(const std::string& id) = 0;
  // Whether the key is revoked and whether it may act for `organization_id` (false for ""),
  // without reading its other organizations; kNotFound when there is no such key.
  virtual Result<KeyGrant> GetKeyGrant(const std::string& key_id,
                                       const std::string& organization_id) = 0;
  virtual Result<std::vector<ApiKeyRow>> ListApiKeys() = 0;
  // Marks the key revoked at `now`; kNotFound if absent. Revoking twice keeps the first time.
  virtual Status RevokeApiKey(const std::string& id, int64_t now) = 0;

  // --- organizations and their features ---
  // Enables or disables `feature`; creates the organization when it does not exist yet.
  virtual Status SetOrganizationFeature(const std::string& organization_id,
                                        const std::string& feature, bool enabled, int64_t now) = 0;
  virtual Result<std::vector<OrganizationRow>> ListOrganizations() = 0;
};

}  // namespace relay::store
