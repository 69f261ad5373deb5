// The SQLite schema, as an append-only list of migrations.
#include "store/sqlite/sqlite_schema.h"

#include <string>
#include <vector>

#include "store/sqlite/sqlite_db.h"

namespace relay::store {
namespace {

// Each entry upgrades the schema by one version; PRAGMA user_version records how many ran.
// Never edit a released entry: append a new one.
const std::vector<const char*> kMigrations = {
    // 1: settings, API keys, organizations and integrations.
    R"sql(
CREATE TABLE settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE organizations (
  id TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL
);
CREATE TABLE organization_features (
  organization_id TEXT NOT NULL REFERENCES organizations(id),
  feature TEXT NOT NULL,
  enabled_at INTEGER NOT NULL,
  PRIMARY KEY (organization_id, feature)
);
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  secret_hash BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
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
  client_secret BLOB,
  signing_secret BLOB,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL,
  deleted_at INTEGER
);
CREATE INDEX integrations_by_organization ON integrations (organization_id, created_at, id)
  WHERE deleted_at IS NULL;
)sql",
    // 2: consent users and events, and the outbox (messages and their deliveries).
    R"sql(
CREATE TABLE consent_users (
  organization_id TEXT NOT NULL,
  id TEXT NOT NULL,
  organization_user_id TEXT,
  state TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (organization_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX consent_users_by_organization_user_id
  ON consent_users (organization_id, organization_user_id) WHERE organization_user_id IS NOT NULL;
CREATE TABLE consent_events (
  organization_id TEXT NOT NULL,
  id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  regulation TEXT NOT NULL,
  entity TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (organization_id, id)
);
CREATE INDEX consent_events_by_user ON consent_events (organization_id, user_id, created_at);
CREATE INDEX consent_events_by_time ON consent_events (organization_id, created_at);
CREATE TABLE messages (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  organization_id TEXT NOT NULL,
  type TEXT NOT NULL,
  regulation TEXT NOT NULL,
  ordering_key TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE deliveries (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  organization_id TEXT NOT NULL,
  integration_id TEXT NOT NULL,
  message_seq INTEGER NOT NULL REFERENCES messages (seq),
  type TEXT NOT NULL,
  ordering_key TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  status TEXT NOT NULL,
  payload TEXT,
  attempt_count INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  lease_until INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_integration ON deliveries (integration_id, created_at);
CREATE INDEX deliveries_by_lane ON deliveries (integration_id, ordering_key, sequence)
  WHERE status IN ('pending', 'in_flight');
CREATE TABLE idempotency_keys (
  organization_id TEXT NOT NULL,
  key TEXT NOT NULL,
  request_hash BLOB NOT NULL,
  response_status INTEGER NOT NULL,
  response_body TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (organization_id, key)
) WITHOUT ROWID;
)sql",
    // 3: the delivery engine: leases, attempts, retry cycles, signing secret rotation.
    R"sql(
ALTER TABLE deliveries ADD COLUMN lease_token INTEGER;
ALTER TABLE deliveries ADD COLUMN cycle_start INTEGER NOT NULL DEFAULT 0;
ALTER TABLE integrations ADD COLUMN previous_signing_secret BLOB;
ALTER TABLE integrations ADD COLUMN previous_secret_expires_at INTEGER NOT NULL DEFAULT 0;
CREATE TABLE delivery_attempts (
  delivery_seq INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  http_status INTEGER,
  error TEXT,
  response_body TEXT,
  PRIMARY KEY (delivery_seq, attempt)
) WITHOUT ROWID;
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE status = 'in_flight';
CREATE INDEX deliveries_by_status ON deliveries (integration_id, status, seq);
CREATE INDEX deliveries_by_message ON deliveries (message_seq);
CREATE INDEX deliveries_finished ON deliveries (status, updated_at)
  WHERE status IN ('succeeded', 'cancelled', 'dead');
)sql",
    // 4: no lane index until per-user ordering is enforced. Nothing reads it yet, and its key
    // (integration, user) lands on a random page: every delivery written or finished dirtied one
    // more page in each commit. The columns stay; ordering will add the index it needs.
    R"sql(
DROP INDEX deliveries_by_lane;
)sql",
    // 5: erasure. A deleted user's deliveries lose their payloads as they finish; its
    // idempotent answers are found by user; old answers expire.
    R"sql(
CREATE TABLE erasures (
  organization_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  PRIMARY KEY (organization_id, user_id)
) WITHOUT ROWID;
ALTER TABLE deliveries ADD COLUMN erased_at INTEGER;
ALTER TABLE idempotency_keys ADD COLUMN user_id TEXT;
CREATE INDEX messages_by_ordering_key ON messages (organization_id, ordering_key);
CREATE INDEX idempotency_keys_by_time ON idempotency_keys (created_at);
)sql",
    // 6: per-user ordering: a claim asks whether an older delivery of the lane (integration,
    // user) is unfinished.
    R"sql(
CREATE INDEX deliveries_by_lane ON deliveries (integration_id, ordering_key, sequence)
  WHERE status IN ('pending', 'in_flight');
)sql",
    // 7: endpoint health and the circuit breaker, one row per integration (store/health.h).
    R"sql(
CREATE TABLE integration_health (
  integration_id TEXT PRIMARY KEY,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  last_success_at INTEGER,
  last_failure_at INTEGER,
  failing_since INTEGER,
  open_until INTEGER,
  cooldown_ms INTEGER NOT NULL DEFAULT 0,
  disabled_reason TEXT
) WITHOUT ROWID;
CREATE INDEX integration_health_open ON integration_health (open_until)
  WHERE open_until IS NOT NULL;
INSERT INTO integration_health (integration_id) SELECT id FROM integrations;
)sql",
    // 8: the W3C trace context of the change that produced each message.
    R"sql(
ALTER TABLE messages ADD COLUMN traceparent TEXT;
)sql",
    // 9: the ready queue (shared_sql.h, "the ready queue"). A claim read the due deliveries and
    // passed over every one it could not take (followers, open breakers, disabled integrations),
    // so its cost grew with the backlog. Lanes are rows now; the due index on deliveries goes,
    // and the lane index is by lane. The waiting backlog is put in lanes as it stands.
    R"sql(
CREATE TABLE lanes (
  lane_id INTEGER PRIMARY KEY,
  integration_id TEXT NOT NULL,
  ordering_key TEXT,
  state TEXT NOT NULL,
  due_at INTEGER NOT NULL,
  joined INTEGER NOT NULL,
  lease_until INTEGER,
  lease_token INTEGER
);
CREATE UNIQUE INDEX lanes_by_key ON lanes (integration_id, ordering_key)
  WHERE ordering_key IS NOT NULL;
CREATE INDEX lanes_due ON lanes (integration_id, due_at) WHERE state = 'ready';
CREATE INDEX lanes_in_flight ON lanes (integration_id) WHERE state = 'in_flight';
CREATE INDEX lanes_leased ON lanes (lease_until) WHERE state = 'in_flight';
ALTER TABLE deliveries ADD COLUMN lane_id INTEGER;
DROP INDEX deliveries_due;
DROP INDEX deliveries_by_lane;
UPDATE deliveries SET status = 'pending', lease_until = NULL, lease_token = NULL
  WHERE status = 'in_flight';
INSERT INTO lanes (integration_id, ordering_key, state, due_at, joined)
  SELECT integration_id, ordering_key, 'ready', min(next_attempt_at), count(*) FROM deliveries
  WHERE status = 'pending' GROUP BY integration_id, ordering_key;
UPDATE deliveries SET lane_id = (SELECT l.lane_id FROM lanes l WHERE l.integration_id =
  deliveries.integration_id AND l.ordering_key = deliveries.ordering_key)
  WHERE status = 'pending';
CREATE INDEX deliveries_by_lane ON deliveries (lane_id, sequence)
  WHERE status IN ('pending', 'in_flight');
ALTER TABLE integration_health ADD COLUMN next_due_at INTEGER;
UPDATE integration_health SET next_due_at = (SELECT min(l.due_at) FROM lanes l
  WHERE l.integration_id = integration_health.integration_id AND l.state = 'ready');
CREATE INDEX integration_health_due ON integration_health (next_due_at)
  WHERE open_until IS NULL AND next_due_at IS NOT NULL;
)sql",
    // 10: deliveries are listed newest first by keyset (ListDeliveries), so their integration's
    // index is by seq, not by creation time: a page reads its rows, and nothing is sorted.
    R"sql(
DROP INDEX deliveries_by_integration;
CREATE INDEX deliveries_by_integration ON deliveries (integration_id, seq);
)sql",
};

}  // namespace

int SqliteSchemaVersion() { return static_cast<int>(kMigrations.size()); }

Status MigrateSqlite(SqliteDb& db) {
  int64_t version = 0;
  {
    RELAY_ASSIGN_OR_RETURN(auto stmt, db.Prepare("PRAGMA user_version"));
    RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (row) version = stmt->ColumnInt(0);
  }
  const int64_t latest = static_cast<int64_t>(kMigrations.size());
  if (version > latest) {
    return FailedPrecondition("the database schema is version " + std::to_string(version) +
                              ", newer than this consent-relay supports (" +
                              std::to_string(latest) + "); run a newer consent-relay");
  }
  for (int64_t v = version; v < latest; ++v) {
    RELAY_RETURN_IF_ERROR(InTransaction(db, [&]() -> Status {
      // Re-check inside the write lock: another process may have migrated meanwhile.
      int64_t current = 0;
      {
        RELAY_ASSIGN_OR_RETURN(auto stmt, db.Prepare("PRAGMA user_version"));
        RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
        if (row) current = stmt->ColumnInt(0);
      }
      if (current > v) return Status::Ok();
      RELAY_RETURN_IF_ERROR(db.Exec(kMigrations[v]));
      return db.Exec("PRAGMA user_version = " + std::to_string(v + 1));
    }));
  }
  return Status::Ok();
}

}  // namespace relay::store
