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
// Reads a row selected with kIntegrationColumns, then kHealthColumns.
IntegrationRow ReadIntegrationWithHealth(const SqliteStatement& s);
// Reads kHealthColumns from column `first` on.
IntegrationHealthRow ReadHealth(const SqliteStatement& s, int first);

Result<std::set<std::string>> SelectOrganizationFeatures(SqliteDb& db,
                                                         const std::string& organization_id);

// Runs a count query and a page query that share their WHERE clause and bindings.
template <typename Row, typename Reader>
Result<Page<Row>> SelectPage(SqliteDb& db, const std::string& from_where,
                             const std::string& columns, const std::string& order_by,
                             const std::vector<std::string>& text_args,
                             const std::vector<int64_t>& int_args, const PageRequest& page,
                             Reader read) {
  Page<Row> result;
  auto bind = [&](SqliteStatement& stmt) {
    int i = 1;
    for (const auto& a : text_args) stmt.Bind(i++, a);
    for (int64_t a : int_args) stmt.Bind(i++, a);
    return i;
  };
  Status s = InReadTransaction(db, [&]() -> Status {
    {
      RELAY_ASSIGN_OR_RETURN(auto stmt, db.Prepare("SELECT count(*) " + from_where));
      bind(*stmt);
      RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      result.total = row ? stmt->ColumnInt(0) : 0;
    }
    RELAY_ASSIGN_OR_RETURN(auto stmt, db.Prepare("SELECT " + columns + " " + from_where +
                                                 " ORDER BY " + order_by + " LIMIT ? OFFSET ?"));
    int next = bind(*stmt);
    stmt->Bind(next, page.limit).Bind(next + 1, page.skip);
    while (true) {
      RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      result.items.push_back(read(*stmt));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return result;
}

}  // namespace relay::store
