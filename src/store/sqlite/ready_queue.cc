// The OutboxStore role on SQLite, its ready queue (shared_sql.h, "the ready queue"): claims by
// lane, the lanes' bookkeeping after outcomes, and re-queued deliveries joining their lanes.
#include <algorithm>
#include <set>

#include "store/shared_sql.h"
#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/sqlite_store.h"

namespace relay::store {

namespace {

// What a claim hands out: the deliveries claimed under one lease.
constexpr char kClaimedDeliveriesSql[] =
    "SELECT d.seq, d.id, d.organization_id, d.integration_id, i.version, m.id, d.type, "
    "coalesce(d.payload, m.payload), d.attempt_count, d.attempt_count - d.cycle_start, "
    "m.created_at, coalesce(m.traceparent, ''), d.lane_id FROM deliveries d JOIN messages m ON "
    "m.seq = d.message_seq JOIN integrations i ON i.id = d.integration_id WHERE d.status = "
    "'in_flight' AND d.lease_until = ? AND d.lease_token = ? ORDER BY d.lane_id, d.sequence";

// The lane's deliveries claimed in order, from its head: lease_until, token, lane, depth.
constexpr char kClaimLaneDeliveriesSql[] =
    "UPDATE deliveries SET status = 'in_flight', lease_until = ?1, lease_token = ?2 WHERE seq IN "
    "(SELECT seq FROM deliveries WHERE lane_id = ?3 AND status IN ('pending', 'in_flight') AND "
    "status = 'pending' ORDER BY sequence "
    "LIMIT ?4)";
// Each statement on deliveries by lane repeats the lane index's condition, status IN ('pending',
// 'in_flight'), so that SQLite sees it may use that partial index.

// A lane taken by a claim: lease_until, token, lane.
constexpr char kMarkLaneSql[] =
    "UPDATE lanes SET state = 'in_flight', lease_until = ?1, lease_token = ?2 WHERE lane_id = ?3";
// One integration's due ready lanes, oldest first: integration, now, limit (lanes_due).
constexpr char kDueLanesSql[] =
    "SELECT lane_id FROM lanes WHERE integration_id = ?1 AND state = 'ready' AND due_at <= ?2 "
    "ORDER BY due_at LIMIT ?3";
// The integrations that can send and have due work, earliest first: now, limit
// (integration_health_due).
constexpr char kDueIntegrationsSql[] =
    "SELECT h.integration_id FROM integration_health h JOIN integrations i ON i.id = "
    "h.integration_id WHERE h.open_until IS NULL AND h.next_due_at IS NOT NULL AND h.next_due_at "
    "<= ?1 AND i.enabled = 1 AND i.deleted_at IS NULL ORDER BY h.next_due_at LIMIT ?2";
// Disabled or deleted integrations leave the due set: now.
constexpr char kIdleHeldIntegrationsSql[] =
    "UPDATE integration_health SET next_due_at = NULL WHERE open_until IS NULL AND next_due_at IS "
    "NOT NULL AND next_due_at <= ?1 AND integration_id IN (SELECT id FROM integrations WHERE "
    "enabled = 0 OR deleted_at IS NOT NULL)";
// Breakers whose open period is over, of integrations that may send: now.
constexpr char kHalfOpenSql[] =
    "SELECT h.integration_id FROM integration_health h JOIN integrations i ON i.id = "
    "h.integration_id WHERE h.open_until IS NOT NULL AND h.open_until <= ?1 AND i.enabled = 1 AND "
    "i.deleted_at IS NULL";
// A lane whose holder still sends: lane.
constexpr char kLaneBusySql[] =
    "SELECT 1 FROM deliveries WHERE lane_id = ?1 AND status IN ('pending', 'in_flight') AND "
    "status = 'in_flight' LIMIT 1";
// A lane's head, its first unfinished delivery: when it is due. Takes the lane.
constexpr char kLaneHeadDueSql[] =
    "SELECT next_attempt_at FROM deliveries WHERE lane_id = ?1 AND status IN ('pending', "
    "'in_flight') AND status = 'pending' ORDER BY sequence LIMIT 1";
// A lane ready again, due at its head's time: due, lane.
constexpr char kLaneReadySql[] =
    "UPDATE lanes SET state = 'ready', due_at = ?1, lease_until = NULL, lease_token = NULL WHERE "
    "lane_id = ?2 RETURNING integration_id";
// Where a re-queued delivery goes: its integration, user, the integration's ordering, due.
constexpr char kRequeuedDeliverySql[] =
    "SELECT d.integration_id, d.ordering_key, coalesce(json_extract(i.properties, "
    "'$.ordering'), 'per_user'), d.next_attempt_at FROM deliveries d JOIN integrations i ON i.id = "
    "d.integration_id WHERE d.seq = ?1 AND d.status = 'pending'";

}  // namespace

Result<std::vector<ClaimedDelivery>> SqliteStore::ClaimDeliveries(const ClaimRequest& request) {
  std::vector<ClaimedDelivery> claimed;
  if (request.limit <= 0) return claimed;
  // Claims do not wait for fsync (see RunInBatch): a forgotten claim is claimed again.
  Status s = RunInBatch([&]() { return ClaimOnWriter(request, &claimed); }, /*durable=*/false);
  if (!s.ok()) return s;
  return claimed;
}

Result<int64_t> SqliteStore::MeasureClaim(const ClaimRequest& request) {
  int64_t steps = -1;
  // The closure's error rolls back its savepoint alone: the claim is undone.
  Status s = RunInBatch(
      [&]() -> Status {
        std::vector<ClaimedDelivery> claimed;
        const int64_t before = db_->VmSteps();
        RELAY_RETURN_IF_ERROR(ClaimOnWriter(request, &claimed));
        steps = db_->VmSteps() - before;
        return FailedPrecondition("measured, undone");
      },
      /*durable=*/false);
  if (steps < 0) return s;
  return steps;
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

// The claim reads the integrations that have due work and can send (integration_health_due:
// breaker closed, due), then at most its batch of their ready lanes (lanes_due), oldest due first,
// and marks each lane and up to `lane_depth` of its deliveries, from its head, in flight. It never
// visits a follower, a finished delivery, or a lane of an integration that cannot send.
Status SqliteStore::ClaimOnWriter(const ClaimRequest& request, std::vector<ClaimedDelivery>* out) {
  std::vector<ClaimedDelivery>& claimed = *out;
  claimed.clear();
  if (request.limit <= 0) return Status::Ok();
  const int64_t now = request.now;
  {
    std::set<std::string> expired;
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kExpireLanesSql));
    stmt->Bind(1, now);
    while (true) {
      RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      expired.insert(stmt->ColumnText(0));
    }
    for (const auto& id : expired) RELAY_RETURN_IF_ERROR(MarkIntegrationDue(id, now));
  }
  {
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kExpireLeasesSql));
    stmt->Bind(1, now);
    RELAY_RETURN_IF_ERROR(stmt->Run());
  }
  {
    // Integrations disabled or deleted leave the due set (enabling one puts it back).
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kIdleHeldIntegrationsSql));
    stmt->Bind(1, now);
    RELAY_RETURN_IF_ERROR(stmt->Run());
  }
  int64_t lanes_taken = 0;
  std::set<int64_t> probes;
  // Marks one lane and its first deliveries in flight; false when it had none left to send.
  auto take_lane = [&](int64_t lane_id, int depth) -> Result<bool> {
    {
      RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kMarkLaneSql));
      stmt->Bind(1, request.lease_until).Bind(2, request.lease_token).Bind(3, lane_id);
      RELAY_RETURN_IF_ERROR(stmt->Run());
    }
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kClaimLaneDeliveriesSql));
    stmt->Bind(1, request.lease_until).Bind(2, request.lease_token).Bind(3, lane_id);
    stmt->Bind(4, int64_t{std::max(1, depth)});
    RELAY_RETURN_IF_ERROR(stmt->Run());
    if (db_->Changes() > 0) return true;
    RELAY_RETURN_IF_ERROR(RefreshLanesOnWriter({lane_id}));
    return false;
  };
  // The ready lanes of one integration that are due, oldest first (and one more: when it is due
  // later, the integration's next due time).
  auto due_lanes = [&](const std::string& integration,
                       int64_t limit) -> Result<std::vector<int64_t>> {
    std::vector<int64_t> lanes;
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kDueLanesSql));
    stmt->Bind(1, integration).Bind(2, now).Bind(3, limit);
    while (true) {
      RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      lanes.push_back(stmt->ColumnInt(0));
    }
    return lanes;
  };
  // Breakers whose open period is over: one probe each (one delivery of its oldest due lane), and
  // the breaker stays open until the probe's outcome (or its lease's end).
  std::vector<std::string> half_open;
  {
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kHalfOpenSql));
    stmt->Bind(1, now);
    while (true) {
      RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      half_open.push_back(stmt->ColumnText(0));
    }
  }
  for (const auto& integration : half_open) {
    if (lanes_taken >= request.limit) break;
    RELAY_ASSIGN_OR_RETURN(auto lanes, due_lanes(integration, 1));
    if (lanes.empty()) continue;
    RELAY_ASSIGN_OR_RETURN(bool taken, take_lane(lanes[0], 1));
    if (!taken) continue;
    ++lanes_taken;
    probes.insert(lanes[0]);
    RELAY_ASSIGN_OR_RETURN(
        auto stmt,
        db_->Prepare("UPDATE integration_health SET open_until = ? WHERE integration_id = ?"));
    stmt->Bind(1, request.lease_until).Bind(2, integration);
    RELAY_RETURN_IF_ERROR(stmt->Run());
  }
  // The integrations that can send and have due work, earliest first, less those excluded.
  std::vector<std::string> integrations;
  {
    const std::set<std::string> excluded(request.excluded_integrations.begin(),
                                         request.excluded_integrations.end());
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kDueIntegrationsSql));
    stmt->Bind(1, now).Bind(2, request.limit + static_cast<int64_t>(excluded.size()));
    while (true) {
      RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      std::string id = stmt->ColumnText(0);
      if (!excluded.count(id)) integrations.push_back(std::move(id));
    }
  }
  // Each integration gets its share of the batch; what one cannot use goes to the others.
  std::set<std::string> touched;
  for (int pass = 0; pass < 2 && lanes_taken < request.limit && !integrations.empty(); ++pass) {
    std::vector<std::string> more;
    const int64_t share = std::max<int64_t>(
        1, (request.limit - lanes_taken + static_cast<int64_t>(integrations.size()) - 1) /
               static_cast<int64_t>(integrations.size()));
    for (const auto& integration : integrations) {
      const int64_t room = std::min(share, request.limit - lanes_taken);
      if (room <= 0) break;
      RELAY_ASSIGN_OR_RETURN(auto lanes, due_lanes(integration, room));
      for (int64_t lane : lanes) {
        RELAY_ASSIGN_OR_RETURN(bool taken, take_lane(lane, request.lane_depth));
        if (taken) ++lanes_taken;
      }
      touched.insert(integration);
      if (static_cast<int64_t>(lanes.size()) == room) more.push_back(integration);
    }
    integrations = std::move(more);
  }
  for (const auto& integration : touched) {
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kRecomputeIntegrationDueSql));
    stmt->Bind(1, integration);
    RELAY_RETURN_IF_ERROR(stmt->Run());
  }
  if (lanes_taken == 0) return Status::Ok();
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
    c.traceparent = stmt->ColumnText(11);
    c.lane_id = stmt->ColumnInt(12);
    c.probe = probes.count(c.lane_id) > 0;
    claimed.push_back(std::move(c));
  }
  return Status::Ok();
}

Status SqliteStore::MarkIntegrationDue(const std::string& integration, int64_t due) {
  RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kIntegrationDueSql));
  stmt->Bind(1, integration).Bind(2, due);
  return stmt->Run();
}

// After outcomes (or a claim that found a lane empty): a lane whose holder still has deliveries in
// flight stays held; otherwise it is ready again, due at its head's time (the next follower: due
// now after a success), or gone when nothing is left (one writer: nothing can be joining it).
Status SqliteStore::RefreshLanesOnWriter(const std::set<int64_t>& lanes) {
  for (int64_t lane : lanes) {
    {
      RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kLaneBusySql));
      stmt->Bind(1, lane);
      RELAY_ASSIGN_OR_RETURN(bool busy, stmt->Step());
      if (busy) continue;
    }
    std::optional<int64_t> head_due;
    {
      RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kLaneHeadDueSql));
      stmt->Bind(1, lane);
      RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (row) head_due = stmt->ColumnInt(0);
    }
    if (!head_due) {
      // One writer: nothing unfinished is left of it.
      RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("DELETE FROM lanes WHERE lane_id = ?"));
      stmt->Bind(1, lane);
      RELAY_RETURN_IF_ERROR(stmt->Run());
      continue;
    }
    std::string integration;
    {
      RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kLaneReadySql));
      stmt->Bind(1, *head_due).Bind(2, lane);
      RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) continue;
      integration = stmt->ColumnText(0);
      RELAY_RETURN_IF_ERROR(stmt->Run());
    }
    RELAY_RETURN_IF_ERROR(MarkIntegrationDue(integration, *head_due));
  }
  return Status::Ok();
}

// A delivery put back in the queue (replay, retry by hand) joins a lane as its integration orders
// now: its user's, or one of its own.
Status SqliteStore::JoinLaneOnWriter(int64_t seq) {
  std::string integration, key;
  bool unordered = false;
  int64_t due = 0;
  {
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kRequeuedDeliverySql));
    stmt->Bind(1, seq);
    RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return Status::Ok();
    integration = stmt->ColumnText(0);
    key = stmt->ColumnText(1);
    unordered = stmt->ColumnText(2) == "none";
    due = stmt->ColumnInt(3);
  }
  int64_t lane_id = 0;
  bool created = false;
  {
    RELAY_ASSIGN_OR_RETURN(auto stmt,
                           db_->Prepare(unordered ? kInsertSoloLaneSql : kUpsertLaneSql));
    stmt->Bind(1, integration).Bind(3, due);
    if (unordered) {
      stmt->BindNull(2);
    } else {
      stmt->Bind(2, key);
    }
    RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return Internal("a lane upsert returned nothing");
    lane_id = stmt->ColumnInt(0);
    created = stmt->ColumnInt(1) == 1;
    RELAY_RETURN_IF_ERROR(stmt->Run());
  }
  {
    RELAY_ASSIGN_OR_RETURN(auto stmt,
                           db_->Prepare("UPDATE deliveries SET lane_id = ? WHERE seq = ?"));
    stmt->Bind(1, lane_id).Bind(2, seq);
    RELAY_RETURN_IF_ERROR(stmt->Run());
  }
  if (!created) {
    // A replayed delivery older than the lane's head becomes its head: due as early as it is.
    RELAY_ASSIGN_OR_RETURN(
        auto stmt, db_->Prepare("UPDATE lanes SET due_at = ?1 WHERE lane_id = ?2 AND state = "
                                "'ready' AND due_at > ?1"));
    stmt->Bind(1, due).Bind(2, lane_id);
    RELAY_RETURN_IF_ERROR(stmt->Run());
  }
  return MarkIntegrationDue(integration, due);
}

}  // namespace relay::store
