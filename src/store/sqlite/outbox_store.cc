// The OutboxStore role on SQLite: deliveries as the API shows them, claims with leases, outcomes
// in batches, re-queues, retention, erasure and counts.
#include <chrono>
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

// Per-user ordering: a delivery is claimable only at the head of its lane (integration, user),
// when no older delivery of the lane is waiting or in flight. A dead one no longer holds the lane.
// Integrations with ordering "none" skip the test. (The PostgreSQL store's twin differs only in
// how it reads the JSON.)
constexpr char kLaneHeadSql[] =
    "(coalesce(json_extract(i.properties, '$.ordering'), 'per_user') = 'none' OR NOT EXISTS "
    "(SELECT 1 FROM deliveries e WHERE e.integration_id = d.integration_id AND e.ordering_key = "
    "d.ordering_key AND e.status IN ('pending', 'in_flight') AND e.sequence < d.sequence))";

// A lane's head failed and waits for its retry at ?1: the deliveries behind it (?2 = the head's
// seq) wait at least as long, so that claims do not scan them again and again while the head
// holds the lane (during an endpoint's outage that is every delivery of the integration).
constexpr char kHoldLaneBehindHeadSql[] =
    "UPDATE deliveries SET next_attempt_at = ?1 WHERE status IN ('pending', 'in_flight') AND "
    "status = 'pending' AND next_attempt_at < ?1 AND integration_id = (SELECT integration_id FROM "
    "deliveries WHERE seq = ?2) AND ordering_key = (SELECT ordering_key FROM deliveries WHERE seq "
    "= ?2) AND sequence > (SELECT sequence FROM deliveries WHERE seq = ?2) AND (SELECT "
    "coalesce(json_extract(properties, '$.ordering'), 'per_user') FROM integrations i WHERE i.id "
    "= deliveries.integration_id) <> 'none'";

// Claims leave out integrations whose breaker is open (a subquery computed once per claim).
constexpr char kBreakerClosedSql[] =
    "d.integration_id NOT IN (SELECT integration_id FROM integration_health WHERE open_until IS "
    "NOT NULL)";

// What a claim hands out: the deliveries claimed under one lease.
constexpr char kClaimedDeliveriesSql[] =
    "SELECT d.seq, d.id, d.organization_id, d.integration_id, i.version, m.id, d.type, "
    "coalesce(d.payload, m.payload), d.attempt_count, d.attempt_count - d.cycle_start, "
    "m.created_at, coalesce(m.traceparent, '') FROM deliveries d JOIN messages m ON m.seq = "
    "d.message_seq JOIN "
    "integrations i ON i.id = d.integration_id WHERE d.status = 'in_flight' AND d.lease_until "
    "= ? AND d.lease_token = ? ORDER BY d.next_attempt_at";

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
  auto result = SelectPage<DeliveryRow>(*db_, where, kDeliveryColumns, "d.seq DESC", text, ints,
                                        page, ReadDelivery);
  if (result.ok()) RELAY_RETURN_IF_ERROR(AttachAttempts(*db_, result->items));
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

Result<std::vector<ClaimedDelivery>> SqliteStore::ClaimDeliveries(const ClaimRequest& request) {
  std::vector<ClaimedDelivery> claimed;
  if (request.limit <= 0) return claimed;
  // Claims do not wait for fsync (see RunInBatch): a forgotten claim is claimed again.
  Status s = RunInBatch([&]() { return ClaimOnWriter(request, &claimed); }, /*durable=*/false);
  if (!s.ok()) return s;
  return claimed;
}

Result<RoundTripResult> SqliteStore::RecordAndClaim(const std::vector<DeliveryOutcome>& outcomes,
                                                    int64_t now, const HealthPolicy& policy,
                                                    const ClaimRequest& request) {
  RoundTripResult result;
  // Not durable (see RunInBatch): a forgotten outcome sends its delivery again.
  Status s = RunInBatch(
      [&]() -> Status {
        RELAY_RETURN_IF_ERROR(RecordOnWriter(outcomes, now, policy, &result.health));
        return ClaimOnWriter(request, &result.claimed);
      },
      /*durable=*/false);
  if (!s.ok()) return s;
  return result;
}

Status SqliteStore::ClaimOnWriter(const ClaimRequest& request, std::vector<ClaimedDelivery>* out) {
  std::vector<ClaimedDelivery>& claimed = *out;
  claimed.clear();
  if (request.limit <= 0) return Status::Ok();
  {
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kExpireLeasesSql));
    stmt->Bind(1, request.now);
    RELAY_RETURN_IF_ERROR(stmt->Run());
  }
  // The due deliveries, oldest due first: of one integration (a probe), or of every integration
  // whose breaker is closed, less those excluded.
  auto claim = [&](const std::string* probe_of, int64_t limit) -> Result<std::vector<int64_t>> {
    std::string sql =
        "UPDATE deliveries SET status = 'in_flight', lease_until = ?, lease_token = ? WHERE seq IN "
        "(SELECT d.seq FROM deliveries d JOIN integrations i ON i.id = d.integration_id "
        "WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND i.enabled = 1 AND "
        "i.deleted_at IS NULL AND " +
        std::string(kLaneHeadSql);
    if (probe_of) {
      sql += " AND d.integration_id = ?";
    } else {
      sql += std::string(" AND ") + kBreakerClosedSql;
      if (!request.excluded_integrations.empty()) {
        sql += " AND d.integration_id NOT IN (";
        for (size_t i = 0; i < request.excluded_integrations.size(); ++i) sql += i ? ",?" : "?";
        sql += ")";
      }
    }
    sql += " ORDER BY d.next_attempt_at LIMIT ?) RETURNING seq";
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(sql));
    int i = 1;
    stmt->Bind(i++, request.lease_until);
    stmt->Bind(i++, request.lease_token);
    stmt->Bind(i++, request.now);
    if (probe_of) {
      stmt->Bind(i++, *probe_of);
    } else {
      for (const auto& id : request.excluded_integrations) stmt->Bind(i++, id);
    }
    stmt->Bind(i++, limit);
    std::vector<int64_t> seqs;
    while (true) {
      RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      seqs.push_back(stmt->ColumnInt(0));
    }
    return seqs;
  };
  // Breakers whose open period is over: one probe each, and the breaker stays open until the
  // probe's outcome (or its lease's end).
  std::vector<std::string> half_open;
  {
    RELAY_ASSIGN_OR_RETURN(auto stmt,
                           db_->Prepare("SELECT integration_id FROM integration_health WHERE "
                                        "open_until IS NOT NULL AND open_until <= ?"));
    stmt->Bind(1, request.now);
    while (true) {
      RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      half_open.push_back(stmt->ColumnText(0));
    }
  }
  std::set<int64_t> probes;
  for (const auto& integration : half_open) {
    if (static_cast<int64_t>(probes.size()) >= request.limit) break;
    RELAY_ASSIGN_OR_RETURN(auto seqs, claim(&integration, 1));
    if (seqs.empty()) continue;
    probes.insert(seqs[0]);
    RELAY_ASSIGN_OR_RETURN(
        auto stmt,
        db_->Prepare("UPDATE integration_health SET open_until = ? WHERE integration_id = ?"));
    stmt->Bind(1, request.lease_until).Bind(2, integration);
    RELAY_RETURN_IF_ERROR(stmt->Run());
  }
  const int64_t rest = request.limit - static_cast<int64_t>(probes.size());
  size_t taken = probes.size();
  if (rest > 0) {
    RELAY_ASSIGN_OR_RETURN(auto seqs, claim(nullptr, rest));
    taken += seqs.size();
  }
  if (taken == 0) return Status::Ok();
  RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kClaimedDeliveriesSql));
  stmt->Bind(1, request.lease_until).Bind(2, request.lease_token);
  while (true) {
    RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    ClaimedDelivery c;
    c.seq = stmt->ColumnInt(0);
    c.id = stmt->ColumnText(1);
    c.organization_id = stmt->ColumnText(2);
    c.integration_id = stmt->ColumnText(3);
    c.integration_version = stmt->ColumnInt(4);
    c.message_id = stmt->ColumnText(5);
    c.type = stmt->ColumnText(6);
    c.payload = stmt->ColumnText(7);
    c.attempt_count = stmt->ColumnInt(8);
    c.cycle_attempts = stmt->ColumnInt(9);
    c.message_created_at = stmt->ColumnInt(10);
    c.lease_token = request.lease_token;
    c.probe = probes.count(c.seq) > 0;
    c.traceparent = stmt->ColumnText(11);
    claimed.push_back(std::move(c));
  }
  return Status::Ok();
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
                       "AND lease_token = ?"));
      stmt->Bind(1, DeliveryStatusName(o.status)).Bind(2, o.next_attempt_at);
      stmt->Bind(3, int64_t{o.attempt ? 1 : 0}).Bind(4, int64_t{o.uncounted ? 1 : 0});
      stmt->Bind(5, now).Bind(6, o.seq).Bind(7, o.lease_token);
      RELAY_RETURN_IF_ERROR(stmt->Run());
      held = db_->Changes() > 0;
    }
    if (held && o.attempt && o.status == DeliveryStatus::kPending) {
      RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kHoldLaneBehindHeadSql));
      stmt->Bind(1, o.next_attempt_at).Bind(2, o.seq);
      RELAY_RETURN_IF_ERROR(stmt->Run());
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
  *health = std::move(effects.reports);
  return Status::Ok();
}

Result<int64_t> SqliteStore::RenewLeases(const std::vector<HeldLease>& held, int64_t lease_until) {
  int64_t renewed = 0;
  if (held.empty()) return renewed;
  Status s = RunInBatch(
      [&]() -> Status {
        renewed = 0;
        for (const auto& h : held) {
          RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kRenewLeaseSql));
          stmt->Bind(1, lease_until).Bind(2, h.seq).Bind(3, h.lease_token);
          RELAY_RETURN_IF_ERROR(stmt->Run());
          renewed += db_->Changes();
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
  return stmt->Run();
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
      RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kRequeueOneSql));
      stmt->Bind(1, now).Bind(2, now).Bind(3, org).Bind(4, integration_id).Bind(5, id);
      return stmt->Run();
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
        after = std::max(after, stmt->ColumnInt(0));
        ++changed;
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
