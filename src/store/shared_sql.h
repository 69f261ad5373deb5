// Statements every backend runs as they are: both dialects read them alike ('?' placeholders,
// which the PostgreSQL connection numbers).
#pragma once

#include <string>

namespace relay::store {

// Replay (OutboxStore::RequeueDeliveries): one batch of the integration's matching deliveries
// after a seq, re-joined with a fresh cycle. Takes now, now, integration, organization, status,
// after, then since and until when the filter has them, then the batch size. `lock_clause` is
// what the backend appends to the inner SELECT (PostgreSQL: FOR UPDATE SKIP LOCKED).
inline std::string RequeueBatchSql(bool since, bool until, const char* lock_clause) {
  std::string sql =
      "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, cycle_start = "
      "attempt_count, updated_at = ? WHERE seq IN (SELECT seq FROM deliveries WHERE "
      "integration_id = ? AND organization_id = ? AND status = ? AND seq > ? AND erased_at IS NULL";
  if (since) sql += " AND created_at >= ?";
  if (until) sql += " AND created_at < ?";
  sql += " ORDER BY seq LIMIT ?";
  sql += lock_clause;
  sql += ") RETURNING seq";
  return sql;
}

// A delivery as reads show it (deliveries d JOIN messages m). Its payload is its own, else its
// message's; an erased delivery's reads as "", even while its message still holds the payload
// for a delivery of the same message that waits to be sent.
inline constexpr char kDeliveryColumns[] =
    "d.id, d.organization_id, d.integration_id, m.id, d.type, m.regulation, d.ordering_key, "
    "d.sequence, d.status, CASE WHEN d.erased_at IS NULL THEN coalesce(d.payload, m.payload) ELSE "
    "'' END, d.attempt_count, d.next_attempt_at, d.created_at, d.updated_at, d.seq, d.erased_at "
    "IS NOT NULL, coalesce(m.traceparent, '')";

// The write CheckWritable probes with: one small row in settings, replaced.
inline constexpr char kHealthProbeSql[] =
    "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = "
    "excluded.value";

// A key's grant for one organization (Store::GetKeyGrant): key, organization. Both lookups are
// primary-key probes, whatever the number of organizations the key has.
inline constexpr char kKeyGrantSql[] =
    "SELECT revoked_at, CASE WHEN EXISTS (SELECT 1 FROM api_key_organizations WHERE key_id = ?1 "
    "AND organization_id = ?2) THEN 1 ELSE 0 END FROM api_keys WHERE id = ?1";

// Claims whose lease ran out (before the given time) belong to a node that died or hung: they are
// due again, or cancelled when their integration was deleted meanwhile (nothing would ever claim
// them, and they would stay pending forever).
inline constexpr char kExpireLeasesSql[] =
    "UPDATE deliveries SET status = CASE WHEN EXISTS (SELECT 1 FROM integrations i WHERE i.id = "
    "deliveries.integration_id AND i.deleted_at IS NOT NULL) THEN 'cancelled' ELSE 'pending' END, "
    "lease_token = NULL, lease_until = NULL WHERE status = 'in_flight' AND lease_until < ?";

// One delivery's lease extended, if its holder (the token) still holds it.
inline constexpr char kRenewLeaseSql[] =
    "UPDATE deliveries SET lease_until = ? WHERE seq = ? AND lease_token = ? AND status = "
    "'in_flight'";

// Erasure (Store::EraseFinished), per erased user (organization, user id = ordering key). Each
// takes now, organization, user. The finished deliveries' payloads go, and dead ones become
// cancelled (there is nothing left to replay).
inline constexpr char kEraseDeliveriesSql[] =
    "UPDATE deliveries SET payload = NULL, erased_at = ?1, updated_at = ?1, status = CASE WHEN "
    "status = 'dead' THEN 'cancelled' ELSE status END WHERE message_seq IN (SELECT seq FROM "
    "messages WHERE organization_id = ?2 AND ordering_key = ?3) AND status IN ('succeeded', "
    "'dead', 'cancelled') AND erased_at IS NULL";
// An erased user's deliveries that wait for an integration that is disabled: cancelled now (and
// then erased with the finished ones), so its bytes do not wait for a re-enable that may never
// come. Only lanes at rest: what a node still holds ends first. Takes now, organization, user.
inline constexpr char kCancelErasedOfDisabledSql[] =
    "UPDATE deliveries SET status = 'cancelled', updated_at = ?1 WHERE status = 'pending' AND "
    "message_seq IN (SELECT seq FROM messages WHERE organization_id = ?2 AND ordering_key = ?3) "
    "AND integration_id IN (SELECT id FROM integrations WHERE organization_id = ?2 AND enabled = "
    "0) AND lane_id IN (SELECT lane_id FROM lanes WHERE state = 'ready')";
// The lanes of the organization's disabled integrations left with nothing to send: organization.
inline constexpr char kDeleteEmptyLanesOfDisabledSql[] =
    "DELETE FROM lanes WHERE state = 'ready' AND integration_id IN (SELECT id FROM integrations "
    "WHERE organization_id = ?1 AND enabled = 0) AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE "
    "d.lane_id = lanes.lane_id AND d.status IN ('pending', 'in_flight'))";
// Takes organization, user.
inline constexpr char kEraseAttemptsSql[] =
    "UPDATE delivery_attempts SET response_body = NULL WHERE response_body IS NOT NULL AND "
    "delivery_seq IN (SELECT d.seq FROM deliveries d JOIN messages m ON m.seq = d.message_seq "
    "WHERE m.organization_id = ?1 AND m.ordering_key = ?2 AND d.erased_at IS NOT NULL)";
// Takes organization, user.
inline constexpr char kEraseMessagesSql[] =
    "UPDATE messages SET payload = '' WHERE organization_id = ?1 AND ordering_key = ?2 AND "
    "payload <> '' AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_seq = messages.seq "
    "AND d.status IN ('pending', 'in_flight'))";
// Takes organization, user: the erasure is done when nothing of the user is left to send.
inline constexpr char kEraseDoneSql[] =
    "DELETE FROM erasures WHERE organization_id = ?1 AND user_id = ?2 AND NOT EXISTS (SELECT 1 "
    "FROM messages m JOIN deliveries d ON d.message_seq = m.seq WHERE m.organization_id = ?1 AND "
    "m.ordering_key = ?2 AND d.status IN ('pending', 'in_flight'))";
// Recorded by DeleteUser: organization, user, now.
inline constexpr char kRecordErasureSql[] =
    "INSERT INTO erasures (organization_id, user_id, requested_at) VALUES (?, ?, ?) ON CONFLICT "
    "(organization_id, user_id) DO NOTHING";
// Idempotency-Key answers older than the window: created before.
inline constexpr char kPurgeIdempotencyKeysSql[] =
    "DELETE FROM idempotency_keys WHERE created_at < ?";
// The user's idempotent answers, and the batch answers (user_id '*', kBatchAnswer) that name
// it: organization, user.
inline constexpr char kDeleteUserIdempotencySql[] =
    "DELETE FROM idempotency_keys WHERE organization_id = ?1 AND (user_id = ?2 OR (user_id = '*' "
    "AND response_body LIKE '%' || ?2 || '%'))";

// --- endpoint health (store/health.h) ---

// An integration's health, as reads show it: selected from kIntegrationsWithHealth after the
// integration's own columns.
inline constexpr char kHealthColumns[] =
    "h.consecutive_failures, h.last_success_at, h.last_failure_at, h.failing_since, "
    "h.open_until, h.cooldown_ms, h.disabled_reason";
inline constexpr char kIntegrationsWithHealth[] =
    "integrations LEFT JOIN integration_health h ON h.integration_id = integrations.id";
// A new integration starts healthy: integration.
inline constexpr char kInsertHealthSql[] =
    "INSERT INTO integration_health (integration_id) VALUES (?)";
// The health of the integrations a batch touches, before it; the backend appends which ones.
inline constexpr char kLoadHealthSql[] =
    "SELECT h.integration_id, i.organization_id, i.enabled, h.consecutive_failures, "
    "h.last_success_at, h.last_failure_at, h.failing_since, h.open_until, h.cooldown_ms, "
    "h.disabled_reason FROM integration_health h JOIN integrations i ON i.id = h.integration_id "
    "WHERE i.deleted_at IS NULL AND h.integration_id ";
// Disabled by its health (410, or failing too long): now, integration. A new version, so that a
// PATCH racing with it is refused and re-applied.
inline constexpr char kDisableIntegrationSql[] =
    "UPDATE integrations SET enabled = 0, version = version + 1, updated_at = ?1 WHERE id = ?2 "
    "AND enabled = 1 AND deleted_at IS NULL";
// Enabling an integration again (integration, enabled, expected version: run before the update
// itself) starts its health afresh: whatever disabled it is forgotten, the breaker closed.
inline constexpr char kResetHealthOnEnableSql[] =
    "UPDATE integration_health SET consecutive_failures = 0, failing_since = NULL, open_until = "
    "NULL, cooldown_ms = 0, disabled_reason = NULL WHERE integration_id = ?1 AND ?2 = 1 AND "
    "EXISTS (SELECT 1 FROM integrations WHERE id = ?1 AND enabled = 0 AND version = ?3)";
// The integrations a new message fans out to (WHERE over integrations): enabled, or disabled by
// their health, not deleted.
inline constexpr char kFanOutSql[] =
    "deleted_at IS NULL AND (enabled = 1 OR EXISTS (SELECT 1 FROM integration_health h WHERE "
    "h.integration_id = integrations.id AND h.disabled_reason IS NOT NULL))";

// --- the ready queue: lanes (store/outbox_store.h) ---
// A lane is one row per (integration, user) with unfinished deliveries, or one per delivery of an
// integration whose ordering is "none" (ordering_key NULL). It is ready (due at `due_at`, its
// head's time) or in flight (a claim holds it under a lease); `joined` counts the deliveries that
// joined it since it was created (1: just created). The upsert that joins one holds the lane's
// row lock to its commit, and whoever removes an empty lane locks it first and then looks: so a
// lane is never removed under a delivery that is joining it (the race of Solid Queue PR 689). Its
// integration's `integration_health.next_due_at` is at most the earliest due_at of its ready lanes,
// so a claim reads integrations that have due work, then at most its batch of their lanes:
// followers, parked integrations and finished work are never visited.

// A user's lane gains a delivery (created ready when it had none): integration, user, due.
// Returns the lane and `joined` (1: it was just created, and is due).
inline constexpr char kUpsertLaneSql[] =
    "INSERT INTO lanes (integration_id, ordering_key, state, due_at, joined) VALUES (?1, ?2, "
    "'ready', ?3, 1) ON CONFLICT (integration_id, ordering_key) WHERE ordering_key IS NOT NULL "
    "DO UPDATE SET joined = lanes.joined + 1 RETURNING lane_id, joined";
// A lane of one delivery (ordering "none"), with the same parameters: integration, NULL, due.
inline constexpr char kInsertSoloLaneSql[] =
    "INSERT INTO lanes (integration_id, ordering_key, state, due_at, joined) VALUES (?1, ?2, "
    "'ready', ?3, 1) RETURNING lane_id, joined";
// An integration has a lane due at ?2 (?1: integration): its claimable time moves earlier, never
// later. No write (and no lock) when it already has earlier work.
inline constexpr char kIntegrationDueSql[] =
    "UPDATE integration_health SET next_due_at = ?2 WHERE integration_id = ?1 AND (next_due_at "
    "IS NULL OR next_due_at > ?2)";
// After an integration is updated (enabled again, say): its claimable time is its earliest ready
// lane's. Takes the integration.
inline constexpr char kRecomputeIntegrationDueSql[] =
    "UPDATE integration_health SET next_due_at = (SELECT min(l.due_at) FROM lanes l WHERE "
    "l.integration_id = ?1 AND l.state = 'ready') WHERE integration_id = ?1";
// Lanes whose lease ran out go back, due now: now. (Their deliveries by kExpireLeasesSql.)
inline constexpr char kExpireLanesSql[] =
    "UPDATE lanes SET state = 'ready', due_at = ?1, lease_until = NULL, lease_token = NULL WHERE "
    "state = 'in_flight' AND lease_until < ?1 RETURNING integration_id";
// One lane's lease extended with its deliveries': lease_until, lane, token.
inline constexpr char kRenewLaneSql[] =
    "UPDATE lanes SET lease_until = ? WHERE lane_id = ? AND lease_token = ? AND state = "
    "'in_flight'";

// --- statements both backends run as they are ---

// A user's events (its history): organization, user. The columns are the backends' kEventColumns.
inline constexpr char kUserEventsWhereSql[] =
    " FROM consent_events WHERE organization_id = ? AND user_id = ?";

// An integration replaced if its stored version is the expected one.
inline constexpr char kUpdateIntegrationSql[] =
    "UPDATE integrations SET enabled = ?, authentication = ?, properties = ?, client_secret = "
    "?, signing_secret = ?, updated_at = ?, version = ?, previous_signing_secret = ?, "
    "previous_secret_expires_at = ? WHERE id = ? AND organization_id = ? AND version = ? AND "
    "deleted_at IS NULL";

// An integration marked deleted, its secrets erased.
inline constexpr char kDeleteIntegrationSql[] =
    "UPDATE integrations SET deleted_at = ?, updated_at = ?, client_secret = NULL, "
    "signing_secret = NULL, previous_signing_secret = NULL, version = version + 1 WHERE id = "
    "? AND organization_id = ? AND deleted_at IS NULL";

// A deleted integration's waiting deliveries cancelled.
// A deleted integration's backlog is cancelled a bounded chunk of lanes at a time
// (OutboxStore::CancelDeletedBacklog), never in the delete's own transaction. The chunk: up to ?1
// ready lanes of deleted integrations. (A lane in flight comes back ready with its outcome,
// which a deleted integration's records as cancelled.)
inline constexpr char kDeletedLanesChunkSql[] =
    "SELECT lane_id FROM lanes WHERE state = 'ready' AND integration_id IN (SELECT id FROM "
    "integrations WHERE deleted_at IS NOT NULL) ORDER BY lane_id LIMIT ?1";

// One finished delivery re-joined with a fresh cycle.
inline constexpr char kRequeueOneSql[] =
    "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, cycle_start = "
    "attempt_count, updated_at = ? WHERE organization_id = ? AND integration_id = ? AND id = "
    "?";

// An organization's enabled features.
inline constexpr char kSelectFeaturesSql[] =
    "SELECT feature FROM organization_features WHERE organization_id = ?";

// A setting stored unless it has a value.
inline constexpr char kPutSettingIfAbsentSql[] =
    "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING";

// An organization created unless it exists.
inline constexpr char kEnsureOrganizationSql[] =
    "INSERT INTO organizations (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING";

// A new API key.
inline constexpr char kInsertApiKeySql[] =
    "INSERT INTO api_keys (id, name, secret_hash, created_at, revoked_at) VALUES (?, ?, ?, ?, "
    "?)";

// One organization of a key.
inline constexpr char kInsertKeyOrganizationSql[] =
    "INSERT INTO api_key_organizations (key_id, organization_id) VALUES (?, ?) ON CONFLICT DO "
    "NOTHING";

// One API key.
inline constexpr char kSelectApiKeySql[] =
    "SELECT id, name, secret_hash, created_at, revoked_at FROM api_keys WHERE id = ?";

// Every API key, oldest first (without hashes).
inline constexpr char kListApiKeysSql[] =
    "SELECT id, name, created_at, revoked_at FROM api_keys ORDER BY created_at, id";

// A key revoked (the first revocation's time stays).
inline constexpr char kRevokeApiKeySql[] =
    "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?";

// A feature enabled.
inline constexpr char kEnableFeatureSql[] =
    "INSERT INTO organization_features (organization_id, feature, enabled_at) VALUES (?, ?, "
    "?) ON CONFLICT DO NOTHING";

// A feature disabled.
inline constexpr char kDisableFeatureSql[] =
    "DELETE FROM organization_features WHERE organization_id = ? AND feature = ?";

// A consent user inserted or replaced.
inline constexpr char kPutUserSql[] =
    "INSERT INTO consent_users (id, organization_id, organization_user_id, state, created_at, "
    "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (organization_id, id) DO UPDATE SET "
    "organization_user_id = excluded.organization_user_id, state = excluded.state, updated_at "
    "= excluded.updated_at";

// A user's events, at erasure.
inline constexpr char kDeleteUserEventsSql[] =
    "DELETE FROM consent_events WHERE organization_id = ? AND user_id = ?";

// A user, at erasure.
inline constexpr char kDeleteUserSql[] =
    "DELETE FROM consent_users WHERE organization_id = ? AND id = ?";

// An event's entity replaced.
inline constexpr char kUpdateEventSql[] =
    "UPDATE consent_events SET entity = ?, updated_at = ? WHERE organization_id = ? AND id = "
    "?";

// One event.
inline constexpr char kDeleteEventSql[] =
    "DELETE FROM consent_events WHERE organization_id = ? AND id = ?";

// A webhook message.
inline constexpr char kInsertMessageSql[] =
    "INSERT INTO messages (id, organization_id, type, regulation, ordering_key, payload, "
    "created_at, traceparent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

// An Idempotency-Key's stored answer.
inline constexpr char kSelectIdempotencySql[] =
    "SELECT request_hash, response_status, response_body, created_at FROM idempotency_keys "
    "WHERE organization_id = ? AND key = ? AND created_at >= ?";

}  // namespace relay::store
