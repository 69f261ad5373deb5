// Queries shared by SqliteStore's own methods and its write transactions. Callers hold the
// store's lock.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "store/sqlite/sqlite_db.h"
#include "store/store.h"

namespace relay::store {

inline constexpr char kIntegrationColumns[] =
    "id, organization_id, type_id, enabled, authentication, properties, client_secret, "
    "signing_secret, created_at, updated_at, version, previous_signing_secret, "
    "previous_secret_expires_at";

// Reads a row selected with kIntegrationColumns.
IntegrationRow ReadIntegration(const SqliteStatement& s);

Result<std::set<std::string>> SelectOrganizationFeatures(SqliteDb& db,
                                                         const std::string& organization_id);

}  // namespace relay::store
