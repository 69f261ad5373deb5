// The PostgreSQL schema: the same tables, columns and indexes as the SQLite store's migrations
// (sqlite_schema.cc), in PostgreSQL's types. Versioned the same way, applied at start under an
// advisory lock so that nodes starting together do not race.
#include "store/postgres/pg_schema.h"

#include <vector>

namespace relay::store {
namespace {

// Any fixed number: the advisory lock every node takes to migrate.
constexpr int64_t kMigrationLock = 0x636f6e73656e74;  // "consent"

const std::vector<const char*> kMigrations = {
    // 1: everything the SQLite store has after its migration 4.
    R"sql(
CREATE TABLE settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE organizations (
  id TEXT PRIMARY KEY,
  created_at BIGINT NOT NULL
);
CREATE TABLE organization_features (
  organization_id TEXT NOT NULL REFERENCES organizations(id),
  feature TEXT NOT NULL,
  enabled_at BIGINT NOT NULL,
  PRIMARY KEY (organization_id, feature)
);
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  secret_hash BYTEA NOT NULL,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT
);
CREATE TABLE api_key_organizations (
  key_id TEXT NOT NULL REFERENCES api_keys(id),
  organization_id TEXT NOT NULL REFERENCES organizations(id),
  PRIMARY KEY (key_id, organization_id)
);
CREATE TABLE integrations (
  id TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL REFERENCES organizations(id),
  type_id TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  authentication TEXT NOT NULL,
  properties TEXT NOT NULL,
  client_secret BYTEA,
  signing_secret BYTEA,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  version BIGINT NOT NULL,
  deleted_at BIGINT,
  previous_signing_secret BYTEA,
  previous_secret_expires_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX integrations_by_organization ON integrations (organization_id, created_at, id)
  WHERE deleted_at IS NULL;
CREATE TABLE consent_users (
  organization_id TEXT NOT NULL,
  id TEXT NOT NULL,
  organization_user_id TEXT,
  state TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (organization_id, id)
);
CREATE UNIQUE INDEX consent_users_by_organization_user_id
  ON consent_users (organization_id, organization_user_id) WHERE organization_user_id IS NOT NULL;
CREATE TABLE consent_events (
  organization_id TEXT NOT NULL,
  id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  regulation TEXT NOT NULL,
  entity TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (organization_id, id)
);
CREATE INDEX consent_events_by_user ON consent_events (organization_id, user_id, created_at);
CREATE INDEX consent_events_by_time ON consent_events (organization_id, created_at);
CREATE TABLE messages (
  seq BIGSERIAL PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  organization_id TEXT NOT NULL,
  type TEXT NOT NULL,
  regulation TEXT NOT NULL,
  ordering_key TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE deliveries (
  seq BIGSERIAL PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  organization_id TEXT NOT NULL,
  integration_id TEXT NOT NULL,
  message_seq BIGINT NOT NULL REFERENCES messages (seq),
  type TEXT NOT NULL,
  ordering_key TEXT NOT NULL,
  sequence BIGINT NOT NULL,
  status TEXT NOT NULL,
  payload TEXT,
  attempt_count BIGINT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  lease_until BIGINT,
  lease_token BIGINT,
  cycle_start BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_integration ON deliveries (integration_id, created_at);
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE status = 'in_flight';
CREATE INDEX deliveries_by_status ON deliveries (integration_id, status, seq);
CREATE INDEX deliveries_by_message ON deliveries (message_seq);
CREATE INDEX deliveries_finished ON deliveries (status, updated_at)
  WHERE status IN ('succeeded', 'cancelled', 'dead');
CREATE TABLE idempotency_keys (
  organization_id TEXT NOT NULL,
  key TEXT NOT NULL,
  request_hash BYTEA NOT NULL,
  response_status INTEGER NOT NULL,
  response_body TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (organization_id, key)
);
CREATE TABLE delivery_attempts (
  delivery_seq BIGINT NOT NULL,
  attempt BIGINT NOT NULL,
  started_at BIGINT NOT NULL,
  duration_ms BIGINT NOT NULL,
  http_status INTEGER,
  error TEXT,
  response_body TEXT,
  PRIMARY KEY (delivery_seq, attempt)
);
)sql",
    // 2: receipts of committed writes, so a COMMIT whose answer was lost can be checked.
    R"sql(
CREATE TABLE write_receipts (
  id TEXT PRIMARY KEY,
  created_at BIGINT NOT NULL
);
CREATE INDEX write_receipts_by_time ON write_receipts (created_at);
)sql",
    // 3: erasure, as the SQLite store's migration 5.
    R"sql(
CREATE TABLE erasures (
  organization_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  requested_at BIGINT NOT NULL,
  PRIMARY KEY (organization_id, user_id)
);
ALTER TABLE deliveries ADD COLUMN erased_at BIGINT;
ALTER TABLE idempotency_keys ADD COLUMN user_id TEXT;
CREATE INDEX messages_by_ordering_key ON messages (organization_id, ordering_key);
CREATE INDEX idempotency_keys_by_time ON idempotency_keys (created_at);
)sql",
    // 4: per-user ordering, as the SQLite store's migration 6.
    R"sql(
CREATE INDEX deliveries_by_lane ON deliveries (integration_id, ordering_key, sequence)
  WHERE status IN ('pending', 'in_flight');
)sql",
    // 5: endpoint health and the circuit breaker, as the SQLite store's migration 7.
    R"sql(
CREATE TABLE integration_health (
  integration_id TEXT PRIMARY KEY,
  consecutive_failures BIGINT NOT NULL DEFAULT 0,
  last_success_at BIGINT,
  last_failure_at BIGINT,
  failing_since BIGINT,
  open_until BIGINT,
  cooldown_ms BIGINT NOT NULL DEFAULT 0,
  disabled_reason TEXT
);
CREATE INDEX integration_health_open ON integration_health (open_until)
  WHERE open_until IS NOT NULL;
INSERT INTO integration_health (integration_id) SELECT id FROM integrations;
)sql",
    // 6: trace context, as the SQLite store's migration 8.
    R"sql(
ALTER TABLE messages ADD COLUMN traceparent TEXT;
)sql",
    // 7: the ready queue, as the SQLite store's migration 9.
    R"sql(
CREATE TABLE lanes (
  lane_id BIGSERIAL PRIMARY KEY,
  integration_id TEXT NOT NULL,
  ordering_key TEXT,
  state TEXT NOT NULL,
  due_at BIGINT NOT NULL,
  joined BIGINT NOT NULL,
  lease_until BIGINT,
  lease_token BIGINT
);
CREATE UNIQUE INDEX lanes_by_key ON lanes (integration_id, ordering_key)
  WHERE ordering_key IS NOT NULL;
CREATE INDEX lanes_due ON lanes (integration_id, due_at) WHERE state = 'ready';
CREATE INDEX lanes_in_flight ON lanes (integration_id) WHERE state = 'in_flight';
CREATE INDEX lanes_leased ON lanes (lease_until) WHERE state = 'in_flight';
ALTER TABLE deliveries ADD COLUMN lane_id BIGINT;
DROP INDEX deliveries_due;
DROP INDEX deliveries_by_lane;
UPDATE deliveries SET status = 'pending', lease_until = NULL, lease_token = NULL
  WHERE status = 'in_flight';
INSERT INTO lanes (integration_id, ordering_key, state, due_at, joined)
  SELECT integration_id, ordering_key, 'ready', min(next_attempt_at), count(*) FROM deliveries
  WHERE status = 'pending' GROUP BY integration_id, ordering_key;
UPDATE deliveries d SET lane_id = l.lane_id FROM lanes l WHERE l.integration_id =
  d.integration_id AND l.ordering_key = d.ordering_key AND d.status = 'pending';
CREATE INDEX deliveries_by_lane ON deliveries (lane_id, sequence)
  WHERE status IN ('pending', 'in_flight');
ALTER TABLE integration_health ADD COLUMN next_due_at BIGINT;
UPDATE integration_health h SET next_due_at = (SELECT min(l.due_at) FROM lanes l
  WHERE l.integration_id = h.integration_id AND l.state = 'ready');
CREATE INDEX integration_health_due ON integration_health (next_due_at)
  WHERE open_until IS NULL AND next_due_at IS NOT NULL;
)sql",
    // 8: deliveries listed by keyset, as the SQLite store's migration 10.
    R"sql(
DROP INDEX deliveries_by_integration;
CREATE INDEX deliveries_by_integration ON deliveries (integration_id, seq);
)sql",
};

}  // namespace

int PgSchemaVersion() { return static_cast<int>(kMigrations.size()); }

Status MigratePg(PgConn& db) {
  RELAY_RETURN_IF_ERROR(db.Exec("BEGIN"));
  auto fail = [&](Status s) {
    (void)db.Exec("ROLLBACK");
    return s;
  };
  // Held until COMMIT: a second node starting now waits here, then finds the schema current.
  if (auto s = db.Query("SELECT pg_advisory_xact_lock(?)", {P(kMigrationLock)}); !s.ok()) {
    return fail(s.status());
  }
  if (Status s = db.Exec("CREATE TABLE IF NOT EXISTS relay_schema (version INTEGER NOT NULL)");
      !s.ok()) {
    return fail(s);
  }
  auto current = db.Query("SELECT coalesce(max(version), 0) FROM relay_schema");
  if (!current.ok()) return fail(current.status());
  const int64_t version = current->Int(0, 0);
  const int64_t latest = static_cast<int64_t>(kMigrations.size());
  if (version > latest) {
    return fail(FailedPrecondition("the database schema is version " + std::to_string(version) +
                                   ", newer than this consent-relay supports (" +
                                   std::to_string(latest) + "); run a newer consent-relay"));
  }
  for (int64_t v = version; v < latest; ++v) {
    if (Status s = db.Exec(kMigrations[static_cast<size_t>(v)]); !s.ok()) return fail(s);
  }
  if (version < latest) {
    if (Status s = db.Exec("DELETE FROM relay_schema"); !s.ok()) return fail(s);
    if (auto s = db.Query("INSERT INTO relay_schema (version) VALUES (?)", {P(latest)}); !s.ok()) {
      return fail(s.status());
    }
  }
  return db.Exec("COMMIT");
}

}  // namespace relay::store
