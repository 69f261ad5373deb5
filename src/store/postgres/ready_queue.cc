// The OutboxStore role on PostgreSQL, its ready queue (shared_sql.h, "the ready queue"): claims
// by lane, with no cluster-wide lock.
#include <algorithm>

#include "store/postgres/pg_rows.h"
#include "store/postgres/pg_store.h"
#include "store/shared_sql.h"

namespace relay::store {

namespace {
// The claim's first statement (shared_sql.h, "the ready queue"): expired leases given back (their
// lanes due now), disabled or deleted integrations out of the due set, one probe lane for each
// integration whose breaker's open period is over (the breaker stays open until the probe's lease
// ends: its outcome moves it), and the integrations that can send and have due work, locked for
// this claim (SKIP LOCKED: a claim of another node holds them, or an outcome recording their
// health; an integration whose lanes' leases ran out just now is among them, as this statement
// cannot see the due time it gives it). Takes ?1 now, ?2 excluded integrations (at this node's
// cap), ?3 the limit, ?4 lease_until. Returns ('p', lane) for probes and ('i', integration) for the
// others.
const std::string kClaimLockSql =
    std::string("WITH expired AS (") + kExpireLeasesSql + "), el AS (" + kExpireLanesSql +
    "), eldue AS (UPDATE integration_health h SET next_due_at = ?1::bigint FROM (SELECT DISTINCT "
    "integration_id FROM el) e WHERE h.integration_id = e.integration_id AND (h.next_due_at IS "
    "NULL OR h.next_due_at > ?1::bigint)), "
    "idle AS (UPDATE integration_health SET next_due_at = NULL WHERE open_until IS NULL AND "
    "next_due_at IS NOT NULL AND next_due_at <= ?1::bigint AND integration_id IN (SELECT id FROM "
    "integrations WHERE enabled = 0 OR deleted_at IS NOT NULL)), "
    "half AS (SELECT h.integration_id FROM integration_health h JOIN integrations i ON i.id = "
    "h.integration_id WHERE h.open_until <= ?1::bigint AND i.enabled = 1 AND i.deleted_at IS "
    "NULL ORDER BY h.integration_id LIMIT ?3::bigint FOR UPDATE OF h SKIP LOCKED), "
    "probe AS (SELECT p.lane_id, p.integration_id FROM half CROSS JOIN LATERAL (SELECT "
    "l.lane_id, l.integration_id FROM lanes l WHERE l.integration_id = half.integration_id AND "
    "l.state = 'ready' AND l.due_at <= ?1::bigint ORDER BY l.due_at LIMIT 1 FOR UPDATE OF l SKIP "
    "LOCKED) p), "
    "marked AS (UPDATE integration_health h SET open_until = ?4::bigint FROM probe WHERE "
    "h.integration_id = probe.integration_id), "
    "ints AS (SELECT h.integration_id FROM integration_health h JOIN integrations i ON i.id = "
    "h.integration_id WHERE h.open_until IS NULL AND ((h.next_due_at IS NOT NULL AND "
    "h.next_due_at <= ?1::bigint) OR h.integration_id IN (SELECT integration_id FROM el)) AND "
    "i.enabled = 1 AND i.deleted_at IS NULL AND NOT (h.integration_id = ANY(?2::text[])) ORDER "
    "BY h.next_due_at LIMIT ?3::bigint FOR UPDATE OF h SKIP LOCKED) "
    "SELECT 'p', lane_id::text FROM probe UNION ALL SELECT 'i', integration_id FROM ints";

// The claim's second statement, with a snapshot taken after the first one's locks: what each
// locked integration has in flight (every node's: the cap holds across nodes), then at most its
// share of its due ready lanes (lanes_due), round-robin across integrations up to the limit,
// marked in flight with up to `depth` deliveries each from the head (one for a probe); each
// integration's next due time is its next ready lane's, or a re-check time (a lane joining
// meanwhile may have found the integration due already). Takes ?1 now, ?2 integrations, ?3
// probe lanes, ?4 the cap (0: none), ?5 the limit, ?6 lease_until, ?7 lease_token, ?8 depth, ?9
// the re-check time, ?10 each integration's share. Returns one row per delivery, and one with a
// NULL delivery for a lane found empty.
const std::string kClaimLanesSql =
    "WITH room AS (SELECT x.id AS integration_id, CASE WHEN ?4::bigint <= 0 THEN ?10::bigint "
    "ELSE greatest(0, least(?10::bigint, ?4::bigint - (SELECT count(*) FROM lanes b WHERE "
    "b.integration_id = x.id AND b.state = 'in_flight'))) END AS n FROM unnest(?2::text[]) AS "
    "x(id)), "
    "cand AS (SELECT c.lane_id, c.integration_id, c.due_at FROM room CROSS JOIN LATERAL (SELECT "
    "l.lane_id, l.integration_id, l.due_at FROM lanes l WHERE l.integration_id = "
    "room.integration_id AND l.state = 'ready' AND l.due_at <= ?1::bigint ORDER BY l.due_at LIMIT "
    "room.n FOR UPDATE OF l SKIP LOCKED) c), "
    "picked AS ((SELECT lane_id, false AS probe FROM (SELECT cand.*, row_number() OVER (PARTITION "
    "BY integration_id ORDER BY due_at) AS rn FROM cand) r ORDER BY rn, due_at LIMIT ?5::bigint) "
    "UNION ALL SELECT unnest(?3::bigint[]), true), "
    "lanes_marked AS (UPDATE lanes l SET state = 'in_flight', lease_until = ?6::bigint, "
    "lease_token = ?7::bigint FROM picked p WHERE l.lane_id = p.lane_id), "
    "dl AS (SELECT x.seq, p.probe FROM picked p CROSS JOIN LATERAL (SELECT d.seq FROM deliveries "
    "d WHERE d.lane_id = p.lane_id AND d.status = 'pending' ORDER BY d.sequence LIMIT CASE WHEN "
    "p.probe THEN 1 ELSE ?8::bigint END FOR UPDATE OF d SKIP LOCKED) x), "
    "upd AS (UPDATE deliveries d SET status = 'in_flight', lease_until = ?6::bigint, lease_token "
    "= ?7::bigint FROM dl WHERE d.seq = dl.seq RETURNING d.seq, d.id, d.organization_id, "
    "d.integration_id, d.message_seq, d.type, d.payload, d.attempt_count, d.cycle_start, "
    "d.lane_id, d.sequence, dl.probe), "
    "nextdue AS (UPDATE integration_health h SET next_due_at = coalesce((SELECT l.due_at FROM "
    "lanes l WHERE l.integration_id = h.integration_id AND l.state = 'ready' AND l.lane_id <> "
    "ALL(ARRAY(SELECT lane_id FROM picked)) ORDER BY l.due_at LIMIT 1), ?9::bigint) WHERE "
    "h.integration_id = ANY(?2::text[])) "
    "SELECT p.lane_id, u.seq, u.id, u.organization_id, u.integration_id, i.version, m.id, "
    "u.type, coalesce(u.payload, m.payload), u.attempt_count, u.attempt_count - u.cycle_start, "
    "m.created_at, u.probe, coalesce(m.traceparent, '') FROM picked p LEFT JOIN upd u ON "
    "u.lane_id = p.lane_id LEFT JOIN messages m ON m.seq = u.message_seq LEFT JOIN integrations "
    "i ON i.id = u.integration_id ORDER BY p.lane_id, u.sequence";

// How long an integration whose lanes a claim took all of waits before a claim looks at it again,
// unless a lane joins (a lane joining while the claim ran may have found it due already).
constexpr int64_t kRecheckMillis = 1000;
}  // namespace
using namespace pg;  // NOLINT: the shared helpers of this directory

// A claim in two round trips, with no cluster-wide lock: the first takes the integrations it will
// claim from (their health rows locked, SKIP LOCKED), the second counts what they have in flight
// (a fresh snapshot, after the locks: every node's claims of them committed before) and takes
// their lanes. Its cost is the batch and the integrations with due work, never the backlog.
Status PgStore::ClaimOn(PgConn& db, const ClaimRequest& request,
                        std::vector<ClaimedDelivery>* out) {
  std::vector<ClaimedDelivery>& claimed = *out;
  claimed.clear();
  if (request.limit <= 0) return Status::Ok();
  RELAY_ASSIGN_OR_RETURN(
      auto locked,
      db.Query(kClaimLockSql, {P(request.now), TextArray(request.excluded_integrations),
                               P(int64_t{request.limit}), P(request.lease_until)}));
  std::vector<std::string> integrations;
  std::vector<int64_t> probes;
  for (int i = 0; i < locked.rows(); ++i) {
    if (locked.Text(i, 0) == "p") {
      probes.push_back(std::stoll(locked.Text(i, 1)));
    } else {
      integrations.push_back(locked.Text(i, 1));
    }
  }
  if (integrations.empty() && probes.empty()) return Status::Ok();
  const int64_t lanes_wanted =
      std::max<int64_t>(0, request.limit - static_cast<int64_t>(probes.size()));
  const int64_t share =
      integrations.empty()
          ? 0
          : std::max<int64_t>(1, (lanes_wanted + static_cast<int64_t>(integrations.size()) - 1) /
                                     static_cast<int64_t>(integrations.size()));
  RELAY_ASSIGN_OR_RETURN(
      auto r, db.Query(kClaimLanesSql, {P(request.now), TextArray(integrations), IntArray(probes),
                                        P(int64_t{request.integration_cap}), P(lanes_wanted),
                                        P(request.lease_until), P(request.lease_token),
                                        P(int64_t{std::max(1, request.lane_depth)}),
                                        P(request.now + kRecheckMillis), P(share)}));
  std::vector<int64_t> empty;
  for (int i = 0; i < r.rows(); ++i) {
    if (r.IsNull(i, 1)) {
      empty.push_back(r.Int(i, 0));
      continue;
    }
    ClaimedDelivery c;
    c.lane_id = r.Int(i, 0);
    c.seq = r.Int(i, 1);
    c.id = r.Text(i, 2);
    c.organization_id = r.Text(i, 3);
    c.integration_id = r.Text(i, 4);
    c.integration_version = r.Int(i, 5);
    c.message_id = r.Text(i, 6);
    c.type = r.Text(i, 7);
    c.payload = r.Text(i, 8);
    c.attempt_count = r.Int(i, 9);
    c.cycle_attempts = r.Int(i, 10);
    c.message_created_at = r.Int(i, 11);
    c.lease_token = request.lease_token;
    c.probe = r.Text(i, 12) == "t";
    c.traceparent = r.Text(i, 13);
    claimed.push_back(std::move(c));
  }
  // A lane with nothing left to send (its last delivery finished as it was claimed): this claim
  // holds its row lock, so nothing is joining it.
  if (!empty.empty()) RELAY_RETURN_IF_ERROR(RefreshLanesOn(db, empty));
  return Status::Ok();
}

Result<std::vector<ClaimedDelivery>> PgStore::ClaimDeliveries(const ClaimRequest& request) {
  std::vector<ClaimedDelivery> claimed;
  if (request.limit <= 0) return claimed;
  RELAY_RETURN_IF_ERROR(InTransaction([&](PgConn& db) { return ClaimOn(db, request, &claimed); },
                                      "", /*durable=*/false));
  return claimed;
}

Result<int64_t> PgStore::MeasureClaim(const ClaimRequest& request) {
  // Rows read from the outbox's tables by this transaction so far: sequential scans' rows and
  // index scans' heap fetches.
  static const char kReadSql[] =
      "SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(c.oid) + "
      "pg_stat_get_xact_tuples_fetched(c.oid)), 0)::bigint FROM pg_class c WHERE c.relname IN "
      "('lanes', 'deliveries', 'integration_health', 'integrations', 'messages') AND "
      "c.relnamespace = current_schema()::regnamespace";
  int64_t rows = -1;
  Status s = InTransaction(
      [&](PgConn& db) -> Status {
        RELAY_ASSIGN_OR_RETURN(auto before, db.Query(kReadSql));
        std::vector<ClaimedDelivery> claimed;
        RELAY_RETURN_IF_ERROR(ClaimOn(db, request, &claimed));
        RELAY_ASSIGN_OR_RETURN(auto after, db.Query(kReadSql));
        rows = after.Int(0, 0) - before.Int(0, 0);
        return FailedPrecondition("measured, undone");  // rolled back
      },
      "", /*durable=*/false);
  if (rows < 0) return s;
  return rows;
}

}  // namespace relay::store
