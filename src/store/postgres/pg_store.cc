// PgStore: the Store operations in PostgreSQL's SQL. The statements follow the SQLite store's
// one for one ('?' placeholders, numbered by PgConn); where the dialects differ, the comment
// says why.
#include "store/postgres/pg_store.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/clock.h"
#include "common/crypto.h"
#include "store/catching.h"
#include "store/postgres/pg_schema.h"
#include "store/shared_sql.h"

namespace relay::store {
namespace {

constexpr int kWriteAttempts = 5;
// Advisory lock keys: any fixed numbers, distinct from the migration lock.
constexpr int64_t kClaimLock = 0x636c61696d;  // "claim"
// The first key of the two-key advisory locks that serialize requests with one Idempotency-Key.
constexpr int32_t kIdempotencyLockSpace = 0x69646b;  // "idk"

std::string NewReceiptId() { return crypto::HexEncode(crypto::RandomBytes(16)); }

constexpr char kIntegrationColumns[] =
    "id, organization_id, type_id, enabled, authentication, properties, client_secret, "
    "signing_secret, created_at, updated_at, version, previous_signing_secret, "
    "previous_secret_expires_at";
constexpr char kUserColumns[] =
    "id, organization_id, organization_user_id, state, created_at, updated_at";
constexpr char kEventColumns[] =
    "id, organization_id, user_id, regulation, entity, created_at, updated_at";
constexpr char kDeliveryColumns[] =
    "d.id, d.organization_id, d.integration_id, m.id, d.type, m.regulation, d.ordering_key, "
    "d.sequence, d.status, coalesce(d.payload, m.payload), d.attempt_count, d.next_attempt_at, "
    "d.created_at, d.updated_at, d.seq, d.erased_at IS NOT NULL";

IntegrationRow ReadIntegration(const PgResult& r, int i) {
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

ConsentUserRow ReadUser(const PgResult& r, int i) {
  return ConsentUserRow{r.Text(i, 0), r.Text(i, 1), r.Text(i, 2),
                        r.Text(i, 3), r.Int(i, 4),  r.Int(i, 5)};
}

ConsentEventRow ReadEvent(const PgResult& r, int i) {
  return ConsentEventRow{r.Text(i, 0), r.Text(i, 1), r.Text(i, 2), r.Text(i, 3),
                         r.Text(i, 4), r.Int(i, 5),  r.Int(i, 6)};
}

DeliveryRow ReadDelivery(const PgResult& r, int i) {
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

Result<std::set<std::string>> SelectFeatures(PgConn& db, const std::string& org) {
  RELAY_ASSIGN_OR_RETURN(
      auto r,
      db.Query("SELECT feature FROM organization_features WHERE organization_id = ?", {P(org)}));
  std::set<std::string> features;
  for (int i = 0; i < r.rows(); ++i) features.insert(r.Text(i, 0));
  return features;
}

Result<std::vector<std::string>> KeyOrganizations(PgConn& db, const std::string& key_id) {
  // COLLATE "C": byte order, as the SQLite store returns them (auth binary-searches the list).
  RELAY_ASSIGN_OR_RETURN(
      auto r, db.Query("SELECT organization_id FROM api_key_organizations WHERE key_id = ? "
                       "ORDER BY organization_id COLLATE \"C\"",
                       {P(key_id)}));
  std::vector<std::string> orgs;
  for (int i = 0; i < r.rows(); ++i) orgs.push_back(r.Text(i, 0));
  return orgs;
}

Status EnsureOrganization(PgConn& db, const std::string& org, int64_t now) {
  return db
      .Query("INSERT INTO organizations (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
             {P(org), P(now)})
      .status();
}

// Arrays as one parameter (`= ANY(?::bigint[])`, `unnest(...)`), so a list of any length is one
// prepared statement and one round trip. nullopt elements are SQL NULL.
PgParam IntArray(const std::vector<std::optional<int64_t>>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += values[i] ? std::to_string(*values[i]) : std::string("NULL");
  }
  return P(out + "}");
}
PgParam IntArray(const std::vector<int64_t>& values) {
  return IntArray(std::vector<std::optional<int64_t>>(values.begin(), values.end()));
}
PgParam TextArray(const std::vector<std::optional<std::string>>& values) {
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
PgParam TextArray(const std::vector<std::string>& values) {
  return TextArray(std::vector<std::optional<std::string>>(values.begin(), values.end()));
}

// Fills each delivery's attempts with one query.
Status AttachAttempts(PgConn& db, std::vector<DeliveryRow>& deliveries) {
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

Result<std::optional<ConsentUserRow>> SelectUserWhere(PgConn& db, const std::string& where,
                                                      const std::string& org,
                                                      const std::string& key, bool lock) {
  RELAY_ASSIGN_OR_RETURN(auto r, db.Query(std::string("SELECT ") + kUserColumns +
                                              " FROM consent_users WHERE organization_id = ? AND " +
                                              where + (lock ? " FOR UPDATE" : ""),
                                          {P(org), P(key)}));
  if (r.rows() == 0) return std::optional<ConsentUserRow>();
  return std::optional<ConsentUserRow>(ReadUser(r, 0));
}

Result<std::optional<ConsentEventRow>> SelectEvent(PgConn& db, const std::string& org,
                                                   const std::string& id) {
  RELAY_ASSIGN_OR_RETURN(auto r, db.Query(std::string("SELECT ") + kEventColumns +
                                              " FROM consent_events WHERE organization_id = ? "
                                              "AND id = ?",
                                          {P(org), P(id)}));
  if (r.rows() == 0) return std::optional<ConsentEventRow>();
  return std::optional<ConsentEventRow>(ReadEvent(r, 0));
}

PgParam OptionalText(const std::string& v) { return v.empty() ? Null() : P(v); }

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

  Result<std::vector<IntegrationRow>> ListEnabledIntegrations(const std::string& org) override {
    RELAY_RETURN_IF_ERROR(Flush());
    RELAY_ASSIGN_OR_RETURN(auto r, db_.Query(std::string("SELECT ") + kIntegrationColumns +
                                                 " FROM integrations WHERE organization_id = ? "
                                                 "AND enabled = 1 AND deleted_at IS NULL "
                                                 "ORDER BY created_at, id",
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
    queued_.push_back(
        {"INSERT INTO consent_users (id, organization_id, organization_user_id, state, created_at, "
         "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (organization_id, id) DO UPDATE SET "
         "organization_user_id = excluded.organization_user_id, state = excluded.state, "
         "updated_at = excluded.updated_at",
         {P(u.id), P(u.organization_id), OptionalText(u.organization_user_id), P(u.state_json),
          P(u.created_at), P(u.updated_at)}});
    return Status::Ok();
  }

  Status DeleteUser(const std::string& org, const std::string& id) override {
    RELAY_RETURN_IF_ERROR(Flush());
    RELAY_RETURN_IF_ERROR(
        db_.Query("DELETE FROM consent_events WHERE organization_id = ? AND user_id = ?",
                  {P(org), P(id)})
            .status());
    RELAY_ASSIGN_OR_RETURN(
        auto r, db_.Query("DELETE FROM consent_users WHERE organization_id = ? AND id = ?",
                          {P(org), P(id)}));
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

  Status InsertEvent(const ConsentEventRow& e) override {
    queued_.push_back({std::string("INSERT INTO consent_events (") + kEventColumns +
                           ") VALUES (?, ?, ?, ?, ?, ?, ?)",
                       {P(e.id), P(e.organization_id), P(e.user_id), P(e.regulation),
                        P(e.entity_json), P(e.created_at), P(e.updated_at)}});
    return Status::Ok();
  }

  Status UpdateEvent(const ConsentEventRow& e) override {
    RELAY_RETURN_IF_ERROR(Flush());
    RELAY_ASSIGN_OR_RETURN(
        auto r, db_.Query("UPDATE consent_events SET entity = ?, updated_at = ? WHERE "
                          "organization_id = ? AND id = ?",
                          {P(e.entity_json), P(e.updated_at), P(e.organization_id), P(e.id)}));
    if (r.affected() == 0) return NotFound("event not found: " + e.id);
    return Status::Ok();
  }

  Status DeleteEvent(const std::string& org, const std::string& id) override {
    RELAY_RETURN_IF_ERROR(Flush());
    RELAY_ASSIGN_OR_RETURN(
        auto r, db_.Query("DELETE FROM consent_events WHERE organization_id = ? AND id = ?",
                          {P(org), P(id)}));
    if (r.affected() == 0) return NotFound("event not found: " + id);
    return Status::Ok();
  }

  Status InsertMessage(const MessageRow& m, const std::vector<DeliveryRow>& deliveries) override {
    // The deliveries take the message's number with currval (same session, right after its
    // insert), so nothing waits for a RETURNING. It orders one user's messages: their writes hold
    // the user's row lock, so they take their numbers in commit order.
    queued_.push_back(
        {"INSERT INTO messages (id, organization_id, type, regulation, ordering_key, "
         "payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
         {P(m.id), P(m.organization_id), P(m.type), P(m.regulation), P(m.ordering_key),
          P(m.payload), P(m.created_at)}});
    for (const auto& d : deliveries) {
      queued_.push_back(
          {"INSERT INTO deliveries (id, organization_id, integration_id, message_seq, type, "
           "ordering_key, sequence, status, payload, next_attempt_at, created_at, updated_at) "
           "VALUES (?, ?, ?, currval(pg_get_serial_sequence('messages', 'seq')), ?, ?, "
           "currval(pg_get_serial_sequence('messages', 'seq')), 'pending', ?, ?, ?, ?)",
           {P(d.id), P(d.organization_id), P(d.integration_id), P(m.type), P(m.ordering_key),
            d.payload.empty() ? Null() : P(d.payload), P(d.next_attempt_at), P(d.created_at),
            P(d.created_at)}});
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
    RELAY_ASSIGN_OR_RETURN(
        auto r, db_.Query("SELECT request_hash, response_status, response_body, created_at FROM "
                          "idempotency_keys WHERE organization_id = ? AND key = ? AND "
                          "created_at >= ?",
                          {P(org), P(key), P(not_before)}));
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

// --- connections -----------------------------------------------------------------------------

PgStore::PgStore(std::string url, int pool_size) : url_(std::move(url)), pool_size_(pool_size) {}
PgStore::~PgStore() = default;

Result<std::unique_ptr<PgStore>> PgStore::Open(const std::string& url, int pool_size) {
  std::unique_ptr<PgStore> store(new PgStore(url, std::max(1, pool_size)));
  RELAY_ASSIGN_OR_RETURN(auto conn, PgConn::Connect(url));
  Status migrated = MigratePg(*conn);
  if (!migrated.ok()) {
    return Status(migrated.code(),
                  "cannot open the database " + RedactDatabaseUrl(url) + ": " + migrated.message());
  }
  store->idle_.push_back(std::move(conn));
  store->open_ = 1;
  return store;
}

PgStore::Lease::~Lease() {
  if (!conn_) return;
  // A connection goes back to the pool outside any transaction, or not at all: a later COMMIT on
  // it must never commit what an earlier, failed request wrote.
  if (!conn_->broken() && conn_->in_transaction()) (void)conn_->Exec("ROLLBACK");
  std::lock_guard<std::mutex> lock(store_->mu_);
  if (conn_->broken() || conn_->in_transaction()) {
    --store_->open_;  // dropped; the next Borrow connects afresh
  } else {
    store_->idle_.push_back(std::move(conn_));
  }
  store_->returned_.notify_one();
}

Result<PgStore::Lease> PgStore::Borrow() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    returned_.wait(lock, [&] { return !idle_.empty() || open_ < pool_size_; });
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
    ++open_;
  }
  auto conn = PgConn::Connect(url_);
  if (!conn.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    --open_;
    returned_.notify_one();
    return conn.status();
  }
  return Lease(this, std::move(*conn));
}

void PgStore::SetFaultHookForTesting(std::function<bool(std::string_view)> hook) {
  std::lock_guard<std::mutex> lock(mu_);
  fault_hook_ = std::move(hook);
}

bool PgStore::Fault(std::string_view point) {
  std::function<bool(std::string_view)> hook;
  {
    std::lock_guard<std::mutex> lock(mu_);
    hook = fault_hook_;
  }
  return hook && hook(point);
}

Status PgStore::CheckWritable() {
  if (auto recent = write_health_.Recent()) return *recent;
  const int64_t now = SystemClock::Instance().NowMillis();
  return InTransaction([&](PgConn& db) {
    return db.Query(kHealthProbeSql, {P(std::string("health_probe")), P(now)}).status();
  });
}

Result<bool> PgStore::ReceiptExists(const std::string& receipt) {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  RELAY_ASSIGN_OR_RETURN(auto r,
                         db->Query("SELECT 1 FROM write_receipts WHERE id = ?", {P(receipt)}));
  return r.rows() > 0;
}

// A COMMIT whose answer never came (the connection dropped) may have committed. Running the body
// again would then write everything twice, with new ids. So a write that carries a receipt (a
// random id inserted by the same transaction) is looked up first: found, the first try committed
// and its result stands; absent, it did not, and the body runs again.
Status PgStore::InTransaction(const std::function<Status(PgConn&)>& body,
                              const std::string& receipt) {
  Status last;
  for (int attempt = 0; attempt < kWriteAttempts; ++attempt) {
    RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
    Status begun = db->Exec("BEGIN");
    if (!begun.ok()) {
      last = begun;
      if (db->broken()) continue;
      write_health_.Note(begun);
      return begun;
    }
    Status s = RunCatching([&] { return body(*db); });
    bool commit_sent = false;
    if (s.ok()) {
      s = db->Exec("COMMIT");
      commit_sent = true;
      if (s.ok() && Fault("after_commit")) {
        db->Break();  // the answer to COMMIT is lost on the way back
        s = Unavailable("postgres: the connection was lost during COMMIT (fault injected)");
      }
    }
    if (s.ok()) {
      write_health_.Note(s);
      return s;
    }
    const bool retry = db->last_failure_retryable() || db->broken();
    if (!db->broken()) (void)db->Exec("ROLLBACK");
    if (commit_sent && db->broken() && !receipt.empty()) {
      Result<bool> committed = false;
      for (int check = 0; check < kWriteAttempts; ++check) {
        committed = ReceiptExists(receipt);
        if (committed.ok()) break;
      }
      if (!committed.ok()) {
        Status unknown = Unavailable(
            "the database connection was lost during COMMIT and the "
            "write's outcome cannot be checked: " +
            committed.status().message());
        write_health_.Note(unknown);
        return unknown;
      }
      if (*committed) {
        write_health_.Note(Status::Ok());
        return Status::Ok();
      }
    }
    if (!retry) {
      write_health_.Note(s);
      return s;
    }
    last = s;
  }
  write_health_.Note(last);
  return last;
}

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
    RELAY_RETURN_IF_ERROR(db.Query("INSERT INTO settings (name, value) VALUES (?, ?) "
                                   "ON CONFLICT (name) DO NOTHING",
                                   {P(name), P(value)})
                              .status());
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
    RELAY_RETURN_IF_ERROR(db.Query("INSERT INTO api_keys (id, name, secret_hash, created_at, "
                                   "revoked_at) VALUES (?, ?, ?, ?, ?)",
                                   {P(key.id), P(key.name), Bytes(key.secret_hash),
                                    P(key.created_at), P(key.revoked_at)})
                              .status());
    for (const auto& org : key.organizations) {
      RELAY_RETURN_IF_ERROR(EnsureOrganization(db, org, key.created_at));
      RELAY_RETURN_IF_ERROR(db.Query("INSERT INTO api_key_organizations (key_id, "
                                     "organization_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                                     {P(key.id), P(org)})
                                .status());
    }
    return Status::Ok();
  });
}

Result<ApiKeyRow> PgStore::GetApiKey(const std::string& id) {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  RELAY_ASSIGN_OR_RETURN(
      auto r,
      db->Query("SELECT id, name, secret_hash, created_at, revoked_at FROM api_keys WHERE id = ?",
                {P(id)}));
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
  RELAY_ASSIGN_OR_RETURN(
      auto r,
      db->Query("SELECT id, name, created_at, revoked_at FROM api_keys ORDER BY created_at, id"));
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
  RELAY_ASSIGN_OR_RETURN(
      auto r, db->Query("UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
                        {P(now), P(id)}));
  if (r.affected() == 0) return NotFound("api key not found: " + id);
  return Status::Ok();
}

Status PgStore::SetOrganizationFeature(const std::string& organization_id,
                                       const std::string& feature, bool enabled, int64_t now) {
  return InTransaction([&](PgConn& db) -> Status {
    RELAY_RETURN_IF_ERROR(EnsureOrganization(db, organization_id, now));
    if (enabled) {
      return db
          .Query(
              "INSERT INTO organization_features (organization_id, feature, enabled_at) "
              "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
              {P(organization_id), P(feature), P(now)})
          .status();
    }
    return db
        .Query("DELETE FROM organization_features WHERE organization_id = ? AND feature = ?",
               {P(organization_id), P(feature)})
        .status();
  });
}

Result<std::set<std::string>> PgStore::GetOrganizationFeatures(const std::string& organization_id) {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  return SelectFeatures(*db, organization_id);
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

// --- integrations ----------------------------------------------------------------------------

Status PgStore::CreateIntegration(const IntegrationRow& row) {
  return InTransaction([&](PgConn& db) -> Status {
    RELAY_RETURN_IF_ERROR(EnsureOrganization(db, row.organization_id, row.created_at));
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
  RELAY_ASSIGN_OR_RETURN(auto r, db->Query(std::string("SELECT ") + kIntegrationColumns +
                                               " FROM integrations WHERE id = ? AND "
                                               "organization_id = ? AND deleted_at IS NULL",
                                           {P(id), P(organization_id)}));
  if (r.rows() == 0) return NotFound("integration not found: " + id);
  return ReadIntegration(r, 0);
}

Result<Page<IntegrationRow>> PgStore::ListIntegrations(const std::string& organization_id,
                                                       const PageRequest& page) {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  return SelectPage<IntegrationRow>(
      *db, "FROM integrations WHERE organization_id = ? AND deleted_at IS NULL",
      kIntegrationColumns, "created_at, id", {P(organization_id)}, page, ReadIntegration);
}

Status PgStore::UpdateIntegration(const IntegrationRow& row, int64_t expected_version) {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  RELAY_ASSIGN_OR_RETURN(
      auto r,
      db->Query("UPDATE integrations SET enabled = ?, authentication = ?, properties = ?, "
                "client_secret = ?, signing_secret = ?, updated_at = ?, version = ?, "
                "previous_signing_secret = ?, previous_secret_expires_at = ? "
                "WHERE id = ? AND organization_id = ? AND version = ? AND deleted_at IS NULL",
                {P(int64_t{row.enabled}), P(row.authentication_json), P(row.properties_json),
                 Bytes(row.client_secret_sealed), Bytes(row.signing_secret_sealed),
                 P(row.updated_at), P(row.version), Bytes(row.previous_signing_secret_sealed),
                 P(row.previous_secret_expires_at), P(row.id), P(row.organization_id),
                 P(expected_version)}));
  if (r.affected() == 0) {
    return Conflict("integration " + row.id + " was changed or deleted concurrently");
  }
  return Status::Ok();
}

Status PgStore::DeleteIntegration(const std::string& organization_id, const std::string& id,
                                  int64_t now) {
  return InTransaction([&](PgConn& db) -> Status {
    RELAY_ASSIGN_OR_RETURN(auto r,
                           db.Query("UPDATE integrations SET deleted_at = ?, updated_at = ?, "
                                    "client_secret = NULL, signing_secret = NULL, "
                                    "previous_signing_secret = NULL, version = version + 1 "
                                    "WHERE id = ? AND organization_id = ? AND deleted_at IS NULL",
                                    {P(now), P(now), P(id), P(organization_id)}));
    if (r.affected() == 0) return NotFound("integration not found: " + id);
    // Its waiting deliveries will never be sent: they become cancelled (kept as history).
    return db
        .Query(
            "UPDATE deliveries SET status = 'cancelled', updated_at = ? WHERE "
            "integration_id = ? AND status = 'pending'",
            {P(now), P(id)})
        .status();
  });
}

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

Result<Page<DeliveryRow>> PgStore::ListDeliveries(const std::string& org,
                                                  const DeliveryFilter& filter,
                                                  const PageRequest& page) {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  std::string where =
      "FROM deliveries d JOIN messages m ON m.seq = d.message_seq WHERE d.integration_id = ? AND "
      "d.organization_id = ?";
  std::vector<PgParam> params = {P(filter.integration_id), P(org)};
  if (filter.status) {
    where += " AND d.status = ?";
    params.push_back(P(std::string(DeliveryStatusName(*filter.status))));
  }
  if (!filter.type.empty()) {
    where += " AND d.type = ?";
    params.push_back(P(filter.type));
  }
  if (filter.since) {
    where += " AND d.created_at >= ?";
    params.push_back(P(*filter.since));
  }
  if (filter.until) {
    where += " AND d.created_at < ?";
    params.push_back(P(*filter.until));
  }
  auto result = SelectPage<DeliveryRow>(*db, where, kDeliveryColumns, "d.seq DESC",
                                        std::move(params), page, ReadDelivery);
  if (result.ok()) RELAY_RETURN_IF_ERROR(AttachAttempts(*db, result->items));
  return result;
}

Result<std::optional<DeliveryRow>> PgStore::GetDelivery(const std::string& org,
                                                        const std::string& integration_id,
                                                        const std::string& id) {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  RELAY_ASSIGN_OR_RETURN(auto r, db->Query(std::string("SELECT ") + kDeliveryColumns +
                                               " FROM deliveries d JOIN messages m ON m.seq = "
                                               "d.message_seq WHERE d.organization_id = ? AND "
                                               "d.integration_id = ? AND d.id = ?",
                                           {P(org), P(integration_id), P(id)}));
  if (r.rows() == 0) return std::optional<DeliveryRow>();
  std::vector<DeliveryRow> one = {ReadDelivery(r, 0)};
  RELAY_RETURN_IF_ERROR(AttachAttempts(*db, one));
  return std::optional<DeliveryRow>(std::move(one[0]));
}

// --- the delivery engine ---------------------------------------------------------------------

Status PgStore::ClaimOn(PgConn& db, const ClaimRequest& request,
                        std::vector<ClaimedDelivery>* out) {
  std::vector<ClaimedDelivery>& claimed = *out;
  claimed.clear();
  if (request.limit <= 0) return Status::Ok();
  // Claims whose lease ran out belong to a node that died or hung: they are due again.
  RELAY_RETURN_IF_ERROR(db.Query("UPDATE deliveries SET status = 'pending', lease_token = NULL, "
                                 "lease_until = NULL WHERE status = 'in_flight' AND "
                                 "lease_until < ?",
                                 {P(request.now)})
                            .status());
  // Claims are serialized across the cluster (a transaction-scoped advisory lock, held for a few
  // milliseconds), so that the per-integration cap counts every node's deliveries in flight.
  RELAY_RETURN_IF_ERROR(db.Query("SELECT pg_advisory_xact_lock(?)", {P(kClaimLock)}).status());
  std::map<std::string, int64_t> in_flight;
  std::vector<std::string> excluded = request.excluded_integrations;
  if (request.integration_cap > 0) {
    RELAY_ASSIGN_OR_RETURN(auto counts,
                           db.Query("SELECT integration_id, count(*) FROM deliveries WHERE "
                                    "status = 'in_flight' GROUP BY integration_id"));
    for (int i = 0; i < counts.rows(); ++i) {
      in_flight[counts.Text(i, 0)] = counts.Int(i, 1);
      if (counts.Int(i, 1) >= request.integration_cap) excluded.push_back(counts.Text(i, 0));
    }
  }
  // SKIP LOCKED: rows another transaction holds (a replay, a purge) are passed over.
  RELAY_ASSIGN_OR_RETURN(
      auto candidates,
      db.Query("SELECT d.seq, d.integration_id FROM deliveries d JOIN integrations i ON "
               "i.id = d.integration_id WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND "
               "i.enabled = 1 AND i.deleted_at IS NULL AND NOT (d.integration_id = "
               "ANY(?::text[])) ORDER BY d.next_attempt_at LIMIT ? FOR UPDATE OF d SKIP LOCKED",
               {P(request.now), TextArray(excluded), P(int64_t{request.limit})}));
  std::vector<int64_t> seqs;
  for (int i = 0; i < candidates.rows(); ++i) {
    if (request.integration_cap > 0 &&
        in_flight[candidates.Text(i, 1)]++ >= request.integration_cap) {
      continue;  // this integration reached its cap within the batch
    }
    seqs.push_back(candidates.Int(i, 0));
  }
  if (seqs.empty()) return Status::Ok();
  RELAY_RETURN_IF_ERROR(db.Query("UPDATE deliveries SET status = 'in_flight', lease_until = ?, "
                                 "lease_token = ? WHERE seq = ANY(?::bigint[])",
                                 {P(request.lease_until), P(request.lease_token), IntArray(seqs)})
                            .status());
  RELAY_ASSIGN_OR_RETURN(
      auto r, db.Query("SELECT d.seq, d.id, d.organization_id, d.integration_id, i.version, m.id, "
                       "d.type, coalesce(d.payload, m.payload), d.attempt_count, "
                       "d.attempt_count - d.cycle_start, m.created_at FROM deliveries d "
                       "JOIN messages m ON m.seq = d.message_seq JOIN integrations i ON "
                       "i.id = d.integration_id WHERE d.status = 'in_flight' AND "
                       "d.lease_until = ? AND d.lease_token = ? ORDER BY d.next_attempt_at",
                       {P(request.lease_until), P(request.lease_token)}));
  for (int i = 0; i < r.rows(); ++i) {
    ClaimedDelivery c;
    c.seq = r.Int(i, 0);
    c.id = r.Text(i, 1);
    c.organization_id = r.Text(i, 2);
    c.integration_id = r.Text(i, 3);
    c.integration_version = r.Int(i, 4);
    c.message_id = r.Text(i, 5);
    c.type = r.Text(i, 6);
    c.payload = r.Text(i, 7);
    c.attempt_count = r.Int(i, 8);
    c.cycle_attempts = r.Int(i, 9);
    c.message_created_at = r.Int(i, 10);
    c.lease_token = request.lease_token;
    claimed.push_back(std::move(c));
  }
  return Status::Ok();
}

Status PgStore::RecordOn(PgConn& db, const std::vector<DeliveryOutcome>& outcomes, int64_t now) {
  if (outcomes.empty()) return Status::Ok();
  // Two statements for the whole batch (arrays unnested on the server), not two per delivery:
  // each statement is a round trip.
  std::vector<int64_t> a_seq, a_attempt, a_started, a_duration, a_token;
  std::vector<std::optional<int64_t>> a_status;
  std::vector<std::optional<std::string>> a_error, a_body;
  std::vector<int64_t> o_seq, o_next, o_inc, o_token;
  std::vector<std::optional<std::string>> o_status;
  for (const auto& o : outcomes) {
    if (o.attempt) {
      const AttemptRow& a = *o.attempt;
      a_seq.push_back(o.seq);
      a_token.push_back(o.lease_token);
      a_attempt.push_back(a.attempt);
      a_started.push_back(a.started_at);
      a_duration.push_back(a.duration_ms);
      a_status.push_back(a.http_status ? std::optional<int64_t>(*a.http_status) : std::nullopt);
      a_error.push_back(a.error.empty() ? std::nullopt : std::optional(a.error));
      a_body.push_back(a.response_body);
    }
    o_seq.push_back(o.seq);
    o_status.push_back(std::string(DeliveryStatusName(o.status)));
    o_next.push_back(o.next_attempt_at);
    o_inc.push_back(o.attempt ? 1 : 0);
    o_token.push_back(o.lease_token);
  }
  if (!a_seq.empty()) {
    // As in the SQLite store: the holder's attempt replaces a record with its number, a stale
    // outcome's attempt only fills a gap.
    RELAY_RETURN_IF_ERROR(
        db.Query("WITH a AS (SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::bigint[], "
                 "?::bigint[], ?::int[], ?::text[], ?::text[], ?::bigint[]) AS a(seq, attempt, "
                 "started, duration, status, error, body, token)), "
                 "held AS (SELECT a.* FROM a JOIN deliveries d ON d.seq = a.seq AND d.status = "
                 "'in_flight' AND d.lease_token = a.token), "
                 "stale AS (SELECT a.* FROM a WHERE NOT EXISTS (SELECT 1 FROM held h WHERE "
                 "h.seq = a.seq)), "
                 "replaced AS (INSERT INTO delivery_attempts (delivery_seq, attempt, started_at, "
                 "duration_ms, http_status, error, response_body) SELECT seq, attempt, started, "
                 "duration, status, error, body FROM held ON CONFLICT (delivery_seq, attempt) DO "
                 "UPDATE SET started_at = excluded.started_at, duration_ms = excluded.duration_ms, "
                 "http_status = excluded.http_status, error = excluded.error, response_body = "
                 "excluded.response_body) "
                 "INSERT INTO delivery_attempts (delivery_seq, attempt, started_at, duration_ms, "
                 "http_status, error, response_body) SELECT seq, attempt, started, duration, "
                 "status, error, body FROM stale ON CONFLICT DO NOTHING",
                 {IntArray(a_seq), IntArray(a_attempt), IntArray(a_started), IntArray(a_duration),
                  IntArray(a_status), TextArray(a_error), TextArray(a_body), IntArray(a_token)})
            .status());
  }
  // A retry, or a release, of a delivery whose integration was deleted meanwhile ends it.
  return db
      .Query(
          "UPDATE deliveries d SET status = CASE WHEN o.status = 'pending' AND i.deleted_at IS "
          "NOT NULL THEN 'cancelled' ELSE o.status END, next_attempt_at = o.next, attempt_count "
          "= d.attempt_count + o.inc, lease_until = NULL, lease_token = NULL, updated_at = ? "
          "FROM unnest(?::bigint[], ?::text[], ?::bigint[], ?::bigint[], ?::bigint[]) AS "
          "o(seq, status, next, inc, token), integrations i WHERE d.seq = o.seq AND "
          "i.id = d.integration_id AND d.status = 'in_flight' AND d.lease_token = o.token",
          {P(now), IntArray(o_seq), TextArray(o_status), IntArray(o_next), IntArray(o_inc),
           IntArray(o_token)})
      .status();
}

Result<std::vector<ClaimedDelivery>> PgStore::ClaimDeliveries(const ClaimRequest& request) {
  std::vector<ClaimedDelivery> claimed;
  if (request.limit <= 0) return claimed;
  RELAY_RETURN_IF_ERROR(InTransaction([&](PgConn& db) { return ClaimOn(db, request, &claimed); }));
  return claimed;
}

Status PgStore::RecordOutcomes(const std::vector<DeliveryOutcome>& outcomes, int64_t now) {
  if (outcomes.empty()) return Status::Ok();
  return InTransaction([&](PgConn& db) { return RecordOn(db, outcomes, now); });
}

Result<std::vector<ClaimedDelivery>> PgStore::RecordAndClaim(
    const std::vector<DeliveryOutcome>& outcomes, int64_t now, const ClaimRequest& request) {
  std::vector<ClaimedDelivery> claimed;
  RELAY_RETURN_IF_ERROR(InTransaction([&](PgConn& db) -> Status {
    RELAY_RETURN_IF_ERROR(RecordOn(db, outcomes, now));
    return ClaimOn(db, request, &claimed);
  }));
  return claimed;
}

Result<int64_t> PgStore::RenewLeases(const std::vector<HeldLease>& held, int64_t lease_until) {
  int64_t renewed = 0;
  if (held.empty()) return renewed;
  std::vector<int64_t> seqs, tokens;
  for (const auto& h : held) {
    seqs.push_back(h.seq);
    tokens.push_back(h.lease_token);
  }
  RELAY_RETURN_IF_ERROR(InTransaction([&](PgConn& db) -> Status {
    RELAY_ASSIGN_OR_RETURN(
        auto r, db.Query("UPDATE deliveries d SET lease_until = ? FROM unnest(?::bigint[], "
                         "?::bigint[]) AS h(seq, token) WHERE d.seq = h.seq AND d.lease_token = "
                         "h.token AND d.status = 'in_flight'",
                         {P(lease_until), IntArray(seqs), IntArray(tokens)}));
    renewed = r.affected();
    return Status::Ok();
  }));
  return renewed;
}

Status PgStore::ReleaseAllClaims(int64_t) { return Status::Ok(); }

Result<DeliveryRow> PgStore::RequeueDelivery(const std::string& org,
                                             const std::string& integration_id,
                                             const std::string& id, int64_t now) {
  RELAY_RETURN_IF_ERROR(InTransaction([&](PgConn& db) -> Status {
    RELAY_ASSIGN_OR_RETURN(auto r, db.Query("SELECT status, erased_at IS NOT NULL FROM "
                                            "deliveries WHERE organization_id = ? AND "
                                            "integration_id = ? AND id = ? FOR UPDATE",
                                            {P(org), P(integration_id), P(id)}));
    if (r.rows() == 0) return NotFound("delivery not found: " + id);
    const std::string status = r.Text(0, 0);
    if (r.Text(0, 1) == "t") {
      return FailedPrecondition("delivery " + id + " was erased with its user");
    }
    if (status == "in_flight") {
      return FailedPrecondition("delivery " + id + " is being sent right now");
    }
    if (status == "cancelled") {
      return FailedPrecondition("delivery " + id + " was cancelled with its integration");
    }
    return db
        .Query(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, cycle_start = "
            "attempt_count, updated_at = ? WHERE organization_id = ? AND integration_id = ? "
            "AND id = ?",
            {P(now), P(now), P(org), P(integration_id), P(id)})
        .status();
  }));
  RELAY_ASSIGN_OR_RETURN(auto row, GetDelivery(org, integration_id, id));
  if (!row) return NotFound("delivery not found: " + id);
  return std::move(*row);
}

Result<int64_t> PgStore::RequeueDeliveries(const std::string& org,
                                           const std::string& integration_id,
                                           const ReplayFilter& filter, int64_t now, int batch) {
  std::string sql =
      "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, cycle_start = "
      "attempt_count, updated_at = ? WHERE seq IN (SELECT seq FROM deliveries WHERE "
      "integration_id = ? AND organization_id = ? AND status = ? AND seq > ? AND erased_at IS NULL";
  if (filter.since) sql += " AND created_at >= ?";
  if (filter.until) sql += " AND created_at < ?";
  sql += " ORDER BY seq LIMIT ? FOR UPDATE SKIP LOCKED) RETURNING seq";
  int64_t total = 0;
  int64_t after = 0;
  while (true) {
    // One short transaction per batch, so the dispatchers and the API keep going meanwhile.
    int64_t changed = 0;
    RELAY_RETURN_IF_ERROR(InTransaction([&](PgConn& db) -> Status {
      std::vector<PgParam> params = {P(now),
                                     P(now),
                                     P(integration_id),
                                     P(org),
                                     P(std::string(DeliveryStatusName(filter.status))),
                                     P(after)};
      if (filter.since) params.push_back(P(*filter.since));
      if (filter.until) params.push_back(P(*filter.until));
      params.push_back(P(int64_t{batch}));
      RELAY_ASSIGN_OR_RETURN(auto r, db.Query(sql, params));
      changed = r.rows();
      for (int i = 0; i < r.rows(); ++i) after = std::max(after, r.Int(i, 0));
      return Status::Ok();
    }));
    total += changed;
    if (changed < batch) return total;
  }
}

Result<int64_t> PgStore::EraseFinished(int64_t now) {
  std::vector<std::pair<std::string, std::string>> erasures;
  {
    RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
    RELAY_ASSIGN_OR_RETURN(auto r, db->Query("SELECT organization_id, user_id FROM erasures"));
    for (int i = 0; i < r.rows(); ++i) erasures.emplace_back(r.Text(i, 0), r.Text(i, 1));
  }
  int64_t erased = 0;
  for (const auto& [org, user] : erasures) {
    RELAY_RETURN_IF_ERROR(InTransaction([&, org = org, user = user](PgConn& db) -> Status {
      RELAY_ASSIGN_OR_RETURN(auto r, db.Query(kEraseDeliveriesSql, {P(now), P(org), P(user)}));
      erased += r.affected();
      for (const char* sql : {kEraseAttemptsSql, kEraseMessagesSql, kEraseDoneSql}) {
        RELAY_RETURN_IF_ERROR(db.Query(sql, {P(org), P(user)}).status());
      }
      return Status::Ok();
    }));
  }
  return erased;
}

Status PgStore::PurgeExpiredRecords(int64_t before) {
  return InTransaction([&](PgConn& db) -> Status {
    RELAY_RETURN_IF_ERROR(db.Query(kPurgeIdempotencyKeysSql, {P(before)}).status());
    // A lost COMMIT is checked within seconds: receipts older than the window serve nobody.
    return db.Query("DELETE FROM write_receipts WHERE created_at < ?", {P(before)}).status();
  });
}

Result<int64_t> PgStore::PurgeDeliveries(DeliveryStatus status, int64_t before, int batch) {
  int64_t purged = 0;
  RELAY_RETURN_IF_ERROR(InTransaction([&](PgConn& db) -> Status {
    // The deliveries and their attempts in one statement, then messages left without deliveries.
    RELAY_ASSIGN_OR_RETURN(
        auto r,
        db.Query("WITH gone AS (DELETE FROM deliveries WHERE seq IN (SELECT seq FROM deliveries "
                 "WHERE status = ? AND updated_at < ? LIMIT ? FOR UPDATE SKIP LOCKED) RETURNING "
                 "seq, message_seq), attempts AS (DELETE FROM delivery_attempts WHERE "
                 "delivery_seq IN (SELECT seq FROM gone)) SELECT seq, message_seq FROM gone",
                 {P(std::string(DeliveryStatusName(status))), P(before), P(int64_t{batch})}));
    purged = r.rows();
    if (purged == 0) return Status::Ok();
    std::set<int64_t> unique;
    for (int i = 0; i < r.rows(); ++i) unique.insert(r.Int(i, 1));
    return db
        .Query(
            "DELETE FROM messages m WHERE m.seq = ANY(?::bigint[]) AND NOT EXISTS (SELECT 1 "
            "FROM deliveries d WHERE d.message_seq = m.seq)",
            {IntArray(std::vector<int64_t>(unique.begin(), unique.end()))})
        .status();
  }));
  return purged;
}

Result<DeliveryCounts> PgStore::CountDeliveries() {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  RELAY_ASSIGN_OR_RETURN(
      auto r, db->Query("SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER "
                        "(WHERE status = 'in_flight'), count(*) FILTER (WHERE status = 'dead') "
                        "FROM deliveries WHERE status IN ('pending', 'in_flight', 'dead')"));
  DeliveryCounts counts;
  counts.pending = r.Int(0, 0);
  counts.in_flight = r.Int(0, 1);
  counts.dead = r.Int(0, 2);
  return counts;
}

}  // namespace relay::store
