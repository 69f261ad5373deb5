// The OutboxStore role on PostgreSQL: deliveries, outcomes, leases, re-queues, purges. The ready
// queue's claims are in ready_queue.cc.
#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include "common/clock.h"
#include "common/crypto.h"
#include "store/catching.h"
#include "store/health.h"
#include "store/postgres/pg_rows.h"
#include "store/postgres/pg_store.h"
#include "store/shared_sql.h"

namespace relay::store {

namespace {
// The lanes an outcome batch (or a claim that found them empty) touched, after they were locked:
// a lane whose holder still has deliveries in flight stays held; one with a pending head is ready
// again, due at the head's time; one with nothing left is removed. The integrations of the lanes
// made ready become due as early as them. Takes the lanes (bigint[]).
const std::string kRefreshLanesSql =
    "WITH st AS (SELECT l.lane_id, EXISTS (SELECT 1 FROM deliveries d WHERE d.lane_id = "
    "l.lane_id AND d.status = 'in_flight') AS busy, (SELECT d.next_attempt_at FROM deliveries d "
    "WHERE d.lane_id = l.lane_id AND d.status = 'pending' ORDER BY d.sequence LIMIT 1) AS head "
    "FROM lanes l WHERE l.lane_id = ANY(?1::bigint[])), "
    "gone AS (DELETE FROM lanes l USING st WHERE l.lane_id = st.lane_id AND NOT st.busy AND "
    "st.head IS NULL), "
    "rdy AS (UPDATE lanes l SET state = 'ready', due_at = st.head, lease_until = NULL, "
    "lease_token = NULL FROM st WHERE l.lane_id = st.lane_id AND NOT st.busy AND st.head IS NOT "
    "NULL RETURNING l.integration_id, l.due_at) "
    "UPDATE integration_health h SET next_due_at = m.due FROM (SELECT integration_id, "
    "min(due_at) AS due FROM rdy GROUP BY integration_id) m WHERE h.integration_id = "
    "m.integration_id AND (h.next_due_at IS NULL OR h.next_due_at > m.due)";

// A re-queued delivery joins a lane as its integration orders now: its user's, or one of its own.
// An older delivery re-queued into a ready lane becomes its head: the lane is due as early. Takes
// the delivery's seq.
const std::string kJoinLaneSql =
    "WITH r AS (SELECT d.integration_id, CASE WHEN coalesce(i.properties::json ->> 'ordering', "
    "'per_user') = 'none' THEN NULL ELSE d.ordering_key END AS key, d.next_attempt_at AS due FROM "
    "deliveries d JOIN integrations i ON i.id = d.integration_id WHERE d.seq = ?1 AND d.status = "
    "'pending'), "
    "lane AS (INSERT INTO lanes (integration_id, ordering_key, state, due_at, joined) SELECT "
    "integration_id, key, 'ready', due, 1 FROM r ON CONFLICT (integration_id, ordering_key) WHERE "
    "ordering_key IS NOT NULL DO UPDATE SET joined = lanes.joined + 1, due_at = CASE WHEN "
    "lanes.state = 'ready' THEN least(lanes.due_at, excluded.due_at) ELSE lanes.due_at END "
    "RETURNING lane_id, integration_id, due_at), "
    "upd AS (UPDATE deliveries SET lane_id = (SELECT lane_id FROM lane) WHERE seq = ?1) "
    "UPDATE integration_health h SET next_due_at = lane.due_at FROM lane WHERE h.integration_id "
    "= lane.integration_id AND (h.next_due_at IS NULL OR h.next_due_at > lane.due_at)";

// The health of the integrations an outcome batch touches (a text[] of ids): read first without a
// lock, then locked when the batch changes something (RecordOn).
const std::string kLoadHealthUnlockedSql =
    std::string(kLoadHealthSql) + "= ANY(?::text[]) ORDER BY h.integration_id";
const std::string kLoadHealthLockedSql = kLoadHealthUnlockedSql + " FOR UPDATE OF h";
}  // namespace
using namespace pg;  // NOLINT: the shared helpers of this directory

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
  if (!page.keyset) {
    auto result = SelectPage<DeliveryRow>(*db, where, kDeliveryColumns, "d.seq DESC",
                                          std::move(params), page, ReadDelivery);
    if (result.ok()) RELAY_RETURN_IF_ERROR(AttachAttempts(*db, result->items));
    return result;
  }
  // By the index on (integration_id, seq): the page's rows and one more, whatever precedes them.
  Page<DeliveryRow> result;
  int64_t after = std::numeric_limits<int64_t>::max();
  if (!page.after.empty()) {
    RELAY_ASSIGN_OR_RETURN(auto r, db->Query("SELECT seq FROM deliveries WHERE id = ? AND "
                                             "organization_id = ? AND integration_id = ?",
                                             {P(page.after), P(org), P(filter.integration_id)}));
    if (r.rows() == 0) return InvalidField("$cursor", "names no delivery of this integration");
    after = r.Int(0, 0);
  }
  params.push_back(P(after));
  params.push_back(P(page.limit + 1));
  RELAY_ASSIGN_OR_RETURN(auto r, db->Query(std::string("SELECT ") + kDeliveryColumns + " " + where +
                                               " AND d.seq < ? ORDER BY d.seq DESC LIMIT ?",
                                           params));
  for (int i = 0; i < r.rows(); ++i) result.items.push_back(ReadDelivery(r, i));
  if (static_cast<int64_t>(result.items.size()) > page.limit) {
    result.items.pop_back();
    result.more = true;
  }
  RELAY_RETURN_IF_ERROR(AttachAttempts(*db, result.items));
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

Result<std::optional<DeliveryScope>> PgStore::LocateDelivery(const std::string& id) {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  RELAY_ASSIGN_OR_RETURN(
      auto r,
      db->Query("SELECT organization_id, integration_id FROM deliveries WHERE id = ?", {P(id)}));
  if (r.rows() == 0) return std::optional<DeliveryScope>();
  return std::optional<DeliveryScope>(DeliveryScope{r.Text(0, 0), r.Text(0, 1)});
}

// --- the delivery engine ---------------------------------------------------------------------

// The health of the integrations the outcomes touch is loaded (locked: nodes recording outcomes
// of one integration take turns), the batch applied to it (store/health.h), and both written back.
Status PgStore::RecordOn(PgConn& db, const std::vector<DeliveryOutcome>& given, int64_t now,
                         const HealthPolicy& policy, std::vector<HealthReport>* health) {
  health->clear();
  if (given.empty()) return Status::Ok();
  const std::set<std::string> subjects = HealthSubjects(given);
  auto load = [&](const std::string& sql) -> Result<std::map<std::string, HealthSnapshot>> {
    std::map<std::string, HealthSnapshot> current;
    if (subjects.empty()) return current;
    RELAY_ASSIGN_OR_RETURN(
        auto r,
        db.Query(sql, {TextArray(std::vector<std::string>(subjects.begin(), subjects.end()))}));
    for (int i = 0; i < r.rows(); ++i) {
      current[r.Text(i, 0)] = {r.Text(i, 1), r.Int(i, 2) != 0, ReadHealth(r, i, 3)};
    }
    return current;
  };
  // Read first without a lock: a healthy endpoint's batch of successes changes nothing worth
  // writing, and then no node waits for another. Otherwise lock the rows (nodes recording
  // outcomes of one integration take turns) and apply the batch to them as they are.
  RELAY_ASSIGN_OR_RETURN(auto current, load(kLoadHealthUnlockedSql));
  HealthEffects effects = ApplyHealth(given, current, policy, now);
  if (effects.write) {
    RELAY_ASSIGN_OR_RETURN(current, load(kLoadHealthLockedSql));
    effects = ApplyHealth(given, current, policy, now);
  }
  const std::vector<DeliveryOutcome>& outcomes = effects.outcomes;
  // Two statements for the whole batch (arrays unnested on the server), not two per delivery:
  // each statement is a round trip.
  std::vector<int64_t> a_seq, a_attempt, a_started, a_duration, a_token;
  std::vector<std::optional<int64_t>> a_status;
  std::vector<std::optional<std::string>> a_error, a_body;
  std::vector<int64_t> o_seq, o_next, o_inc, o_token, o_uncounted;
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
    o_uncounted.push_back(o.uncounted ? 1 : 0);
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
  RELAY_ASSIGN_OR_RETURN(
      auto moved,
      db.Query("UPDATE deliveries d SET status = CASE WHEN o.status = 'pending' AND i.deleted_at "
               "IS NOT NULL THEN 'cancelled' ELSE o.status END, next_attempt_at = o.next, "
               "attempt_count = d.attempt_count + o.inc, cycle_start = d.cycle_start + o.unc, "
               "lease_until = NULL, lease_token = NULL, updated_at = ? FROM unnest(?::bigint[], "
               "?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[]) AS o(seq, status, "
               "next, inc, token, unc), integrations i WHERE d.seq = o.seq AND i.id = "
               "d.integration_id AND d.status = 'in_flight' AND d.lease_token = o.token "
               "RETURNING d.lane_id",
               {P(now), IntArray(o_seq), TextArray(o_status), IntArray(o_next), IntArray(o_inc),
                IntArray(o_token), IntArray(o_uncounted)}));
  // The lanes of the held outcomes: locked first (in one order, so two nodes never wait on each
  // other), which waits for any delivery joining one of them to commit; then each is held still,
  // ready again, or removed (kRefreshLanesSql).
  std::set<int64_t> lane_set;
  for (int i = 0; i < moved.rows(); ++i) {
    if (!moved.IsNull(i, 0)) lane_set.insert(moved.Int(i, 0));
  }
  if (!lane_set.empty()) {
    const std::vector<int64_t> lanes(lane_set.begin(), lane_set.end());
    RELAY_RETURN_IF_ERROR(db.Query("SELECT lane_id FROM lanes WHERE lane_id = ANY(?::bigint[]) "
                                   "ORDER BY lane_id FOR UPDATE",
                                   {IntArray(lanes)})
                              .status());
    RELAY_RETURN_IF_ERROR(RefreshLanesOn(db, lanes));
  }
  if (effects.write && !effects.reports.empty()) {
    std::vector<std::string> ids;
    std::vector<int64_t> failures, cooldown;
    std::vector<std::optional<int64_t>> success_at, failure_at, failing_since, open_until;
    std::vector<std::optional<std::string>> reason;
    for (const auto& r : effects.reports) {
      ids.push_back(r.integration_id);
      failures.push_back(r.health.consecutive_failures);
      success_at.push_back(r.health.last_success_at);
      failure_at.push_back(r.health.last_failure_at);
      failing_since.push_back(r.health.failing_since);
      open_until.push_back(r.health.open_until);
      cooldown.push_back(r.health.cooldown_ms);
      reason.push_back(r.health.disabled_reason.empty()
                           ? std::nullopt
                           : std::optional<std::string>(r.health.disabled_reason));
    }
    RELAY_RETURN_IF_ERROR(
        db.Query("UPDATE integration_health h SET consecutive_failures = u.failures, "
                 "last_success_at = u.success_at, last_failure_at = u.failure_at, failing_since "
                 "= u.failing_since, open_until = u.open_until, cooldown_ms = u.cooldown, "
                 "disabled_reason = u.reason FROM unnest(?::text[], ?::bigint[], ?::bigint[], "
                 "?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::text[]) AS u(id, "
                 "failures, success_at, failure_at, failing_since, open_until, cooldown, reason) "
                 "WHERE h.integration_id = u.id",
                 {TextArray(ids), IntArray(failures), IntArray(success_at), IntArray(failure_at),
                  IntArray(failing_since), IntArray(open_until), IntArray(cooldown),
                  TextArray(reason)})
            .status());
  }
  for (const auto& id : effects.disabled) {
    RELAY_RETURN_IF_ERROR(db.Query(kDisableIntegrationSql, {P(now), P(id)}).status());
  }
  *health = std::move(effects.reports);
  return Status::Ok();
}

Status PgStore::RefreshLanesOn(PgConn& db, const std::vector<int64_t>& lanes) {
  return db.Query(kRefreshLanesSql, {IntArray(lanes)}).status();
}

Result<std::vector<HealthReport>> PgStore::RecordOutcomes(
    const std::vector<DeliveryOutcome>& outcomes, int64_t now, const HealthPolicy& policy) {
  std::vector<HealthReport> health;
  if (outcomes.empty()) return health;
  RELAY_RETURN_IF_ERROR(
      InTransaction([&](PgConn& db) { return RecordOn(db, outcomes, now, policy, &health); }));
  return health;
}

Result<RoundTripResult> PgStore::RecordAndClaim(const std::vector<DeliveryOutcome>& outcomes,
                                                int64_t now, const HealthPolicy& policy,
                                                const ClaimRequest& request) {
  RoundTripResult result;
  RELAY_RETURN_IF_ERROR(InTransaction(
      [&](PgConn& db) -> Status {
        RELAY_RETURN_IF_ERROR(RecordOn(db, outcomes, now, policy, &result.health));
        return ClaimOn(db, request, &result.claimed);
      },
      "", /*durable=*/false));
  return result;
}

Result<int64_t> PgStore::RenewLeases(const std::vector<HeldLease>& held, int64_t lease_until) {
  int64_t renewed = 0;
  if (held.empty()) return renewed;
  std::vector<int64_t> seqs, tokens, lanes, lane_tokens;
  std::set<std::pair<int64_t, int64_t>> lane_set;
  for (const auto& h : held) {
    seqs.push_back(h.seq);
    tokens.push_back(h.lease_token);
    if (h.lane_id) lane_set.insert({h.lane_id, h.lease_token});
  }
  for (const auto& [lane, token] : lane_set) {
    lanes.push_back(lane);
    lane_tokens.push_back(token);
  }
  RELAY_RETURN_IF_ERROR(InTransaction(
      [&](PgConn& db) -> Status {
        RELAY_ASSIGN_OR_RETURN(
            auto r,
            db.Query("UPDATE deliveries d SET lease_until = ? FROM unnest(?::bigint[], "
                     "?::bigint[]) AS h(seq, token) WHERE d.seq = h.seq AND d.lease_token = "
                     "h.token AND d.status = 'in_flight'",
                     {P(lease_until), IntArray(seqs), IntArray(tokens)}));
        renewed = r.affected();
        if (lanes.empty()) return Status::Ok();
        return db
            .Query(
                "UPDATE lanes l SET lease_until = ? FROM unnest(?::bigint[], ?::bigint[]) AS "
                "h(lane, token) WHERE l.lane_id = h.lane AND l.lease_token = h.token AND "
                "l.state = 'in_flight'",
                {P(lease_until), IntArray(lanes), IntArray(lane_tokens)})
            .status();
      },
      "", /*durable=*/false));
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
    RELAY_ASSIGN_OR_RETURN(auto q, db.Query(std::string(kRequeueOneSql) + " RETURNING seq",
                                            {P(now), P(now), P(org), P(integration_id), P(id)}));
    // A pending one is already in its lane.
    if (status == "pending" || q.rows() == 0) return Status::Ok();
    return db.Query(kJoinLaneSql, {P(q.Int(0, 0))}).status();
  }));
  RELAY_ASSIGN_OR_RETURN(auto row, GetDelivery(org, integration_id, id));
  if (!row) return NotFound("delivery not found: " + id);
  return std::move(*row);
}

Result<int64_t> PgStore::RequeueDeliveries(const std::string& org,
                                           const std::string& integration_id,
                                           const ReplayFilter& filter, int64_t now, int batch) {
  const std::string sql = RequeueBatchSql(filter.since.has_value(), filter.until.has_value(),
                                          " FOR UPDATE SKIP LOCKED");
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
      // Finished ones join their lanes again (pending ones are in theirs).
      if (filter.status == DeliveryStatus::kPending) return Status::Ok();
      for (int i = 0; i < r.rows(); ++i) {
        RELAY_RETURN_IF_ERROR(db.Query(kJoinLaneSql, {P(r.Int(i, 0))}).status());
      }
      return Status::Ok();
    }));
    total += changed;
    if (filter.on_batch) filter.on_batch(total);
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
      // The disabled integrations stay disabled until this commits (an enable waits for the share
      // lock), so no node claims the lanes whose deliveries are cancelled here.
      RELAY_RETURN_IF_ERROR(db.Query("SELECT 1 FROM integrations WHERE organization_id = ? AND "
                                     "enabled = 0 FOR SHARE",
                                     {P(org)})
                                .status());
      RELAY_RETURN_IF_ERROR(
          db.Query(kCancelErasedOfDisabledSql, {P(now), P(org), P(user)}).status());
      RELAY_RETURN_IF_ERROR(db.Query(kDeleteEmptyLanesOfDisabledSql, {P(org)}).status());
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

Result<int64_t> PgStore::CancelDeletedBacklog(int64_t now, int lanes) {
  int64_t emptied = 0;
  RELAY_RETURN_IF_ERROR(InTransaction([&](PgConn& db) -> Status {
    // Lanes another node is refreshing are skipped: the next chunk takes them.
    RELAY_ASSIGN_OR_RETURN(
        auto r, db.Query(std::string("WITH chunk AS (") + kDeletedLanesChunkSql +
                             " FOR UPDATE SKIP LOCKED), cancelled AS (UPDATE deliveries SET status "
                             "= 'cancelled', updated_at = ?2 WHERE lane_id IN (SELECT lane_id FROM "
                             "chunk) AND status = 'pending'), gone AS (DELETE FROM lanes WHERE "
                             "lane_id IN (SELECT lane_id FROM chunk) RETURNING 1) SELECT count(*) "
                             "FROM gone",
                         {P(static_cast<int64_t>(lanes)), P(now)}));
    emptied = r.Int(0, 0);
    return Status::Ok();
  }));
  return emptied;
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
