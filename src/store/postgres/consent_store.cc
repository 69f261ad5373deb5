// The ConsentStore role on PostgreSQL: the write transaction and the consent reads.
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

namespace {

// The WriteTransaction handed to Store::Write's body: valid during that call, inside a
// transaction on one pooled connection.
//
// Writes nobody waits for (users, events, messages and deliveries, idempotency keys) are queued
// and sent together in one round trip (a libpq pipeline) before the next read and before COMMIT;
// reads and writes whose row count matters run at once. A queued write that fails fails the
// transaction at the flush (a unique violation makes PgStore run the whole write again).
class PgWriteTransaction final : public WriteTransaction {
 public:
  explicit PgWriteTransaction(PgConn& db) : db_(db) {}

  void Queue(PgConn::Statement statement) { queued_.push_back(std::move(statement)); }

  // Sends the queued writes.
  Status Flush() {
    Status s = db_.Pipeline(queued_);
    queued_.clear();
    if (s.code() == StatusCode::kConflict &&
        db_.last_constraint() == "consent_users_by_organization_user_id") {
      return Conflict("another user of the organization has organization_user_id " +
                      last_organization_user_id_);
    }
    if (s.code() == StatusCode::kConflict && db_.last_constraint() == "consent_events_pkey") {
      return Conflict("an event with this id exists");
    }
    return s;
  }

  Result<std::set<std::string>> GetOrganizationFeatures(const std::string& org) override {
    RELAY_RETURN_IF_ERROR(Flush());
    return SelectFeatures(db_, org);
  }

  Result<std::vector<IntegrationRow>> ListFanOutIntegrations(const std::string& org) override {
    RELAY_RETURN_IF_ERROR(Flush());
    RELAY_ASSIGN_OR_RETURN(
        auto r, db_.Query(std::string("SELECT ") + kIntegrationColumns +
                              " FROM integrations WHERE organization_id = ? AND " + kFanOutSql +
                              " ORDER BY created_at, id",
                          {P(org)}));
    std::vector<IntegrationRow> rows;
    for (int i = 0; i < r.rows(); ++i) rows.push_back(ReadIntegration(r, i));
    return rows;
  }

  // Locked until the transaction ends: another node merging into the same user waits, then
  // reads this transaction's result.
  Result<std::optional<ConsentUserRow>> GetUser(const std::string& org,
                                                const std::string& id) override {
    RELAY_RETURN_IF_ERROR(Flush());
    return SelectUserWhere(db_, "id = ?", org, id, /*lock=*/true);
  }

  Result<std::optional<ConsentUserRow>> FindUserByOrganizationUserId(
      const std::string& org, const std::string& organization_user_id) override {
    RELAY_RETURN_IF_ERROR(Flush());
    return SelectUserWhere(db_, "organization_user_id = ?", org, organization_user_id,
                           /*lock=*/true);
  }

  Status PutUser(const ConsentUserRow& u) override {
    last_organization_user_id_ = u.organization_user_id;
    queued_.push_back({kPutUserSql,
                       {P(u.id), P(u.organization_id), OptionalText(u.organization_user_id),
                        P(u.state_json), P(u.created_at), P(u.updated_at)}});
    return Status::Ok();
  }

  Status DeleteUser(const std::string& org, const std::string& id) override {
    RELAY_RETURN_IF_ERROR(Flush());
    RELAY_RETURN_IF_ERROR(db_.Query(kDeleteUserEventsSql, {P(org), P(id)}).status());
    RELAY_ASSIGN_OR_RETURN(auto r, db_.Query(kDeleteUserSql, {P(org), P(id)}));
    if (r.affected() == 0) return NotFound("user not found: " + id);
    queued_.push_back({kDeleteUserIdempotencySql, {P(org), P(id)}});
    queued_.push_back({kRecordErasureSql, {P(org), P(id), P(SystemClock::Instance().NowMillis())}});
    return Status::Ok();
  }

  Result<std::optional<ConsentEventRow>> GetEvent(const std::string& org,
                                                  const std::string& id) override {
    RELAY_RETURN_IF_ERROR(Flush());
    return SelectEvent(db_, org, id);
  }

  Result<std::vector<ConsentEventRow>> ListUserEvents(const std::string& org,
                                                      const std::string& user_id) override {
    RELAY_RETURN_IF_ERROR(Flush());
    RELAY_ASSIGN_OR_RETURN(auto r,
                           db_.Query(std::string("SELECT ") + kEventColumns + kUserEventsWhereSql,
                                     {P(org), P(user_id)}));
    std::vector<ConsentEventRow> rows;
    for (int i = 0; i < r.rows(); ++i) rows.push_back(ReadEvent(r, i));
    return rows;
  }

  Status InsertEvent(const ConsentEventRow& e) override {
    queued_.push_back({std::string("INSERT INTO consent_events (") + kEventColumns +
                           ") VALUES (?, ?, ?, ?, ?, ?, ?)",
                       {P(e.id), P(e.organization_id), P(e.user_id), P(e.regulation),
                        P(e.entity_json), P(e.created_at), P(e.updated_at)}});
    return Status::Ok();
  }

  Status UpdateEvent(const ConsentEventRow& e) override {
    RELAY_RETURN_IF_ERROR(Flush());
    RELAY_ASSIGN_OR_RETURN(auto r, db_.Query(kUpdateEventSql, {P(e.entity_json), P(e.updated_at),
                                                               P(e.organization_id), P(e.id)}));
    if (r.affected() == 0) return NotFound("event not found: " + e.id);
    return Status::Ok();
  }

  Status DeleteEvent(const std::string& org, const std::string& id) override {
    RELAY_RETURN_IF_ERROR(Flush());
    RELAY_ASSIGN_OR_RETURN(auto r, db_.Query(kDeleteEventSql, {P(org), P(id)}));
    if (r.affected() == 0) return NotFound("event not found: " + id);
    return Status::Ok();
  }

  Status InsertMessage(const MessageRow& m, const std::vector<DeliveryRow>& deliveries) override {
    // The deliveries take the message's number with currval (same session, right after its
    // insert), so nothing waits for a RETURNING. It orders one user's messages: their writes hold
    // the user's row lock, so they take their numbers in commit order.
    queued_.push_back(
        {kInsertMessageSql,
         {P(m.id), P(m.organization_id), P(m.type), P(m.regulation), P(m.ordering_key),
          P(m.payload), P(m.created_at), m.traceparent.empty() ? Null() : P(m.traceparent)}});
    for (const auto& d : deliveries) {
      // Its lane (the user's, or its own) and the delivery in one statement; a lane just
      // created makes its integration due. The lane's row lock (the upsert's) is held to the
      // commit: whoever empties the lane locks it first, so sees this delivery (shared_sql.h).
      queued_.push_back(
          {std::string("WITH lane AS (") + (d.unordered ? kInsertSoloLaneSql : kUpsertLaneSql) +
               "), ins AS (INSERT INTO deliveries (id, organization_id, integration_id, "
               "message_seq, type, ordering_key, sequence, status, payload, next_attempt_at, "
               "created_at, updated_at, lane_id) SELECT ?4, ?5, ?1, currval(pg_get_serial_"
               "sequence('messages', 'seq')), ?6, ?7, currval(pg_get_serial_sequence('messages', "
               "'seq')), 'pending', ?8, ?3, ?9, ?9, lane.lane_id FROM lane) UPDATE "
               "integration_health SET next_due_at = ?3 WHERE integration_id = ?1 AND (SELECT "
               "joined FROM lane) = 1 AND (next_due_at IS NULL OR next_due_at > ?3)",
           {P(d.integration_id), d.unordered ? Null() : P(m.ordering_key), P(d.next_attempt_at),
            P(d.id), P(d.organization_id), P(m.type), P(m.ordering_key),
            d.payload.empty() ? Null() : P(d.payload), P(d.created_at)}});
    }
    return Status::Ok();
  }

  Result<std::optional<IdempotencyRow>> GetIdempotencyKey(const std::string& org,
                                                          const std::string& key,
                                                          int64_t not_before) override {
    RELAY_RETURN_IF_ERROR(Flush());
    // The key is held until the transaction ends: a concurrent request with the same key waits
    // here, then reads this one's answer (READ COMMITTED reads the latest commit).
    RELAY_RETURN_IF_ERROR(db_.Query("SELECT pg_advisory_xact_lock(?, hashtext(? || chr(1) || ?))",
                                    {P(int64_t{kIdempotencyLockSpace}), P(org), P(key)})
                              .status());
    RELAY_ASSIGN_OR_RETURN(auto r,
                           db_.Query(kSelectIdempotencySql, {P(org), P(key), P(not_before)}));
    if (r.rows() == 0) return std::optional<IdempotencyRow>();
    return std::optional<IdempotencyRow>(IdempotencyRow{
        org, key, r.Bytea(0, 0), "", static_cast<int>(r.Int(0, 1)), r.Text(0, 2), r.Int(0, 3)});
  }

  Status PutIdempotencyKey(const IdempotencyRow& row) override {
    queued_.push_back(
        {"INSERT INTO idempotency_keys (organization_id, key, request_hash, "
         "response_status, response_body, created_at, user_id) VALUES (?, ?, ?, ?, ?, ?, ?) "
         "ON CONFLICT (organization_id, key) DO UPDATE SET request_hash = "
         "excluded.request_hash, response_status = excluded.response_status, "
         "response_body = excluded.response_body, created_at = excluded.created_at, user_id = "
         "excluded.user_id",
         {P(row.organization_id), P(row.key), Bytes(row.request_hash),
          P(int64_t{row.response_status}), P(row.response_body), P(row.created_at),
          P(row.user_id)}});
    return Status::Ok();
  }

 private:
  PgConn& db_;
  std::vector<PgConn::Statement> queued_;
  std::string last_organization_user_id_;  // for the message of a conflict found at the flush
};

}  // namespace

// --- consent writes and reads ----------------------------------------------------------------

Status PgStore::Write(const std::function<Status(WriteTransaction&)>& body) {
  const std::string receipt = NewReceiptId();
  return InTransaction(
      [&](PgConn& db) -> Status {
        PgWriteTransaction txn(db);
        RELAY_RETURN_IF_ERROR(body(txn));
        txn.Queue({"INSERT INTO write_receipts (id, created_at) VALUES (?, ?)",
                   {P(receipt), P(SystemClock::Instance().NowMillis())}});
        return txn.Flush();
      },
      receipt);
}

Result<std::optional<ConsentEventRow>> PgStore::GetEvent(const std::string& org,
                                                         const std::string& id) {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  return SelectEvent(*db, org, id);
}

Result<Page<ConsentEventRow>> PgStore::ListEvents(const std::string& org,
                                                  const std::string& user_id,
                                                  const std::string& regulation,
                                                  const PageRequest& page) {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  std::string where = "FROM consent_events WHERE organization_id = ?";
  std::vector<PgParam> params = {P(org)};
  if (!user_id.empty()) {
    where += " AND user_id = ?";
    params.push_back(P(user_id));
  }
  if (!regulation.empty()) {
    where += " AND regulation = ?";
    params.push_back(P(regulation));
  }
  return SelectPage<ConsentEventRow>(*db, where, kEventColumns, "created_at DESC, id DESC",
                                     std::move(params), page, ReadEvent);
}

Result<std::optional<ConsentUserRow>> PgStore::GetUser(const std::string& org,
                                                       const std::string& id) {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  return SelectUserWhere(*db, "id = ?", org, id, /*lock=*/false);
}

Result<std::optional<ConsentUserRow>> PgStore::FindUserByOrganizationUserId(
    const std::string& org, const std::string& organization_user_id) {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  return SelectUserWhere(*db, "organization_user_id = ?", org, organization_user_id,
                         /*lock=*/false);
}

Result<Page<ConsentUserRow>> PgStore::ListUsers(const std::string& org,
                                                const std::string& organization_user_id,
                                                const PageRequest& page) {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  std::string where = "FROM consent_users WHERE organization_id = ?";
  std::vector<PgParam> params = {P(org)};
  if (!organization_user_id.empty()) {
    where += " AND organization_user_id = ?";
    params.push_back(P(organization_user_id));
  }
  return SelectPage<ConsentUserRow>(*db, where, kUserColumns, "created_at, id", std::move(params),
                                    page, ReadUser);
}

}  // namespace relay::store
