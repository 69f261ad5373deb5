// The OutboxStore role on PostgreSQL: deliveries, claims, outcomes, leases, re-queues, purges.
#include <algorithm>
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
// Per-user ordering: a delivery is claimable only at the head of its lane (see the SQLite
// store's kLaneHeadSql, which differs only in how it reads the JSON).
constexpr char kLaneHeadSql[] =
    "(coalesce(i.properties::json ->> 'ordering', 'per_user') = 'none' OR NOT EXISTS (SELECT 1 "
    "FROM deliveries e WHERE e.integration_id = d.integration_id AND e.ordering_key = "
    "d.ordering_key AND e.status IN ('pending', 'in_flight') AND e.sequence < d.sequence))";

// The claim after the lock and the lease expiry, in one statement: counts what is in flight;
// gives each integration whose breaker's open period is over one probe (its oldest due delivery;
// the breaker stays open until the probe's lease ends: its outcome moves it); picks the due
// deliveries of the others within the caps (SKIP LOCKED: rows another transaction holds, a replay,
// a purge or a node recording health, are passed over; integrations at their cap are left out
// before the LIMIT; within the batch, each integration's rank plus what it has in flight stays
// within the cap); marks them and returns them with their payloads. Takes ?1 now, ?2 excluded
// integrations (those at their cap, and those whose breaker is open, read by the statement
// before: as an array rather than a subquery of the candidates, their scan keeps the plan it had
// before there were breakers), ?3 the cap, ?4 the limit, ?5 lease_until, ?6 lease_token.
const std::string kClaimSql =
    std::string(
        "WITH counts AS (SELECT integration_id, count(*) AS n FROM deliveries WHERE status = "
        "'in_flight' GROUP BY integration_id), "
        "half AS (SELECT integration_id FROM integration_health WHERE open_until <= ?1::bigint "
        "ORDER BY integration_id LIMIT ?4::bigint FOR UPDATE SKIP LOCKED), "
        "probe AS (SELECT p.seq, p.integration_id FROM half CROSS JOIN LATERAL (SELECT d.seq, "
        "d.integration_id FROM deliveries d JOIN integrations i ON i.id = d.integration_id WHERE "
        "d.integration_id = half.integration_id AND d.status = 'pending' AND d.next_attempt_at <= "
        "?1::bigint AND i.enabled = 1 AND i.deleted_at IS NULL AND ") +
    kLaneHeadSql +
    " ORDER BY d.next_attempt_at LIMIT 1 FOR UPDATE OF d SKIP LOCKED) p), "
    "marked AS (UPDATE integration_health h SET open_until = ?5::bigint FROM probe WHERE "
    "h.integration_id = probe.integration_id), "
    "cand AS (SELECT d.seq, d.integration_id, d.next_attempt_at FROM deliveries d JOIN "
    "integrations i ON i.id = d.integration_id WHERE d.status = 'pending' AND d.next_attempt_at "
    "<= ?1::bigint AND i.enabled = 1 AND i.deleted_at IS NULL AND " +
    kLaneHeadSql +
    " AND NOT (d.integration_id = ANY(?2::text[])) AND (?3::bigint <= 0 OR d.integration_id NOT "
    "IN (SELECT integration_id FROM counts WHERE n >= ?3::bigint)) ORDER BY d.next_attempt_at "
    "LIMIT ?4::bigint FOR UPDATE OF d SKIP LOCKED), "
    "picked AS (SELECT c.seq, false AS probe FROM (SELECT cand.*, row_number() OVER (PARTITION BY "
    "integration_id ORDER BY next_attempt_at, seq) AS rn FROM cand) c LEFT JOIN counts k ON "
    "k.integration_id = c.integration_id WHERE ?3::bigint <= 0 OR coalesce(k.n, 0) + c.rn <= "
    "?3::bigint UNION ALL SELECT seq, true FROM probe), "
    "upd AS (UPDATE deliveries d SET status = 'in_flight', lease_until = ?5::bigint, lease_token "
    "= ?6::bigint FROM picked WHERE d.seq = picked.seq RETURNING d.seq, d.id, d.organization_id, "
    "d.integration_id, d.message_seq, d.type, d.payload, d.attempt_count, d.cycle_start, "
    "d.next_attempt_at, picked.probe) "
    "SELECT u.seq, u.id, u.organization_id, u.integration_id, i.version, m.id, u.type, "
    "coalesce(u.payload, m.payload), u.attempt_count, u.attempt_count - u.cycle_start, "
    "m.created_at, u.probe, coalesce(m.traceparent, '') FROM upd u JOIN messages m ON m.seq = "
    "u.message_seq JOIN integrations "
    "i ON i.id = u.integration_id ORDER BY u.next_attempt_at, u.seq";

// Before the claim, in one round trip: expired leases given back, and the integrations whose
// breaker is open (excluded from the claim). Takes now.
const std::string kExpireAndListOpenSql =
    std::string("WITH expired AS (") + kExpireLeasesSql +
    ") SELECT integration_id FROM integration_health WHERE open_until IS NOT NULL";

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

Result<std::optional<DeliveryScope>> PgStore::LocateDelivery(const std::string& id) {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  RELAY_ASSIGN_OR_RETURN(
      auto r,
      db->Query("SELECT organization_id, integration_id FROM deliveries WHERE id = ?", {P(id)}));
  if (r.rows() == 0) return std::optional<DeliveryScope>();
  return std::optional<DeliveryScope>(DeliveryScope{r.Text(0, 0), r.Text(0, 1)});
}

// --- the delivery engine ---------------------------------------------------------------------

// A claim in two round trips: the cluster-wide claim lock with the lease expiry, then one
// statement that counts what is in flight, picks the due deliveries within the caps, marks them
// and returns them with their payloads. (It was five statements, each a round trip to a server
// that shares the machine's cores with its clients.)
Status PgStore::ClaimOn(PgConn& db, const ClaimRequest& request,
                        std::vector<ClaimedDelivery>* out) {
  std::vector<ClaimedDelivery>& claimed = *out;
  claimed.clear();
  if (request.limit <= 0) return Status::Ok();
  // Claims are serialized across the cluster (a transaction-scoped advisory lock, held for a few
  // milliseconds), so that the per-integration cap counts every node's deliveries in flight.
  RELAY_RETURN_IF_ERROR(db.Query("SELECT pg_advisory_xact_lock(?)", {P(kClaimLock)}).status());
  // The expired leases given back, and the integrations whose breaker is open, in one round trip.
  RELAY_ASSIGN_OR_RETURN(auto open, db.Query(kExpireAndListOpenSql, {P(request.now)}));
  std::vector<std::string> excluded = request.excluded_integrations;
  for (int i = 0; i < open.rows(); ++i) excluded.push_back(open.Text(i, 0));
  RELAY_ASSIGN_OR_RETURN(
      auto r, db.Query(kClaimSql, {P(request.now), TextArray(excluded),
                                   P(int64_t{request.integration_cap}), P(int64_t{request.limit}),
                                   P(request.lease_until), P(request.lease_token)}));
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
    c.probe = r.Text(i, 11) == "t";
    c.traceparent = r.Text(i, 12);
    claimed.push_back(std::move(c));
  }
  return Status::Ok();
}

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
  // A lane's head that failed and waits for its retry: the deliveries behind it wait at least as
  // long, so that claims do not scan them again and again while the head holds the lane (as the
  // SQLite store's kHoldLaneBehindHeadSql). Before the update below, which ends the lease.
  // Only when an attempt failed and waits for a retry: the statement is not free otherwise.
  const bool any_retry = std::any_of(
      outcomes.begin(), outcomes.end(),
      [](const DeliveryOutcome& o) { return o.attempt && o.status == DeliveryStatus::kPending; });
  if (any_retry) {
    RELAY_RETURN_IF_ERROR(
        db.Query("UPDATE deliveries s SET next_attempt_at = o.next FROM unnest(?::bigint[], "
                 "?::text[], ?::bigint[], ?::bigint[], ?::bigint[]) AS o(seq, status, next, inc, "
                 "token) JOIN deliveries h ON h.seq = o.seq JOIN integrations i ON i.id = "
                 "h.integration_id WHERE o.status = 'pending' AND o.inc = 1 AND h.status = "
                 "'in_flight' AND h.lease_token = o.token AND coalesce(i.properties::json ->> "
                 "'ordering', 'per_user') <> 'none' AND s.integration_id = h.integration_id AND "
                 "s.ordering_key = h.ordering_key AND s.sequence > h.sequence AND s.status = "
                 "'pending' AND s.next_attempt_at < o.next",
                 {IntArray(o_seq), TextArray(o_status), IntArray(o_next), IntArray(o_inc),
                  IntArray(o_token)})
            .status());
  }
  // A retry, or a release, of a delivery whose integration was deleted meanwhile ends it.
  RELAY_RETURN_IF_ERROR(
      db.Query("UPDATE deliveries d SET status = CASE WHEN o.status = 'pending' AND i.deleted_at "
               "IS NOT NULL THEN 'cancelled' ELSE o.status END, next_attempt_at = o.next, "
               "attempt_count = d.attempt_count + o.inc, cycle_start = d.cycle_start + o.unc, "
               "lease_until = NULL, lease_token = NULL, updated_at = ? FROM unnest(?::bigint[], "
               "?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[]) AS o(seq, status, "
               "next, inc, token, unc), integrations i WHERE d.seq = o.seq AND i.id = "
               "d.integration_id AND d.status = 'in_flight' AND d.lease_token = o.token",
               {P(now), IntArray(o_seq), TextArray(o_status), IntArray(o_next), IntArray(o_inc),
                IntArray(o_token), IntArray(o_uncounted)})
          .status());
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

Result<std::vector<ClaimedDelivery>> PgStore::ClaimDeliveries(const ClaimRequest& request) {
  std::vector<ClaimedDelivery> claimed;
  if (request.limit <= 0) return claimed;
  RELAY_RETURN_IF_ERROR(InTransaction([&](PgConn& db) { return ClaimOn(db, request, &claimed); },
                                      "", /*durable=*/false));
  return claimed;
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
  std::vector<int64_t> seqs, tokens;
  for (const auto& h : held) {
    seqs.push_back(h.seq);
    tokens.push_back(h.lease_token);
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
        return Status::Ok();
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
    return db.Query(kRequeueOneSql, {P(now), P(now), P(org), P(integration_id), P(id)}).status();
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
