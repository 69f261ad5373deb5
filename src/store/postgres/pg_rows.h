// What the PostgreSQL store's role files share: column lists, row readers, paging, array
// parameters and the few queries more than one role runs. Private to src/store/postgres.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "store/postgres/pg_db.h"
#include "store/rows.h"
#include "store/shared_sql.h"

namespace relay::store::pg {

// Advisory lock keys: any fixed numbers, distinct from the migration lock.
inline constexpr int64_t kClaimLock = 0x636c61696d;  // "claim"
// The first key of the two-key advisory locks that serialize requests with one Idempotency-Key.
inline constexpr int32_t kIdempotencyLockSpace = 0x69646b;  // "idk"

// A write's receipt id: chosen once per write, so a retry after a lost COMMIT answer can tell.
inline std::string NewReceiptId() { return crypto::HexEncode(crypto::RandomBytes(16)); }

inline constexpr char kIntegrationColumns[] =
    "id, organization_id, type_id, enabled, authentication, properties, client_secret, "
    "signing_secret, created_at, updated_at, version, previous_signing_secret, "
    "previous_secret_expires_at";
inline constexpr char kUserColumns[] =
    "id, organization_id, organization_user_id, state, created_at, updated_at";
inline constexpr char kEventColumns[] =
    "id, organization_id, user_id, regulation, entity, created_at, updated_at";

inline IntegrationRow ReadIntegration(const PgResult& r, int i) {
  IntegrationRow row;
  row.id = r.Text(i, 0);
  row.organization_id = r.Text(i, 1);
  row.type_id = r.Text(i, 2);
  row.enabled = r.Int(i, 3) != 0;
  row.authentication_json = r.Text(i, 4);
  row.properties_json = r.Text(i, 5);
  row.client_secret_sealed = r.Bytea(i, 6);
  row.signing_secret_sealed = r.Bytea(i, 7);
  row.created_at = r.Int(i, 8);
  row.updated_at = r.Int(i, 9);
  row.version = r.Int(i, 10);
  row.previous_signing_secret_sealed = r.Bytea(i, 11);
  row.previous_secret_expires_at = r.Int(i, 12);
  return row;
}

// kHealthColumns from column `first` on.
inline IntegrationHealthRow ReadHealth(const PgResult& r, int i, int first) {
  IntegrationHealthRow h;
  h.consecutive_failures = r.Int(i, first);
  h.last_success_at = r.OptionalInt(i, first + 1);
  h.last_failure_at = r.OptionalInt(i, first + 2);
  h.failing_since = r.OptionalInt(i, first + 3);
  h.open_until = r.OptionalInt(i, first + 4);
  h.cooldown_ms = r.Int(i, first + 5);
  h.disabled_reason = r.Text(i, first + 6);
  return h;
}

// A row selected with kIntegrationColumns, then kHealthColumns.
inline IntegrationRow ReadIntegrationWithHealth(const PgResult& r, int i) {
  IntegrationRow row = ReadIntegration(r, i);
  row.health = ReadHealth(r, i, 13);
  return row;
}

inline ConsentUserRow ReadUser(const PgResult& r, int i) {
  return ConsentUserRow{r.Text(i, 0), r.Text(i, 1), r.Text(i, 2),
                        r.Text(i, 3), r.Int(i, 4),  r.Int(i, 5)};
}

inline ConsentEventRow ReadEvent(const PgResult& r, int i) {
  return ConsentEventRow{r.Text(i, 0), r.Text(i, 1), r.Text(i, 2), r.Text(i, 3),
                         r.Text(i, 4), r.Int(i, 5),  r.Int(i, 6)};
}

inline DeliveryRow ReadDelivery(const PgResult& r, int i) {
  DeliveryRow d;
  d.id = r.Text(i, 0);
  d.organization_id = r.Text(i, 1);
  d.integration_id = r.Text(i, 2);
  d.message_id = r.Text(i, 3);
  d.type = r.Text(i, 4);
  d.regulation = r.Text(i, 5);
  d.ordering_key = r.Text(i, 6);
  d.sequence = r.Int(i, 7);
  d.status = ParseDeliveryStatus(r.Text(i, 8)).value_or(DeliveryStatus::kPending);
  d.payload = r.Text(i, 9);
  d.attempt_count = r.Int(i, 10);
  d.next_attempt_at = r.Int(i, 11);
  d.created_at = r.Int(i, 12);
  d.updated_at = r.Int(i, 13);
  d.seq = r.Int(i, 14);
  d.erased = r.Text(i, 15) == "t";
  d.traceparent = r.Text(i, 16);
  return d;
}

// A count query and a page query sharing their WHERE clause and parameters, in one snapshot.
template <typename Row, typename Reader>
Result<Page<Row>> SelectPage(PgConn& db, const std::string& from_where, const std::string& columns,
                             const std::string& order_by, std::vector<PgParam> params,
                             const PageRequest& page, Reader read) {
  Page<Row> result;
  RELAY_RETURN_IF_ERROR(db.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  auto run = [&]() -> Status {
    {
      RELAY_ASSIGN_OR_RETURN(auto r, db.Query("SELECT count(*) " + from_where, params));
      result.total = r.Int(0, 0);
    }
    params.push_back(P(page.limit));
    params.push_back(P(page.skip));
    RELAY_ASSIGN_OR_RETURN(auto r, db.Query("SELECT " + columns + " " + from_where + " ORDER BY " +
                                                order_by + " LIMIT ? OFFSET ?",
                                            params));
    for (int i = 0; i < r.rows(); ++i) result.items.push_back(read(r, i));
    return Status::Ok();
  };
  Status s = run();
  (void)db.Exec(s.ok() ? "COMMIT" : "ROLLBACK");
  if (!s.ok()) return s;
  return result;
}

inline Result<std::set<std::string>> SelectFeatures(PgConn& db, const std::string& org) {
  RELAY_ASSIGN_OR_RETURN(auto r, db.Query(kSelectFeaturesSql, {P(org)}));
  std::set<std::string> features;
  for (int i = 0; i < r.rows(); ++i) features.insert(r.Text(i, 0));
  return features;
}

inline Result<std::vector<std::string>> KeyOrganizations(PgConn& db, const std::string& key_id) {
  // COLLATE "C": byte order, as the SQLite store returns them (auth binary-searches the list).
  RELAY_ASSIGN_OR_RETURN(
      auto r, db.Query("SELECT organization_id FROM api_key_organizations WHERE key_id = ? "
                       "ORDER BY organization_id COLLATE \"C\"",
                       {P(key_id)}));
  std::vector<std::string> orgs;
  for (int i = 0; i < r.rows(); ++i) orgs.push_back(r.Text(i, 0));
  return orgs;
}

inline Status EnsureOrganization(PgConn& db, const std::string& org, int64_t now) {
  return db.Query(kEnsureOrganizationSql, {P(org), P(now)}).status();
}

// Arrays as one parameter (`= ANY(?::bigint[])`, `unnest(...)`), so a list of any length is one
// prepared statement and one round trip. nullopt elements are SQL NULL.
inline PgParam IntArray(const std::vector<std::optional<int64_t>>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += values[i] ? std::to_string(*values[i]) : std::string("NULL");
  }
  return P(out + "}");
}
inline PgParam IntArray(const std::vector<int64_t>& values) {
  return IntArray(std::vector<std::optional<int64_t>>(values.begin(), values.end()));
}
inline PgParam TextArray(const std::vector<std::optional<std::string>>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    if (!values[i]) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (char c : *values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return P(out + "}");
}
inline PgParam TextArray(const std::vector<std::string>& values) {
  return TextArray(std::vector<std::optional<std::string>>(values.begin(), values.end()));
}

// Fills each delivery's attempts with one query.
inline Status AttachAttempts(PgConn& db, std::vector<DeliveryRow>& deliveries) {
  if (deliveries.empty()) return Status::Ok();
  std::vector<int64_t> seqs;
  std::map<int64_t, DeliveryRow*> by_seq;
  for (auto& d : deliveries) {
    seqs.push_back(d.seq);
    by_seq[d.seq] = &d;
  }
  RELAY_ASSIGN_OR_RETURN(
      auto r, db.Query("SELECT delivery_seq, attempt, started_at, duration_ms, http_status, error, "
                       "response_body FROM delivery_attempts WHERE delivery_seq = "
                       "ANY(?::bigint[]) ORDER BY delivery_seq, attempt",
                       {IntArray(seqs)}));
  for (int i = 0; i < r.rows(); ++i) {
    AttemptRow a;
    a.attempt = r.Int(i, 1);
    a.started_at = r.Int(i, 2);
    a.duration_ms = r.Int(i, 3);
    if (auto status = r.OptionalInt(i, 4)) a.http_status = static_cast<int>(*status);
    a.error = r.Text(i, 5);
    a.response_body = r.Text(i, 6);
    by_seq[r.Int(i, 0)]->attempts.push_back(std::move(a));
  }
  return Status::Ok();
}

inline Result<std::optional<ConsentUserRow>> SelectUserWhere(PgConn& db, const std::string& where,
                                                             const std::string& org,
                                                             const std::string& key, bool lock) {
  RELAY_ASSIGN_OR_RETURN(auto r, db.Query(std::string("SELECT ") + kUserColumns +
                                              " FROM consent_users WHERE organization_id = ? AND " +
                                              where + (lock ? " FOR UPDATE" : ""),
                                          {P(org), P(key)}));
  if (r.rows() == 0) return std::optional<ConsentUserRow>();
  return std::optional<ConsentUserRow>(ReadUser(r, 0));
}

inline Result<std::optional<ConsentEventRow>> SelectEvent(PgConn& db, const std::string& org,
                                                          const std::string& id) {
  RELAY_ASSIGN_OR_RETURN(auto r, db.Query(std::string("SELECT ") + kEventColumns +
                                              " FROM consent_events WHERE organization_id = ? "
                                              "AND id = ?",
                                          {P(org), P(id)}));
  if (r.rows() == 0) return std::optional<ConsentEventRow>();
  return std::optional<ConsentEventRow>(ReadEvent(r, 0));
}

inline PgParam OptionalText(const std::string& v) { return v.empty() ? Null() : P(v); }

}  // namespace relay::store::pg
