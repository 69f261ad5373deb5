// The IntegrationStore role on PostgreSQL: integrations and the features that gate them.
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

Result<std::set<std::string>> PgStore::GetOrganizationFeatures(const std::string& organization_id) {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  return SelectFeatures(*db, organization_id);
}

// --- integrations ----------------------------------------------------------------------------

Status PgStore::CreateIntegration(const IntegrationRow& row) {
  return InTransaction([&](PgConn& db) -> Status {
    RELAY_RETURN_IF_ERROR(EnsureOrganization(db, row.organization_id, row.created_at));
    RELAY_RETURN_IF_ERROR(db.Query(kInsertHealthSql, {P(row.id)}).status());
    return db
        .Query(
            std::string("INSERT INTO integrations (") + kIntegrationColumns +
                ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            {P(row.id), P(row.organization_id), P(row.type_id), P(int64_t{row.enabled}),
             P(row.authentication_json), P(row.properties_json), Bytes(row.client_secret_sealed),
             Bytes(row.signing_secret_sealed), P(row.created_at), P(row.updated_at), P(row.version),
             Bytes(row.previous_signing_secret_sealed), P(row.previous_secret_expires_at)})
        .status();
  });
}

Result<IntegrationRow> PgStore::GetIntegration(const std::string& organization_id,
                                               const std::string& id) {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  RELAY_ASSIGN_OR_RETURN(
      auto r, db->Query(std::string("SELECT ") + kIntegrationColumns + ", " + kHealthColumns +
                            " FROM " + kIntegrationsWithHealth +
                            " WHERE id = ? AND organization_id = ? AND deleted_at IS NULL",
                        {P(id), P(organization_id)}));
  if (r.rows() == 0) return NotFound("integration not found: " + id);
  return ReadIntegrationWithHealth(r, 0);
}

Result<Page<IntegrationRow>> PgStore::ListIntegrations(const std::string& organization_id,
                                                       const PageRequest& page) {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  return SelectPage<IntegrationRow>(*db,
                                    std::string("FROM ") + kIntegrationsWithHealth +
                                        " WHERE organization_id = ? AND deleted_at IS NULL",
                                    std::string(kIntegrationColumns) + ", " + kHealthColumns,
                                    "created_at, id", {P(organization_id)}, page,
                                    ReadIntegrationWithHealth);
}

Status PgStore::UpdateIntegration(const IntegrationRow& row, int64_t expected_version) {
  return InTransaction([&](PgConn& db) -> Status {
    RELAY_RETURN_IF_ERROR(
        db.Query(kResetHealthOnEnableSql, {P(row.id), P(int64_t{row.enabled}), P(expected_version)})
            .status());
    RELAY_ASSIGN_OR_RETURN(
        auto r,
        db.Query(kUpdateIntegrationSql,
                 {P(int64_t{row.enabled}), P(row.authentication_json), P(row.properties_json),
                  Bytes(row.client_secret_sealed), Bytes(row.signing_secret_sealed),
                  P(row.updated_at), P(row.version), Bytes(row.previous_signing_secret_sealed),
                  P(row.previous_secret_expires_at), P(row.id), P(row.organization_id),
                  P(expected_version)}));
    if (r.affected() == 0) {
      return Conflict("integration " + row.id + " was changed or deleted concurrently");
    }
    // Enabled again, it is claimable from its earliest ready lane.
    return db.Query(kRecomputeIntegrationDueSql, {P(row.id)}).status();
  });
}

Status PgStore::DeleteIntegration(const std::string& organization_id, const std::string& id,
                                  int64_t now) {
  return InTransaction([&](PgConn& db) -> Status {
    RELAY_ASSIGN_OR_RETURN(
        auto r, db.Query(kDeleteIntegrationSql, {P(now), P(now), P(id), P(organization_id)}));
    if (r.affected() == 0) return NotFound("integration not found: " + id);
    // Its waiting deliveries will never be sent: no claim takes them from now on, and
    // CancelDeletedBacklog cancels them in chunks (the retention worker runs it every second).
    return Status::Ok();
  });
}

}  // namespace relay::store
