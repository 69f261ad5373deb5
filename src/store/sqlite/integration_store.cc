// The IntegrationStore role on SQLite: integrations and the features that gate them.
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

Result<std::set<std::string>> SqliteStore::GetOrganizationFeatures(
    const std::string& organization_id) {
  auto db_ = BorrowReader();
  return SelectOrganizationFeatures(*db_, organization_id);
}

Status SqliteStore::CreateIntegration(const IntegrationRow& row) {
  std::lock_guard<std::mutex> lock(mu_);
  return InTransaction(*db_, [&]() -> Status {
    RELAY_RETURN_IF_ERROR(EnsureOrganization(row.organization_id, row.created_at));
    RELAY_ASSIGN_OR_RETURN(
        auto stmt, db_->Prepare(std::string("INSERT INTO integrations (") + kIntegrationColumns +
                                ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    stmt->Bind(1, row.id).Bind(2, row.organization_id).Bind(3, row.type_id);
    stmt->Bind(4, int64_t{row.enabled}).Bind(5, row.authentication_json);
    stmt->Bind(6, row.properties_json).BindBlob(7, row.client_secret_sealed);
    stmt->BindBlob(8, row.signing_secret_sealed).Bind(9, row.created_at);
    stmt->Bind(10, row.updated_at).Bind(11, row.version);
    stmt->BindBlob(12, row.previous_signing_secret_sealed).Bind(13, row.previous_secret_expires_at);
    RELAY_RETURN_IF_ERROR(stmt->Run());
    RELAY_ASSIGN_OR_RETURN(auto health, db_->Prepare(kInsertHealthSql));
    health->Bind(1, row.id);
    return health->Run();
  });
}

Result<IntegrationRow> SqliteStore::GetIntegration(const std::string& organization_id,
                                                   const std::string& id) {
  auto db_ = BorrowReader();
  RELAY_ASSIGN_OR_RETURN(
      auto stmt, db_->Prepare(std::string("SELECT ") + kIntegrationColumns + ", " + kHealthColumns +
                              " FROM " + kIntegrationsWithHealth +
                              " WHERE id = ? AND organization_id = ? AND "
                              "deleted_at IS NULL"));
  stmt->Bind(1, id).Bind(2, organization_id);
  RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return NotFound("integration not found: " + id);
  return ReadIntegrationWithHealth(*stmt);
}

Result<Page<IntegrationRow>> SqliteStore::ListIntegrations(const std::string& organization_id,
                                                           const PageRequest& page) {
  auto db_ = BorrowReader();
  return SelectPage<IntegrationRow>(*db_,
                                    std::string("FROM ") + kIntegrationsWithHealth +
                                        " WHERE organization_id = ? AND deleted_at IS NULL",
                                    std::string(kIntegrationColumns) + ", " + kHealthColumns,
                                    "created_at, id", {organization_id}, {}, page,
                                    ReadIntegrationWithHealth);
}

Status SqliteStore::UpdateIntegration(const IntegrationRow& row, int64_t expected_version) {
  std::lock_guard<std::mutex> lock(mu_);
  return InTransaction(*db_, [&]() -> Status {
    {
      RELAY_ASSIGN_OR_RETURN(auto reset, db_->Prepare(kResetHealthOnEnableSql));
      reset->Bind(1, row.id).Bind(2, int64_t{row.enabled}).Bind(3, expected_version);
      RELAY_RETURN_IF_ERROR(reset->Run());
    }
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kUpdateIntegrationSql));
    stmt->Bind(1, int64_t{row.enabled}).Bind(2, row.authentication_json);
    stmt->Bind(3, row.properties_json).BindBlob(4, row.client_secret_sealed);
    stmt->BindBlob(5, row.signing_secret_sealed).Bind(6, row.updated_at).Bind(7, row.version);
    stmt->BindBlob(8, row.previous_signing_secret_sealed).Bind(9, row.previous_secret_expires_at);
    stmt->Bind(10, row.id).Bind(11, row.organization_id).Bind(12, expected_version);
    RELAY_RETURN_IF_ERROR(stmt->Run());
    if (db_->Changes() == 0) {
      return Conflict("integration " + row.id + " was changed or deleted concurrently");
    }
    // Enabled again, it is claimable from its earliest ready lane.
    RELAY_ASSIGN_OR_RETURN(auto due, db_->Prepare(kRecomputeIntegrationDueSql));
    due->Bind(1, row.id);
    return due->Run();
  });
}

Status SqliteStore::DeleteIntegration(const std::string& organization_id, const std::string& id,
                                      int64_t now) {
  std::lock_guard<std::mutex> lock(mu_);
  return InTransaction(*db_, [&]() -> Status {
    {
      RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kDeleteIntegrationSql));
      stmt->Bind(1, now).Bind(2, now).Bind(3, id).Bind(4, organization_id);
      RELAY_RETURN_IF_ERROR(stmt->Run());
      if (db_->Changes() == 0) return NotFound("integration not found: " + id);
    }
    // Its waiting deliveries will never be sent: no claim takes them from now on, and
    // CancelDeletedBacklog cancels them in chunks (the retention worker runs it every second).
    return Status::Ok();
  });
}

}  // namespace relay::store
