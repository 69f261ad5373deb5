// The AccountStore role on SQLite: settings, API keys, organizations.
#include <chrono>
#include <map>
#include <mutex>

#include "common/clock.h"
#include "store/catching.h"
#include "store/shared_sql.h"
#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/sqlite_rows.h"
#include "store/sqlite/sqlite_store.h"

namespace relay::store {

Result<std::optional<std::string>> SqliteStore::GetSetting(const std::string& name) {
  auto db_ = BorrowReader();
  RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT value FROM settings WHERE name = ?"));
  stmt->Bind(1, name);
  RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(stmt->ColumnText(0));
}

Result<std::string> SqliteStore::PutSettingIfAbsent(const std::string& name,
                                                    const std::string& value) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string in_force;
  Status s = InTransaction(*db_, [&]() -> Status {
    {
      RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kPutSettingIfAbsentSql));
      stmt->Bind(1, name).Bind(2, value);
      RELAY_RETURN_IF_ERROR(stmt->Run());
    }
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT value FROM settings WHERE name = ?"));
    stmt->Bind(1, name);
    RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return Internal("setting vanished after insert");
    in_force = stmt->ColumnText(0);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return in_force;
}

Status SqliteStore::EnsureOrganization(const std::string& organization_id, int64_t now) {
  RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kEnsureOrganizationSql));
  stmt->Bind(1, organization_id).Bind(2, now);
  return stmt->Run();
}

Status SqliteStore::CreateApiKey(const ApiKeyRow& key) {
  std::lock_guard<std::mutex> lock(mu_);
  return InTransaction(*db_, [&]() -> Status {
    {
      RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kInsertApiKeySql));
      stmt->Bind(1, key.id).Bind(2, key.name).BindBlob(3, key.secret_hash).Bind(4, key.created_at);
      stmt->Bind(5, key.revoked_at);
      RELAY_RETURN_IF_ERROR(stmt->Run());
    }
    for (const auto& org : key.organizations) {
      RELAY_RETURN_IF_ERROR(EnsureOrganization(org, key.created_at));
      RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kInsertKeyOrganizationSql));
      stmt->Bind(1, key.id).Bind(2, org);
      RELAY_RETURN_IF_ERROR(stmt->Run());
    }
    return Status::Ok();
  });
}

Result<std::vector<std::string>> SqliteStore::KeyOrganizations(SqliteDb& db,
                                                               const std::string& key_id) {
  RELAY_ASSIGN_OR_RETURN(auto stmt, db.Prepare("SELECT organization_id FROM "
                                               "api_key_organizations WHERE key_id = ? "
                                               "ORDER BY organization_id"));
  stmt->Bind(1, key_id);
  std::vector<std::string> orgs;
  while (true) {
    RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    orgs.push_back(stmt->ColumnText(0));
  }
  return orgs;
}

Result<ApiKeyRow> SqliteStore::GetApiKey(const std::string& id) {
  auto db_ = BorrowReader();
  ApiKeyRow key;
  {
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kSelectApiKeySql));
    stmt->Bind(1, id);
    RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return NotFound("api key not found");
    key.id = stmt->ColumnText(0);
    key.name = stmt->ColumnText(1);
    key.secret_hash = stmt->ColumnText(2);
    key.created_at = stmt->ColumnInt(3);
    key.revoked_at = stmt->ColumnOptionalInt(4);
  }
  RELAY_ASSIGN_OR_RETURN(key.organizations, KeyOrganizations(*db_, key.id));
  return key;
}

Result<KeyGrant> SqliteStore::GetKeyGrant(const std::string& key_id,
                                          const std::string& organization_id) {
  auto db = BorrowReader();
  RELAY_ASSIGN_OR_RETURN(auto stmt, db->Prepare(kKeyGrantSql));
  stmt->Bind(1, key_id).Bind(2, organization_id);
  RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return NotFound("api key not found");
  return KeyGrant{stmt->ColumnOptionalInt(0).has_value(), stmt->ColumnInt(1) == 1};
}

Result<std::vector<ApiKeyRow>> SqliteStore::ListApiKeys() {
  auto db_ = BorrowReader();
  std::vector<ApiKeyRow> keys;
  {
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kListApiKeysSql));
    while (true) {
      RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      ApiKeyRow key;
      key.id = stmt->ColumnText(0);
      key.name = stmt->ColumnText(1);
      key.created_at = stmt->ColumnInt(2);
      key.revoked_at = stmt->ColumnOptionalInt(3);
      keys.push_back(std::move(key));
    }
  }
  for (auto& key : keys) {
    RELAY_ASSIGN_OR_RETURN(key.organizations, KeyOrganizations(*db_, key.id));
  }
  return keys;
}

Status SqliteStore::RevokeApiKey(const std::string& id, int64_t now) {
  std::lock_guard<std::mutex> lock(mu_);
  RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kRevokeApiKeySql));
  stmt->Bind(1, now).Bind(2, id);
  RELAY_RETURN_IF_ERROR(stmt->Run());
  if (db_->Changes() == 0) return NotFound("api key not found: " + id);
  return Status::Ok();
}

Status SqliteStore::SetOrganizationFeature(const std::string& organization_id,
                                           const std::string& feature, bool enabled, int64_t now) {
  std::lock_guard<std::mutex> lock(mu_);
  return InTransaction(*db_, [&]() -> Status {
    RELAY_RETURN_IF_ERROR(EnsureOrganization(organization_id, now));
    if (enabled) {
      RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kEnableFeatureSql));
      stmt->Bind(1, organization_id).Bind(2, feature).Bind(3, now);
      return stmt->Run();
    }
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kDisableFeatureSql));
    stmt->Bind(1, organization_id).Bind(2, feature);
    return stmt->Run();
  });
}

Result<std::vector<OrganizationRow>> SqliteStore::ListOrganizations() {
  auto db_ = BorrowReader();
  RELAY_ASSIGN_OR_RETURN(
      auto stmt, db_->Prepare("SELECT o.id, o.created_at, f.feature FROM organizations o "
                              "LEFT JOIN organization_features f ON f.organization_id = o.id "
                              "ORDER BY o.id, f.feature"));
  std::vector<OrganizationRow> orgs;
  while (true) {
    RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    std::string id = stmt->ColumnText(0);
    if (orgs.empty() || orgs.back().id != id) {
      orgs.push_back(OrganizationRow{id, {}, stmt->ColumnInt(1)});
    }
    if (!stmt->ColumnIsNull(2)) orgs.back().features.insert(stmt->ColumnText(2));
  }
  return orgs;
}

}  // namespace relay::store
