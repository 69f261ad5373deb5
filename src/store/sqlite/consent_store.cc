// The ConsentStore role on SQLite: the write transaction (run by group commit) and the consent
// reads.
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

namespace {

constexpr char kUserColumns[] =
    "id, organization_id, organization_user_id, state, created_at, updated_at";
constexpr char kEventColumns[] =
    "id, organization_id, user_id, regulation, entity, created_at, updated_at";
ConsentUserRow ReadUser(const SqliteStatement& s) {
  return ConsentUserRow{s.ColumnText(0), s.ColumnText(1), s.ColumnText(2),
                        s.ColumnText(3), s.ColumnInt(4),  s.ColumnInt(5)};
}

ConsentEventRow ReadEvent(const SqliteStatement& s) {
  return ConsentEventRow{s.ColumnText(0), s.ColumnText(1), s.ColumnText(2), s.ColumnText(3),
                         s.ColumnText(4), s.ColumnInt(5),  s.ColumnInt(6)};
}

template <typename Row, typename Reader>
Result<std::optional<Row>> SelectOne(SqliteDb& db, const std::string& sql,
                                     const std::string& organization_id, const std::string& key,
                                     Reader read) {
  RELAY_ASSIGN_OR_RETURN(auto stmt, db.Prepare(sql));
  stmt->Bind(1, organization_id).Bind(2, key);
  RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return std::optional<Row>();
  return std::optional<Row>(read(*stmt));
}

Result<std::optional<ConsentUserRow>> SelectUser(SqliteDb& db, const std::string& org,
                                                 const std::string& id) {
  return SelectOne<ConsentUserRow>(db,
                                   std::string("SELECT ") + kUserColumns +
                                       " FROM consent_users WHERE organization_id = ? AND id = ?",
                                   org, id, ReadUser);
}

Result<std::optional<ConsentUserRow>> SelectUserByOrganizationUserId(
    SqliteDb& db, const std::string& org, const std::string& organization_user_id) {
  return SelectOne<ConsentUserRow>(
      db,
      std::string("SELECT ") + kUserColumns +
          " FROM consent_users WHERE organization_id = ? AND organization_user_id = ?",
      org, organization_user_id, ReadUser);
}

Result<std::optional<ConsentEventRow>> SelectEvent(SqliteDb& db, const std::string& org,
                                                   const std::string& id) {
  return SelectOne<ConsentEventRow>(db,
                                    std::string("SELECT ") + kEventColumns +
                                        " FROM consent_events WHERE organization_id = ? AND id = ?",
                                    org, id, ReadEvent);
}

}  // namespace

// The WriteTransaction handed to Store::Write's body; valid only during that call, under the
// store's lock and inside BEGIN IMMEDIATE.
class SqliteWriteTransaction final : public WriteTransaction {
 public:
  SqliteWriteTransaction(SqliteDb& db, std::shared_ptr<Handoff> handoff)
      : db_(db), handoff_(std::move(handoff)) {}

  // After the write: what it claimed for the handoff goes to the dispatcher once committed, and
  // its reservations are given back otherwise.
  void Settle(bool committed) {
    if (!handoff_) return;
    if (committed) {
      if (!handed_.empty()) handoff_->Deliver(std::move(handed_));
    } else if (!reserved_.empty()) {
      handoff_->Cancel(reserved_);
    }
  }

  Result<std::set<std::string>> GetOrganizationFeatures(const std::string& org) override {
    return SelectOrganizationFeatures(db_, org);
  }

  Result<std::vector<IntegrationRow>> ListFanOutIntegrations(const std::string& org) override {
    RELAY_ASSIGN_OR_RETURN(
        auto stmt, db_.Prepare(std::string("SELECT ") + kIntegrationColumns +
                               " FROM integrations WHERE organization_id = ? AND " + kFanOutSql +
                               " ORDER BY created_at, id"));
    stmt->Bind(1, org);
    std::vector<IntegrationRow> rows;
    while (true) {
      RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      rows.push_back(ReadIntegration(*stmt));
    }
    return rows;
  }

  Result<std::optional<ConsentUserRow>> GetUser(const std::string& org,
                                                const std::string& id) override {
    return SelectUser(db_, org, id);
  }

  Result<std::optional<ConsentUserRow>> FindUserByOrganizationUserId(
      const std::string& org, const std::string& organization_user_id) override {
    return SelectUserByOrganizationUserId(db_, org, organization_user_id);
  }

  Status PutUser(const ConsentUserRow& u) override {
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_.Prepare(kPutUserSql));
    stmt->Bind(1, u.id).Bind(2, u.organization_id);
    if (u.organization_user_id.empty()) {
      stmt->BindNull(3);
    } else {
      stmt->Bind(3, u.organization_user_id);
    }
    stmt->Bind(4, u.state_json).Bind(5, u.created_at).Bind(6, u.updated_at);
    Status s = stmt->Run();
    if (s.code() == StatusCode::kConflict) {
      return Conflict("another user of the organization has organization_user_id " +
                      u.organization_user_id);
    }
    return s;
  }

  Status DeleteUser(const std::string& org, const std::string& id) override {
    {
      RELAY_ASSIGN_OR_RETURN(auto stmt, db_.Prepare(kDeleteUserEventsSql));
      stmt->Bind(1, org).Bind(2, id);
      RELAY_RETURN_IF_ERROR(stmt->Run());
    }
    {
      RELAY_ASSIGN_OR_RETURN(auto stmt, db_.Prepare(kDeleteUserSql));
      stmt->Bind(1, org).Bind(2, id);
      RELAY_RETURN_IF_ERROR(stmt->Run());
      if (db_.Changes() == 0) return NotFound("user not found: " + id);
    }
    {
      RELAY_ASSIGN_OR_RETURN(auto stmt, db_.Prepare(kDeleteUserIdempotencySql));
      stmt->Bind(1, org).Bind(2, id);
      RELAY_RETURN_IF_ERROR(stmt->Run());
    }
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_.Prepare(kRecordErasureSql));
    stmt->Bind(1, org).Bind(2, id).Bind(3, SystemClock::Instance().NowMillis());
    return stmt->Run();
  }

  Result<std::optional<ConsentEventRow>> GetEvent(const std::string& org,
                                                  const std::string& id) override {
    return SelectEvent(db_, org, id);
  }

  Result<std::vector<ConsentEventRow>> ListUserEvents(const std::string& org,
                                                      const std::string& user_id) override {
    RELAY_ASSIGN_OR_RETURN(
        auto stmt, db_.Prepare(std::string("SELECT ") + kEventColumns + kUserEventsWhereSql));
    stmt->Bind(1, org).Bind(2, user_id);
    std::vector<ConsentEventRow> rows;
    while (true) {
      RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      rows.push_back(ReadEvent(*stmt));
    }
    return rows;
  }

  Status InsertEvent(const ConsentEventRow& e) override {
    RELAY_ASSIGN_OR_RETURN(auto stmt,
                           db_.Prepare(std::string("INSERT INTO consent_events (") + kEventColumns +
                                       ") VALUES (?, ?, ?, ?, ?, ?, ?)"));
    stmt->Bind(1, e.id).Bind(2, e.organization_id).Bind(3, e.user_id).Bind(4, e.regulation);
    stmt->Bind(5, e.entity_json).Bind(6, e.created_at).Bind(7, e.updated_at);
    Status s = stmt->Run();
    if (s.code() == StatusCode::kConflict) return Conflict("an event with id " + e.id + " exists");
    return s;
  }

  Status UpdateEvent(const ConsentEventRow& e) override {
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_.Prepare(kUpdateEventSql));
    stmt->Bind(1, e.entity_json).Bind(2, e.updated_at).Bind(3, e.organization_id).Bind(4, e.id);
    RELAY_RETURN_IF_ERROR(stmt->Run());
    if (db_.Changes() == 0) return NotFound("event not found: " + e.id);
    return Status::Ok();
  }

  Status DeleteEvent(const std::string& org, const std::string& id) override {
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_.Prepare(kDeleteEventSql));
    stmt->Bind(1, org).Bind(2, id);
    RELAY_RETURN_IF_ERROR(stmt->Run());
    if (db_.Changes() == 0) return NotFound("event not found: " + id);
    return Status::Ok();
  }

  Status InsertMessage(const MessageRow& m, const std::vector<DeliveryRow>& deliveries) override {
    {
      RELAY_ASSIGN_OR_RETURN(auto stmt, db_.Prepare(kInsertMessageSql));
      stmt->Bind(1, m.id).Bind(2, m.organization_id).Bind(3, m.type).Bind(4, m.regulation);
      stmt->Bind(5, m.ordering_key).Bind(6, m.payload).Bind(7, m.created_at);
      if (m.traceparent.empty()) {
        stmt->BindNull(8);
      } else {
        stmt->Bind(8, m.traceparent);
      }
      RELAY_RETURN_IF_ERROR(stmt->Run());
    }
    // The message's rowid increases in commit order (one writer), so it orders each lane.
    int64_t message_seq = db_.LastInsertRowId();
    for (const auto& d : deliveries) {
      // Its lane first: the user's (a follower when it has one), or its own.
      int64_t lane_id = 0;
      std::optional<HandoffLease> lease;
      {
        RELAY_ASSIGN_OR_RETURN(auto lane,
                               db_.Prepare(d.unordered ? kInsertSoloLaneSql : kUpsertLaneSql));
        lane->Bind(1, d.integration_id).Bind(3, d.next_attempt_at);
        if (d.unordered) {
          lane->BindNull(2);
        } else {
          lane->Bind(2, m.ordering_key);
        }
        RELAY_ASSIGN_OR_RETURN(bool row, lane->Step());
        if (!row) return Internal("a lane upsert returned nothing");
        lane_id = lane->ColumnInt(0);
        const bool created = lane->ColumnInt(1) == 1;
        RELAY_RETURN_IF_ERROR(lane->Run());  // steps it to its end
        if (created) {
          // The lane's head: claimed here and handed over at commit, or due for a claim.
          RELAY_ASSIGN_OR_RETURN(lease, HandOff(d, lane_id));
          if (lease) {
            handed_lanes_[lane_id] = Handed{*lease, handed_version_};
          } else {
            RELAY_ASSIGN_OR_RETURN(auto due, db_.Prepare(kIntegrationDueSql));
            due->Bind(1, d.integration_id).Bind(2, d.next_attempt_at);
            RELAY_RETURN_IF_ERROR(due->Run());
          }
        } else if (auto handed = handed_lanes_.find(lane_id); handed != handed_lanes_.end()) {
          // Behind a head this write handed over (user.created after event.created): it goes
          // with it, under its lease, when there is room.
          if (handoff_->Reserve(d.integration_id, d.created_at)) {
            reserved_.push_back(d.integration_id);
            lease = handed->second.lease;
          }
        }
      }
      RELAY_ASSIGN_OR_RETURN(
          auto stmt,
          db_.Prepare("INSERT INTO deliveries (id, organization_id, integration_id, message_seq, "
                      "type, ordering_key, sequence, status, payload, next_attempt_at, "
                      "created_at, updated_at, lane_id, lease_until, lease_token) VALUES (?, ?, ?, "
                      "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      stmt->Bind(1, d.id).Bind(2, d.organization_id).Bind(3, d.integration_id);
      stmt->Bind(4, message_seq).Bind(5, m.type).Bind(6, m.ordering_key).Bind(7, message_seq);
      stmt->Bind(8, lease ? "in_flight" : "pending");
      if (d.payload.empty()) {
        stmt->BindNull(9);
      } else {
        stmt->Bind(9, d.payload);
      }
      stmt->Bind(10, d.next_attempt_at).Bind(11, d.created_at).Bind(12, d.created_at);
      stmt->Bind(13, lane_id);
      if (lease) {
        stmt->Bind(14, lease->until).Bind(15, lease->token);
      } else {
        stmt->BindNull(14).BindNull(15);
      }
      RELAY_RETURN_IF_ERROR(stmt->Run());
      if (lease) {
        ClaimedDelivery c;
        c.seq = db_.LastInsertRowId();
        c.lane_id = lane_id;
        c.id = d.id;
        c.organization_id = d.organization_id;
        c.integration_id = d.integration_id;
        c.integration_version = handed_lanes_.at(lane_id).version;
        c.message_id = m.id;
        c.type = m.type;
        c.payload = d.payload.empty() ? m.payload : d.payload;
        c.message_created_at = m.created_at;
        c.lease_token = lease->token;
        c.traceparent = m.traceparent;
        handed_.push_back(std::move(c));
      }
      lease.reset();
    }
    return Status::Ok();
  }

  // A new lane's head, due now, of an integration that may send: claimed under a lease the
  // handoff reserved (lane and delivery in flight), or nullopt.
  Result<std::optional<HandoffLease>> HandOff(const DeliveryRow& d, int64_t lane_id) {
    if (!handoff_ || d.next_attempt_at > d.created_at) return std::optional<HandoffLease>();
    {
      RELAY_ASSIGN_OR_RETURN(
          auto stmt,
          db_.Prepare("SELECT i.version FROM integrations i JOIN integration_health h ON "
                      "h.integration_id = i.id WHERE i.id = ? AND i.enabled = 1 AND i.deleted_at "
                      "IS NULL AND h.open_until IS NULL"));
      stmt->Bind(1, d.integration_id);
      RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) return std::optional<HandoffLease>();  // held: its breaker, or disabled
      handed_version_ = stmt->ColumnInt(0);
    }
    auto lease = handoff_->Reserve(d.integration_id, d.created_at);
    if (!lease) return lease;
    reserved_.push_back(d.integration_id);
    RELAY_ASSIGN_OR_RETURN(auto mark, db_.Prepare("UPDATE lanes SET state = 'in_flight', "
                                                  "lease_until = ?1, lease_token = ?2 WHERE "
                                                  "lane_id = ?3"));
    mark->Bind(1, lease->until).Bind(2, lease->token).Bind(3, lane_id);
    RELAY_RETURN_IF_ERROR(mark->Run());
    return lease;
  }

  Result<std::optional<IdempotencyRow>> GetIdempotencyKey(const std::string& org,
                                                          const std::string& key,
                                                          int64_t not_before) override {
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_.Prepare(kSelectIdempotencySql));
    stmt->Bind(1, org).Bind(2, key).Bind(3, not_before);
    RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return std::optional<IdempotencyRow>();
    return std::optional<IdempotencyRow>(IdempotencyRow{org, key, stmt->ColumnText(0), "",
                                                        static_cast<int>(stmt->ColumnInt(1)),
                                                        stmt->ColumnText(2), stmt->ColumnInt(3)});
  }

  Status PutIdempotencyKey(const IdempotencyRow& r) override {
    RELAY_ASSIGN_OR_RETURN(
        auto stmt,
        db_.Prepare("INSERT OR REPLACE INTO idempotency_keys (organization_id, key, request_hash, "
                    "response_status, response_body, created_at, user_id) VALUES (?, ?, ?, ?, ?, "
                    "?, ?)"));
    stmt->Bind(1, r.organization_id).Bind(2, r.key).BindBlob(3, r.request_hash);
    stmt->Bind(4, int64_t{r.response_status}).Bind(5, r.response_body).Bind(6, r.created_at);
    stmt->Bind(7, r.user_id);
    return stmt->Run();
  }

 private:
  SqliteDb& db_;
  std::shared_ptr<Handoff> handoff_;
  std::vector<ClaimedDelivery> handed_;  // claimed by this write, for the handoff
  std::vector<std::string> reserved_;    // the handoff's reservations, by integration
  struct Handed {
    HandoffLease lease;
    int64_t version = 0;  // the integration's, as HandOff read it
  };
  std::map<int64_t, Handed> handed_lanes_;  // lanes this write created and handed over
  int64_t handed_version_ = 0;              // the integration version HandOff read
};

// Writes go through group commit (group_commit.cc). Every writer queues its closure and waits. When
// no batch is running, one waiter becomes the leader: it takes every closure queued so far and runs
// them in one transaction, each inside its own savepoint (a failing closure rolls back alone), then
// commits once, so one fsync acknowledges the whole batch. Closures queued meanwhile form the next
// batch. The writers of a batch wait on a condition variable, not on the connection: a finished
// writer returns at once instead of queueing behind the next batch's fsync. A failed commit fails
// every closure of the batch: none was acknowledged.
Status SqliteStore::Write(const std::function<Status(WriteTransaction&)>& body) {
  std::shared_ptr<Handoff> handoff;
  {
    MutexLock lock(handoff_mu_);
    handoff = handoff_;
  }
  SqliteWriteTransaction txn(*db_, std::move(handoff));
  Status s = RunInBatch([&]() { return body(txn); });
  txn.Settle(s.ok());
  return s;
}

void SqliteStore::SetHandoff(std::shared_ptr<Handoff> handoff) {
  MutexLock lock(handoff_mu_);
  handoff_ = std::move(handoff);
}

Result<std::optional<ConsentEventRow>> SqliteStore::GetEvent(const std::string& org,
                                                             const std::string& id) {
  auto db_ = BorrowReader();
  return SelectEvent(*db_, org, id);
}

Result<Page<ConsentEventRow>> SqliteStore::ListEvents(const std::string& org,
                                                      const std::string& user_id,
                                                      const std::string& regulation,
                                                      const PageRequest& page) {
  auto db_ = BorrowReader();
  std::string where = "FROM consent_events WHERE organization_id = ?";
  std::vector<std::string> args = {org};
  if (!user_id.empty()) {
    where += " AND user_id = ?";
    args.push_back(user_id);
  }
  if (!regulation.empty()) {
    where += " AND regulation = ?";
    args.push_back(regulation);
  }
  return SelectPage<ConsentEventRow>(*db_, where, kEventColumns, "created_at DESC, id DESC", args,
                                     {}, page, ReadEvent);
}

Result<std::optional<ConsentUserRow>> SqliteStore::GetUser(const std::string& org,
                                                           const std::string& id) {
  auto db_ = BorrowReader();
  return SelectUser(*db_, org, id);
}

Result<std::optional<ConsentUserRow>> SqliteStore::FindUserByOrganizationUserId(
    const std::string& org, const std::string& organization_user_id) {
  auto db_ = BorrowReader();
  return SelectUserByOrganizationUserId(*db_, org, organization_user_id);
}

Result<Page<ConsentUserRow>> SqliteStore::ListUsers(const std::string& org,
                                                    const std::string& organization_user_id,
                                                    const PageRequest& page) {
  auto db_ = BorrowReader();
  std::string where = "FROM consent_users WHERE organization_id = ?";
  std::vector<std::string> args = {org};
  if (!organization_user_id.empty()) {
    where += " AND organization_user_id = ?";
    args.push_back(organization_user_id);
  }
  return SelectPage<ConsentUserRow>(*db_, where, kUserColumns, "created_at, id", args, {}, page,
                                    ReadUser);
}

}  // namespace relay::store
