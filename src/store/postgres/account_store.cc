// The AccountStore role on PostgreSQL: settings, API keys, organizations.
#include <algorithm>
#include <map>
#include <set>

#include "common/clock.h"
#include "common/crypto.h"
#include "store/catching.h"
#include "store/postgres/pg_rows.h"
#include "store/postgres/pg_store.h"
#include "store/shared_sql.h"

namespace relay::store {
using namespace pg;  // NOLINT: the shared helpers of this directory

// --- settings, keys, organizations -----------------------------------------------------------

Result<std::optional<std::string>> PgStore::GetSetting(const std::string& name) {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  RELAY_ASSIGN_OR_RETURN(auto r, db->Query("SELECT value FROM settings WHERE name = ?", {P(name)}));
  if (r.rows() == 0) return std::optional<std::string>();
  return std::optional<std::string>(r.Text(0, 0));
}

Result<std::string> PgStore::PutSettingIfAbsent(const std::string& name, const std::string& value) {
  std::string in_force;
  RELAY_RETURN_IF_ERROR(InTransaction([&](PgConn& db) -> Status {
    RELAY_RETURN_IF_ERROR(db.Query(kPutSettingIfAbsentSql, {P(name), P(value)}).status());
    RELAY_ASSIGN_OR_RETURN(auto r,
                           db.Query("SELECT value FROM settings WHERE name = ?", {P(name)}));
    if (r.rows() == 0) return Internal("setting vanished after insert");
    in_force = r.Text(0, 0);
    return Status::Ok();
  }));
  return in_force;
}

Status PgStore::CreateApiKey(const ApiKeyRow& key) {
  return InTransaction([&](PgConn& db) -> Status {
    RELAY_RETURN_IF_ERROR(
        db.Query(kInsertApiKeySql, {P(key.id), P(key.name), Bytes(key.secret_hash),
                                    P(key.created_at), P(key.revoked_at)})
            .status());
    for (const auto& org : key.organizations) {
      RELAY_RETURN_IF_ERROR(EnsureOrganization(db, org, key.created_at));
      RELAY_RETURN_IF_ERROR(db.Query(kInsertKeyOrganizationSql, {P(key.id), P(org)}).status());
    }
    return Status::Ok();
  });
}

Result<ApiKeyRow> PgStore::GetApiKey(const std::string& id) {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  RELAY_ASSIGN_OR_RETURN(auto r, db->Query(kSelectApiKeySql, {P(id)}));
  if (r.rows() == 0) return NotFound("api key not found");
  ApiKeyRow key;
  key.id = r.Text(0, 0);
  key.name = r.Text(0, 1);
  key.secret_hash = r.Bytea(0, 2);
  key.created_at = r.Int(0, 3);
  key.revoked_at = r.OptionalInt(0, 4);
  RELAY_ASSIGN_OR_RETURN(key.organizations, KeyOrganizations(*db, key.id));
  return key;
}

Result<KeyGrant> PgStore::GetKeyGrant(const std::string& key_id,
                                      const std::string& organization_id) {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  RELAY_ASSIGN_OR_RETURN(auto r, db->Query(kKeyGrantSql, {P(key_id), P(organization_id)}));
  if (r.rows() == 0) return NotFound("api key not found");
  return KeyGrant{!r.IsNull(0, 0), r.Int(0, 1) == 1};
}

Result<std::vector<ApiKeyRow>> PgStore::ListApiKeys() {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  RELAY_ASSIGN_OR_RETURN(auto r, db->Query(kListApiKeysSql));
  std::vector<ApiKeyRow> keys;
  for (int i = 0; i < r.rows(); ++i) {
    ApiKeyRow key;
    key.id = r.Text(i, 0);
    key.name = r.Text(i, 1);
    key.created_at = r.Int(i, 2);
    key.revoked_at = r.OptionalInt(i, 3);
    RELAY_ASSIGN_OR_RETURN(key.organizations, KeyOrganizations(*db, key.id));
    keys.push_back(std::move(key));
  }
  return keys;
}

Status PgStore::RevokeApiKey(const std::string& id, int64_t now) {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  RELAY_ASSIGN_OR_RETURN(auto r, db->Query(kRevokeApiKeySql, {P(now), P(id)}));
  if (r.affected() == 0) return NotFound("api key not found: " + id);
  return Status::Ok();
}

Status PgStore::SetOrganizationFeature(const std::string& organization_id,
                                       const std::string& feature, bool enabled, int64_t now) {
  return InTransaction([&](PgConn& db) -> Status {
    RELAY_RETURN_IF_ERROR(EnsureOrganization(db, organization_id, now));
    if (enabled) {
      return db.Query(kEnableFeatureSql, {P(organization_id), P(feature), P(now)}).status();
    }
    return db.Query(kDisableFeatureSql, {P(organization_id), P(feature)}).status();
  });
}

Result<std::vector<OrganizationRow>> PgStore::ListOrganizations() {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  RELAY_ASSIGN_OR_RETURN(
      auto r, db->Query("SELECT o.id, o.created_at, f.feature FROM organizations o LEFT JOIN "
                        "organization_features f ON f.organization_id = o.id ORDER BY o.id "
                        "COLLATE \"C\", f.feature COLLATE \"C\""));
  std::vector<OrganizationRow> orgs;
  for (int i = 0; i < r.rows(); ++i) {
    std::string id = r.Text(i, 0);
    if (orgs.empty() || orgs.back().id != id) orgs.push_back(OrganizationRow{id, {}, r.Int(i, 1)});
    if (!r.IsNull(i, 2)) orgs.back().features.insert(r.Text(i, 2));
  }
  return orgs;
}

}  // namespace relay::store
