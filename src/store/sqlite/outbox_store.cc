// The OutboxStore role on SQLite: deliveries as the API shows them, outcomes in batches, leases,
// re-queues, retention, erasure and counts. The ready queue itself (claims, lanes) is in
// ready_queue.cc.
#include <chrono>
#include <limits>
#include <map>
#include <mutex>
#include <set>

#include "common/clock.h"
#include "store/catching.h"
#include "store/health.h"
#include "store/shared_sql.h"
#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/sqlite_rows.h"
#include "store/sqlite/sqlite_store.h"

namespace relay::store {

namespace {

DeliveryRow ReadDelivery(const SqliteStatement& s) {
  DeliveryRow d;
  d.id = s.ColumnText(0);
  d.organization_id = s.ColumnText(1);
  d.integration_id = s.ColumnText(2);
  d.message_id = s.ColumnText(3);
  d.type = s.ColumnText(4);
  d.regulation = s.ColumnText(5);
  d.ordering_key = s.ColumnText(6);
  d.sequence = s.ColumnInt(7);
  d.status = ParseDeliveryStatus(s.ColumnText(8)).value_or(DeliveryStatus::kPending);
  d.payload = s.ColumnText(9);
  d.attempt_count = s.ColumnInt(10);
  d.next_attempt_at = s.ColumnInt(11);
  d.created_at = s.ColumnInt(12);
  d.updated_at = s.ColumnInt(13);
  d.seq = s.ColumnInt(14);
  d.erased = s.ColumnInt(15) != 0;
  d.traceparent = s.ColumnText(16);
  return d;
}

// Fills each delivery's attempts with one query.
Status AttachAttempts(SqliteDb& db, std::vector<DeliveryRow>& deliveries) {
  if (deliveries.empty()) return Status::Ok();
  std::string sql =
      "SELECT delivery_seq, attempt, started_at, duration_ms, http_status, error, response_body "
      "FROM delivery_attempts WHERE delivery_seq IN (";
  for (size_t i = 0; i < deliveries.size(); ++i) sql += i ? ",?" : "?";
  sql += ") ORDER BY delivery_seq, attempt";
  RELAY_ASSIGN_OR_RETURN(auto stmt, db.Prepare(sql));
  std::map<int64_t, DeliveryRow*> by_seq;
  for (size_t i = 0; i < deliveries.size(); ++i) {
    stmt->Bind(static_cast<int>(i + 1), deliveries[i].seq);
    by_seq[deliveries[i].seq] = &deliveries[i];
  }
  while (true) {
    RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    AttemptRow a;
    a.attempt = stmt->ColumnInt(1);
    a.started_at = stmt->ColumnInt(2);
    a.duration_ms = stmt->ColumnInt(3);
    if (auto status = stmt->ColumnOptionalInt(4)) a.http_status = static_cast<int>(*status);
    a.error = stmt->ColumnText(5);
    a.response_body = stmt->ColumnText(6);
    by_seq[stmt->ColumnInt(0)]->attempts.push_back(std::move(a));
  }
  return Status::Ok();
}

}  // namespace

Result<Page<DeliveryRow>> SqliteStore::ListDeliveries(const std::string& org,
                                                      const DeliveryFilter& filter,
                                                      const PageRequest& page) {
  auto db_ = BorrowReader();
  std::string where =
      "FROM deliveries d JOIN messages m ON m.seq = d.message_seq WHERE d.integration_id = ? AND "
      "d.organization_id = ?";
  std::vector<std::string> text = {filter.integration_id, org};
  std::vector<int64_t> ints;
  if (filter.status) {
    where += " AND d.status = ?";
    text.push_back(DeliveryStatusName(*filter.status));
  }
  if (!filter.type.empty()) {
    where += " AND d.type = ?";
    text.push_back(filter.type);
  }
  if (filter.since) {
    where += " AND d.created_at >= ?";
    ints.push_back(*filter.since);
  }
  if (filter.until) {
    where += " AND d.created_at < ?";
    ints.push_back(*filter.until);
  }
  if (!page.keyset) {
    auto result = SelectPage<DeliveryRow>(*db_, where, kDeliveryColumns, "d.seq DESC", text, ints,
                                          page, ReadDelivery);
    if (result.ok()) RELAY_RETURN_IF_ERROR(AttachAttempts(*db_, result->items));
    return result;
  }
  // By the index on (integration_id, seq): the page's rows and one more, whatever precedes them.
  Page<DeliveryRow> result;
  Status s = InReadTransaction(*db_, [&]() -> Status {
    int64_t after = std::numeric_limits<int64_t>::max();
    if (!page.after.empty()) {
      RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT seq FROM deliveries WHERE id = ? AND "
                                                     "organization_id = ? AND integration_id = ?"));
      stmt->Bind(1, page.after).Bind(2, org).Bind(3, filter.integration_id);
      RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) return InvalidField("$cursor", "names no delivery of this integration");
      after = stmt->ColumnInt(0);
    }
    RELAY_ASSIGN_OR_RETURN(auto stmt,
                           db_->Prepare(std::string("SELECT ") + kDeliveryColumns + " " + where +
                                        " AND d.seq < ? ORDER BY d.seq DESC LIMIT ?"));
    int i = 1;
    for (const auto& a : text) stmt->Bind(i++, a);
    for (int64_t a : ints) stmt->Bind(i++, a);
    stmt->Bind(i, after).Bind(i + 1, page.limit + 1);
    while (true) {
      RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      result.items.push_back(ReadDelivery(*stmt));
    }
    return Status::Ok();
  });
  RELAY_RETURN_IF_ERROR(s);
  if (static_cast<int64_t>(result.items.size()) > page.limit) {
    result.items.pop_back();
    result.more = true;
  }
  RELAY_RETURN_IF_ERROR(AttachAttempts(*db_, result.items));
  return result;
}

Result<std::optional<DeliveryRow>> SqliteStore::GetDelivery(const std::string& org,
                                                            const std::string& integration_id,
                                                            const std::string& id) {
  auto db_ = BorrowReader();
  RELAY_ASSIGN_OR_RETURN(
      auto stmt, db_->Prepare(std::string("SELECT ") + kDeliveryColumns +
                              " FROM deliveries d JOIN messages m ON m.seq = d.message_seq "
                              "WHERE d.organization_id = ? AND d.integration_id = ? AND d.id = ?"));
  stmt->Bind(1, org).Bind(2, integration_id).Bind(3, id);
  RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return std::optional<DeliveryRow>();
  std::vector<DeliveryRow> one = {ReadDelivery(*stmt)};
  RELAY_RETURN_IF_ERROR(AttachAttempts(*db_, one));
  return std::optional<DeliveryRow>(std::move(one[0]));
}

Result<std::optional<DeliveryScope>> SqliteStore::LocateDelivery(const std::string& id) {
  auto db_ = BorrowReader();
  RELAY_ASSIGN_OR_RETURN(
      auto stmt,
      db_->Prepare("SELECT organization_id, integration_id FROM deliveries WHERE id = ?"));
  stmt->Bind(1, id);
  RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return std::optional<DeliveryScope>();
  return std::optional<DeliveryScope>(DeliveryScope{stmt->ColumnText(0), stmt->ColumnText(1)});
}

Result<std::vector<HealthReport>> SqliteStore::RecordOutcomes(
    const std::vector<DeliveryOutcome>& outcomes, int64_t now, const HealthPolicy& policy) {
  std::vector<HealthReport> health;
  if (outcomes.empty()) return health;
  Status s = RunInBatch([&]() { return RecordOnWriter(outcomes, now, policy, &health); });
  if (!s.ok()) return s;
  return health;
}

// The health of the integrations the outcomes touch is loaded, the batch applied to it
// (store/health.h), and both written back. An outcome applies only while its claim holds (the
// lease token matches). Its attempt is kept either way, as a record of what was sent, but a stale
// one never replaces the record of the holder's attempt with the same number. A retry, or a
// release, of a delivery whose integration was deleted meanwhile ends it: cancelled, as the
// delete cancelled its waiting siblings.
Status SqliteStore::RecordOnWriter(const std::vector<DeliveryOutcome>& given, int64_t now,
                                   const HealthPolicy& policy, std::vector<HealthReport>* health) {
  health->clear();
  std::map<std::string, HealthSnapshot> current;
  if (auto subjects = HealthSubjects(given); !subjects.empty()) {
    std::string sql = std::string(kLoadHealthSql) + "IN (";
    for (size_t i = 0; i < subjects.size(); ++i) sql += i ? ",?" : "?";
    sql += ")";
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(sql));
    int i = 1;
    for (const auto& id : subjects) stmt->Bind(i++, id);
    while (true) {
      RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      current[stmt->ColumnText(0)] = {stmt->ColumnText(1), stmt->ColumnInt(2) != 0,
                                      ReadHealth(*stmt, 3)};
    }
  }
  HealthEffects effects = ApplyHealth(given, current, policy, now);
  std::set<int64_t> lanes;  // the lanes the held outcomes touch
  for (const auto& o : effects.outcomes) {
    bool held = false;
    {
      RELAY_ASSIGN_OR_RETURN(
          auto stmt,
          db_->Prepare("UPDATE deliveries SET status = CASE WHEN ?1 = 'pending' AND (SELECT "
                       "deleted_at FROM integrations i WHERE i.id = deliveries.integration_id) IS "
                       "NOT NULL THEN 'cancelled' ELSE ?1 END, next_attempt_at = ?, attempt_count "
                       "= attempt_count + ?, cycle_start = cycle_start + ?, lease_until = NULL, "
                       "lease_token = NULL, updated_at = ? WHERE seq = ? AND status = 'in_flight' "
                       "AND lease_token = ? RETURNING lane_id"));
      stmt->Bind(1, DeliveryStatusName(o.status)).Bind(2, o.next_attempt_at);
      stmt->Bind(3, int64_t{o.attempt ? 1 : 0}).Bind(4, int64_t{o.uncounted ? 1 : 0});
      stmt->Bind(5, now).Bind(6, o.seq).Bind(7, o.lease_token);
      RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (row) {
        held = true;
        lanes.insert(stmt->ColumnInt(0));
        RELAY_RETURN_IF_ERROR(stmt->Run());
      }
    }
    if (!o.attempt) continue;
    const AttemptRow& a = *o.attempt;
    RELAY_ASSIGN_OR_RETURN(
        auto stmt, db_->Prepare(std::string(held ? "INSERT OR REPLACE" : "INSERT OR IGNORE") +
                                " INTO delivery_attempts (delivery_seq, attempt, started_at, "
                                "duration_ms, http_status, error, response_body) VALUES (?, ?, ?, "
                                "?, ?, ?, ?)"));
    stmt->Bind(1, o.seq).Bind(2, a.attempt).Bind(3, a.started_at).Bind(4, a.duration_ms);
    if (a.http_status) {
      stmt->Bind(5, int64_t{*a.http_status});
    } else {
      stmt->BindNull(5);
    }
    if (a.error.empty()) {
      stmt->BindNull(6);
    } else {
      stmt->Bind(6, a.error);
    }
    stmt->Bind(7, a.response_body);
    RELAY_RETURN_IF_ERROR(stmt->Run());
  }
  for (const auto& r : effects.reports) {
    if (!effects.write) break;
    const IntegrationHealthRow& h = r.health;
    RELAY_ASSIGN_OR_RETURN(
        auto stmt,
        db_->Prepare("UPDATE integration_health SET consecutive_failures = ?, last_success_at = "
                     "?, last_failure_at = ?, failing_since = ?, open_until = ?, cooldown_ms = ?, "
                     "disabled_reason = ? WHERE integration_id = ?"));
    stmt->Bind(1, h.consecutive_failures);
    int i = 2;
    for (const auto& t : {h.last_success_at, h.last_failure_at, h.failing_since, h.open_until}) {
      if (t) {
        stmt->Bind(i++, *t);
      } else {
        stmt->BindNull(i++);
      }
    }
    stmt->Bind(6, h.cooldown_ms);
    if (h.disabled_reason.empty()) {
      stmt->BindNull(7);
    } else {
      stmt->Bind(7, h.disabled_reason);
    }
    stmt->Bind(8, r.integration_id);
    RELAY_RETURN_IF_ERROR(stmt->Run());
  }
  for (const auto& id : effects.disabled) {
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kDisableIntegrationSql));
    stmt->Bind(1, now).Bind(2, id);
    RELAY_RETURN_IF_ERROR(stmt->Run());
  }
  RELAY_RETURN_IF_ERROR(RefreshLanesOnWriter(lanes));
  *health = std::move(effects.reports);
  return Status::Ok();
}

Result<int64_t> SqliteStore::RenewLeases(const std::vector<HeldLease>& held, int64_t lease_until) {
  int64_t renewed = 0;
  if (held.empty()) return renewed;
  Status s = RunInBatch(
      [&]() -> Status {
        renewed = 0;
        std::set<std::pair<int64_t, int64_t>> lanes;
        for (const auto& h : held) {
          RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kRenewLeaseSql));
          stmt->Bind(1, lease_until).Bind(2, h.seq).Bind(3, h.lease_token);
          RELAY_RETURN_IF_ERROR(stmt->Run());
          renewed += db_->Changes();
          if (h.lane_id) lanes.insert({h.lane_id, h.lease_token});
        }
        for (const auto& [lane, token] : lanes) {
          RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kRenewLaneSql));
          stmt->Bind(1, lease_until).Bind(2, lane).Bind(3, token);
          RELAY_RETURN_IF_ERROR(stmt->Run());
        }
        return Status::Ok();
      },
      /*durable=*/false);  // one process owns the file: a forgotten renewal costs nothing
  if (!s.ok()) return s;
  return renewed;
}

Status SqliteStore::ReleaseAllClaims(int64_t now) {
  std::lock_guard<std::mutex> lock(mu_);
  RELAY_ASSIGN_OR_RETURN(
      auto stmt, db_->Prepare("UPDATE deliveries SET status = CASE WHEN EXISTS (SELECT 1 FROM "
                              "integrations i WHERE i.id = deliveries.integration_id AND "
                              "i.deleted_at IS NOT NULL) THEN 'cancelled' ELSE 'pending' END, "
                              "lease_until = NULL, lease_token = NULL, next_attempt_at = "
                              "min(next_attempt_at, ?) WHERE status = 'in_flight'"));
  stmt->Bind(1, now);
  RELAY_RETURN_IF_ERROR(stmt->Run());
  // Every lane is ready again; each integration's due time is its earliest lane's.
  return InTransaction(*db_, [&]() -> Status {
    RELAY_ASSIGN_OR_RETURN(
        auto lanes, db_->Prepare("UPDATE lanes SET state = 'ready', due_at = min(due_at, ?), "
                                 "lease_until = NULL, lease_token = NULL WHERE state = "
                                 "'in_flight'"));
    lanes->Bind(1, now);
    RELAY_RETURN_IF_ERROR(lanes->Run());
    return db_->Exec(
        "UPDATE integration_health SET next_due_at = (SELECT min(l.due_at) FROM lanes l WHERE "
        "l.integration_id = integration_health.integration_id AND l.state = 'ready')");
  });
}

Result<DeliveryRow> SqliteStore::RequeueDelivery(const std::string& org,
                                                 const std::string& integration_id,
                                                 const std::string& id, int64_t now) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    Status s = InTransaction(*db_, [&]() -> Status {
      std::string status;
      {
        RELAY_ASSIGN_OR_RETURN(
            auto stmt, db_->Prepare("SELECT status, erased_at IS NOT NULL FROM deliveries WHERE "
                                    "organization_id = ? AND integration_id = ? AND id = ?"));
        stmt->Bind(1, org).Bind(2, integration_id).Bind(3, id);
        RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
        if (!row) return NotFound("delivery not found: " + id);
        status = stmt->ColumnText(0);
        if (stmt->ColumnInt(1) != 0) {
          return FailedPrecondition("delivery " + id + " was erased with its user");
        }
      }
      if (status == "in_flight") {
        return FailedPrecondition("delivery " + id + " is being sent right now");
      }
      if (status == "cancelled") {
        return FailedPrecondition("delivery " + id + " was cancelled with its integration");
      }
      int64_t seq = 0;
      {
        RELAY_ASSIGN_OR_RETURN(auto stmt,
                               db_->Prepare(std::string(kRequeueOneSql) + " RETURNING seq"));
        stmt->Bind(1, now).Bind(2, now).Bind(3, org).Bind(4, integration_id).Bind(5, id);
        RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
        if (row) seq = stmt->ColumnInt(0);
        RELAY_RETURN_IF_ERROR(stmt->Run());
      }
      // A pending one is already in its lane.
      if (status != "pending") RELAY_RETURN_IF_ERROR(JoinLaneOnWriter(seq));
      return Status::Ok();
    });
    if (!s.ok()) return s;
  }
  RELAY_ASSIGN_OR_RETURN(auto row, GetDelivery(org, integration_id, id));
  if (!row) return NotFound("delivery not found: " + id);
  return std::move(*row);
}

Result<int64_t> SqliteStore::RequeueDeliveries(const std::string& org,
                                               const std::string& integration_id,
                                               const ReplayFilter& filter, int64_t now, int batch) {
  const std::string sql = RequeueBatchSql(filter.since.has_value(), filter.until.has_value(), "");
  int64_t total = 0;
  int64_t after = 0;
  while (true) {
    // One short transaction per batch, so the dispatcher and the API keep going meanwhile.
    std::lock_guard<std::mutex> lock(mu_);
    int64_t changed = 0;
    Status s = InTransaction(*db_, [&]() -> Status {
      std::vector<int64_t> seqs;
      {
        RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(sql));
        int i = 1;
        stmt->Bind(i++, now);
        stmt->Bind(i++, now);
        stmt->Bind(i++, integration_id);
        stmt->Bind(i++, org);
        stmt->Bind(i++, DeliveryStatusName(filter.status));
        stmt->Bind(i++, after);
        if (filter.since) stmt->Bind(i++, *filter.since);
        if (filter.until) stmt->Bind(i++, *filter.until);
        stmt->Bind(i++, int64_t{batch});
        while (true) {
          RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
          if (!row) break;
          seqs.push_back(stmt->ColumnInt(0));
          after = std::max(after, seqs.back());
          ++changed;
        }
      }
      // Finished ones join their lanes again (pending ones are in theirs).
      if (filter.status != DeliveryStatus::kPending) {
        for (int64_t seq : seqs) RELAY_RETURN_IF_ERROR(JoinLaneOnWriter(seq));
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    total += changed;
    if (filter.on_batch) filter.on_batch(total);
    if (changed < batch) return total;
  }
}

Result<int64_t> SqliteStore::PurgeDeliveries(DeliveryStatus status, int64_t before, int batch) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t purged = 0;
  Status s = InTransaction(*db_, [&]() -> Status {
    RELAY_RETURN_IF_ERROR(
        db_->Exec("CREATE TEMP TABLE IF NOT EXISTS purge (seq INTEGER, "
                  "message_seq INTEGER)"));
    RELAY_RETURN_IF_ERROR(db_->Exec("DELETE FROM temp.purge"));
    {
      RELAY_ASSIGN_OR_RETURN(
          auto stmt, db_->Prepare("INSERT INTO temp.purge SELECT seq, message_seq FROM deliveries "
                                  "WHERE status = ? AND updated_at < ? LIMIT ?"));
      stmt->Bind(1, DeliveryStatusName(status)).Bind(2, before).Bind(3, int64_t{batch});
      RELAY_RETURN_IF_ERROR(stmt->Run());
      purged = db_->Changes();
    }
    if (purged == 0) return Status::Ok();
    RELAY_RETURN_IF_ERROR(db_->Exec(
        "DELETE FROM delivery_attempts WHERE delivery_seq IN (SELECT seq FROM temp.purge)"));
    RELAY_RETURN_IF_ERROR(
        db_->Exec("DELETE FROM deliveries WHERE seq IN (SELECT seq FROM temp.purge)"));
    return db_->Exec(
        "DELETE FROM messages WHERE seq IN (SELECT DISTINCT message_seq FROM temp.purge) AND "
        "NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_seq = messages.seq)");
  });
  if (!s.ok()) return s;
  return purged;
}

Result<int64_t> SqliteStore::EraseFinished(int64_t now) {
  std::vector<std::pair<std::string, std::string>> erasures;
  {
    auto reader = BorrowReader();
    RELAY_ASSIGN_OR_RETURN(auto stmt,
                           reader->Prepare("SELECT organization_id, user_id FROM erasures"));
    while (true) {
      RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      erasures.emplace_back(stmt->ColumnText(0), stmt->ColumnText(1));
    }
  }
  int64_t erased = 0;
  for (const auto& [org, user] : erasures) {
    // One user per transaction: an erasure of a busy user never holds the writer long.
    Status s = RunInBatch([&, org = org, user = user]() -> Status {
      {
        RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kCancelErasedOfDisabledSql));
        stmt->Bind(1, now).Bind(2, org).Bind(3, user);
        RELAY_RETURN_IF_ERROR(stmt->Run());
      }
      {
        RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kDeleteEmptyLanesOfDisabledSql));
        stmt->Bind(1, org);
        RELAY_RETURN_IF_ERROR(stmt->Run());
      }
      {
        RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kEraseDeliveriesSql));
        stmt->Bind(1, now).Bind(2, org).Bind(3, user);
        RELAY_RETURN_IF_ERROR(stmt->Run());
        erased += db_->Changes();
      }
      for (const char* sql : {kEraseAttemptsSql, kEraseMessagesSql, kEraseDoneSql}) {
        RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(sql));
        stmt->Bind(1, org).Bind(2, user);
        RELAY_RETURN_IF_ERROR(stmt->Run());
      }
      return Status::Ok();
    });
    RELAY_RETURN_IF_ERROR(s);
  }
  return erased;
}

Result<int64_t> SqliteStore::CancelDeletedBacklog(int64_t now, int lanes) {
  int64_t emptied = 0;
  RELAY_RETURN_IF_ERROR(RunInBatch([&]() -> Status {
    std::vector<int64_t> chunk;
    {
      RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kDeletedLanesChunkSql));
      stmt->Bind(1, static_cast<int64_t>(lanes));
      while (true) {
        RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
        if (!row) break;
        chunk.push_back(stmt->ColumnInt(0));
      }
    }
    RELAY_ASSIGN_OR_RETURN(
        auto cancel, db_->Prepare("UPDATE deliveries SET status = 'cancelled', updated_at = ?1 "
                                  "WHERE lane_id = ?2 AND status IN ('pending', 'in_flight') AND "
                                  "status = 'pending'"));
    RELAY_ASSIGN_OR_RETURN(auto drop, db_->Prepare("DELETE FROM lanes WHERE lane_id = ?"));
    for (int64_t lane : chunk) {
      cancel->Reset();
      cancel->Bind(1, now).Bind(2, lane);
      RELAY_RETURN_IF_ERROR(cancel->Run());
      drop->Reset();
      drop->Bind(1, lane);
      RELAY_RETURN_IF_ERROR(drop->Run());
    }
    emptied = static_cast<int64_t>(chunk.size());
    return Status::Ok();
  }));
  return emptied;
}

Status SqliteStore::PurgeExpiredRecords(int64_t before) {
  return RunInBatch([&]() -> Status {
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kPurgeIdempotencyKeysSql));
    stmt->Bind(1, before);
    return stmt->Run();
  });
}

Result<DeliveryCounts> SqliteStore::CountDeliveries() {
  auto db_ = BorrowReader();
  DeliveryCounts counts;
  RELAY_ASSIGN_OR_RETURN(
      auto stmt, db_->Prepare("SELECT (SELECT count(*) FROM deliveries WHERE status = "
                              "'pending'), (SELECT count(*) FROM deliveries WHERE status = "
                              "'in_flight'), (SELECT count(*) FROM deliveries WHERE status = "
                              "'dead')"));
  RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (row) {
    counts.pending = stmt->ColumnInt(0);
    counts.in_flight = stmt->ColumnInt(1);
    counts.dead = stmt->ColumnInt(2);
  }
  return counts;
}

}  // namespace relay::store
