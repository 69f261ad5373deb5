// Store: the narrow interface every backend (SQLite now, PostgreSQL later) implements. Nothing
// outside src/store knows SQL. Rows hold what the database holds: secrets arrive already sealed
// (encrypted) by the caller and leave sealed; JSON columns are opaque text to the store.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace relay::store {

struct ApiKeyRow {
  std::string id;
  std::string name;
  std::string secret_hash;  // SHA-256 of the secret; the secret itself is never stored
  std::vector<std::string> organizations;
  int64_t created_at = 0;
  std::optional<int64_t> revoked_at;
};

// What one key may do for one organization, read by one indexed lookup on every request.
struct KeyGrant {
  bool revoked = false;
  bool member = false;  // the key may act for the organization asked about
};

struct OrganizationRow {
  std::string id;
  std::set<std::string> features;
  int64_t created_at = 0;
};

struct IntegrationRow {
  std::string id;
  std::string organization_id;
  std::string type_id;
  bool enabled = true;
  std::string authentication_json;    // the authentication object without client_secret
  std::string properties_json;        // the properties object
  std::string client_secret_sealed;   // empty when there is no OAuth client secret
  std::string signing_secret_sealed;  // the Standard Webhooks secret, sealed
  int64_t created_at = 0;
  int64_t updated_at = 0;
  int64_t version = 1;
  // After a rotation, the previous signing secret stays valid (both signatures are sent) until
  // previous_secret_expires_at.
  std::string previous_signing_secret_sealed;
  int64_t previous_secret_expires_at = 0;
};

// A consent user: the merged consent status, per regulation, as opaque JSON for the domain.
struct ConsentUserRow {
  std::string id;
  std::string organization_id;
  std::string organization_user_id;  // empty when the organization gave none
  std::string state_json;            // metadata and per-regulation consents (consent/ owns it)
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

// A consent event, stored as the entity the API shows.
struct ConsentEventRow {
  std::string id;
  std::string organization_id;
  std::string user_id;
  std::string regulation;
  std::string entity_json;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

// A webhook message (one of the six types) and the deliveries it fans out to.
struct MessageRow {
  std::string id;  // "msg_...": the Standard Webhooks webhook-id
  std::string organization_id;
  std::string type;
  std::string regulation;
  std::string ordering_key;  // the consent user's id: deliveries of one key form a lane
  std::string payload;       // the envelope, as sent when not flattened
  int64_t created_at = 0;
};

enum class DeliveryStatus { kPending, kInFlight, kSucceeded, kDead, kCancelled };
const char* DeliveryStatusName(DeliveryStatus status);
std::optional<DeliveryStatus> ParseDeliveryStatus(std::string_view name);

// One try at sending a delivery. Its text fields are valid UTF-8 without NUL (the dispatcher
// sanitizes what the endpoint sent): every backend stores them as text, and the API shows them.
struct AttemptRow {
  int64_t attempt = 0;  // 1, 2, ... over the delivery's life
  int64_t started_at = 0;
  int64_t duration_ms = 0;
  std::optional<int> http_status;  // nullopt when no response arrived
  std::string error;               // empty when a response arrived
  std::string response_body;       // the first 4 KiB
};

struct DeliveryRow {
  int64_t seq = 0;  // the store's key, set by reads
  std::string id;   // "dlv_..."
  std::string organization_id;
  std::string integration_id;
  std::string message_id;
  std::string type;
  std::string regulation;
  std::string ordering_key;
  // Orders the deliveries of one lane (integration, ordering_key): assigned by the store when the
  // message is inserted, increasing in commit order.
  int64_t sequence = 0;
  DeliveryStatus status = DeliveryStatus::kPending;
  // The exact bytes to send. Empty on insert means "the message's payload" (stored once).
  std::string payload;
  int64_t attempt_count = 0;
  int64_t next_attempt_at = 0;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  // Its user was erased: payload and response bodies are gone (payload reads as "").
  bool erased = false;
  std::vector<AttemptRow> attempts;  // filled by reads, oldest first
};

// A delivery handed to the dispatcher by a claim, with everything needed to send it.
struct ClaimedDelivery {
  int64_t seq = 0;  // the store's key for the delivery
  std::string id;
  std::string organization_id;
  std::string integration_id;
  int64_t integration_version = 0;
  std::string message_id;
  std::string type;
  std::string payload;         // the exact bytes to send
  int64_t attempt_count = 0;   // attempts before this one
  int64_t cycle_attempts = 0;  // attempts since it was last (re)queued: its place in the schedule
  int64_t message_created_at = 0;
  int64_t lease_token = 0;
};

struct ClaimRequest {
  int64_t now = 0;
  int64_t lease_until = 0;  // a claim not resolved by then may be claimed again
  int64_t lease_token = 0;  // identifies this claim when its outcome is recorded
  int limit = 0;
  std::vector<std::string> excluded_integrations;  // at their in-flight cap
  // The most deliveries of one integration in flight at once across every node sharing the
  // database (0: no limit). A backend several nodes share enforces it when claiming; the
  // embedded store has one node, whose dispatcher keeps its own count.
  int integration_cap = 0;
};

// What became of a claimed delivery.
struct DeliveryOutcome {
  int64_t seq = 0;
  int64_t lease_token = 0;
  std::optional<AttemptRow> attempt;                 // nullopt: released untried (shutdown)
  DeliveryStatus status = DeliveryStatus::kPending;  // pending (retry), succeeded, dead, cancelled
  int64_t next_attempt_at = 0;                       // when pending
};

// A delivery this node holds: its claim's lease token.
struct HeldLease {
  int64_t seq = 0;
  int64_t lease_token = 0;
};

struct ReplayFilter {
  DeliveryStatus status = DeliveryStatus::kDead;
  std::optional<int64_t> since;
  std::optional<int64_t> until;
};

struct DeliveryCounts {
  int64_t pending = 0;
  int64_t in_flight = 0;
  int64_t dead = 0;
};

// What an Idempotency-Key remembers: the request it came with and the answer it got.
struct IdempotencyRow {
  std::string organization_id;
  std::string key;
  std::string request_hash;
  std::string user_id;  // the consent user the answer names: erased with it
  int response_status = 0;
  std::string response_body;
  int64_t created_at = 0;
};

struct DeliveryFilter {
  std::string integration_id;
  std::optional<DeliveryStatus> status;
  std::string type;              // empty = any
  std::optional<int64_t> since;  // created_at >= since
  std::optional<int64_t> until;  // created_at < until
};

struct PageRequest {
  int64_t limit = 100;
  int64_t skip = 0;
};

template <typename T>
struct Page {
  int64_t total = 0;
  std::vector<T> items;
};

// The operations available inside one write transaction (Store::Write). Reads see the
// transaction's own writes. Not thread-safe: used by the one closure it was handed to.
class WriteTransaction {
 public:
  virtual ~WriteTransaction() = default;

  virtual Result<std::set<std::string>> GetOrganizationFeatures(
      const std::string& organization_id) = 0;
  // Enabled, not deleted integrations of the organization (the fan-out targets).
  virtual Result<std::vector<IntegrationRow>> ListEnabledIntegrations(
      const std::string& organization_id) = 0;

  virtual Result<std::optional<ConsentUserRow>> GetUser(const std::string& organization_id,
                                                        const std::string& id) = 0;
  virtual Result<std::optional<ConsentUserRow>> FindUserByOrganizationUserId(
      const std::string& organization_id, const std::string& organization_user_id) = 0;
  // Inserts, or replaces the row with the same id. kConflict when another user of the
  // organization already has the organization_user_id.
  virtual Status PutUser(const ConsentUserRow& user) = 0;
  // Erasure: deletes the user, all its events and its stored idempotent answers, and records the
  // erasure, so that its deliveries' payloads and response bodies are erased as each finishes
  // (Store::EraseFinished). kNotFound if absent.
  virtual Status DeleteUser(const std::string& organization_id, const std::string& id) = 0;

  virtual Result<std::optional<ConsentEventRow>> GetEvent(const std::string& organization_id,
                                                          const std::string& id) = 0;
  // kConflict when the organization already has an event with this id.
  virtual Status InsertEvent(const ConsentEventRow& event) = 0;
  virtual Status UpdateEvent(const ConsentEventRow& event) = 0;
  virtual Status DeleteEvent(const std::string& organization_id, const std::string& id) = 0;

  // Inserts the message and its deliveries (sequence assigned here).
  virtual Status InsertMessage(const MessageRow& message,
                               const std::vector<DeliveryRow>& deliveries) = 0;

  // The key's row if it was created at or after `not_before`; older rows count as absent.
  virtual Result<std::optional<IdempotencyRow>> GetIdempotencyKey(
      const std::string& organization_id, const std::string& key, int64_t not_before) = 0;
  virtual Status PutIdempotencyKey(const IdempotencyRow& row) = 0;
};

// All methods are thread-safe and each is atomic: it either happens whole or not at all. A write
// that returns ok is durable (on disk, or committed on the database server). Errors: kNotFound
// for absent rows (rows of another organization count as absent), kConflict for duplicates and
// version mismatches, kUnavailable when the database cannot be written (disk full, locked too
// long), kInternal otherwise.
class Store {
 public:
  virtual ~Store() = default;

  // --- settings: small named values the server itself owns (e.g. the master key check) ---
  virtual Result<std::optional<std::string>> GetSetting(const std::string& name) = 0;
  // Stores `value` unless `name` already has one; returns the value in force afterwards.
  virtual Result<std::string> PutSettingIfAbsent(const std::string& name,
                                                 const std::string& value) = 0;

  // --- health ---
  // Whether writes go through now: ok, or kUnavailable saying why (the disk is full, the database
  // is down, the writer has been stuck for seconds). The last write's outcome answers; when it is
  // older than a second, a small write probes the store. For /healthz; thread-safe.
  virtual Status CheckWritable() = 0;

  // --- API keys ---
  // Creates the key and any organization it names that does not exist yet.
  virtual Status CreateApiKey(const ApiKeyRow& key) = 0;
  virtual Result<ApiKeyRow> GetApiKey(const std::string& id) = 0;
  // Whether the key is revoked and whether it may act for `organization_id` (false for ""),
  // without reading its other organizations; kNotFound when there is no such key.
  virtual Result<KeyGrant> GetKeyGrant(const std::string& key_id,
                                       const std::string& organization_id) = 0;
  virtual Result<std::vector<ApiKeyRow>> ListApiKeys() = 0;
  // Marks the key revoked at `now`; kNotFound if absent. Revoking twice keeps the first time.
  virtual Status RevokeApiKey(const std::string& id, int64_t now) = 0;

  // --- organizations and their features ---
  // Enables or disables `feature`; creates the organization when it does not exist yet.
  virtual Status SetOrganizationFeature(const std::string& organization_id,
                                        const std::string& feature, bool enabled, int64_t now) = 0;
  // The organization's enabled features; empty for an unknown organization.
  virtual Result<std::set<std::string>> GetOrganizationFeatures(
      const std::string& organization_id) = 0;
  virtual Result<std::vector<OrganizationRow>> ListOrganizations() = 0;

  // --- integrations (always scoped to an organization) ---
  virtual Status CreateIntegration(const IntegrationRow& row) = 0;
  virtual Result<IntegrationRow> GetIntegration(const std::string& organization_id,
                                                const std::string& id) = 0;
  // Oldest first, stable across pages.
  virtual Result<Page<IntegrationRow>> ListIntegrations(const std::string& organization_id,
                                                        const PageRequest& page) = 0;
  // Replaces the row if its stored version is `expected_version`, else kConflict.
  virtual Status UpdateIntegration(const IntegrationRow& row, int64_t expected_version) = 0;
  // Marks deleted (kept for the history of its deliveries) and erases its secrets.
  virtual Status DeleteIntegration(const std::string& organization_id, const std::string& id,
                                   int64_t now) = 0;

  // --- writes that must be atomic with their outbox rows ---
  // Runs `body` inside one transaction and commits when it returns ok; any error (from the body
  // or the commit) rolls everything back and is returned. The body may run again after a
  // transient failure, so it must have no side effects outside the transaction.
  virtual Status Write(const std::function<Status(WriteTransaction&)>& body) = 0;

  // --- consent reads (always scoped to an organization) ---
  virtual Result<std::optional<ConsentEventRow>> GetEvent(const std::string& organization_id,
                                                          const std::string& id) = 0;
  // Newest first; `user_id` and `regulation` filter when not empty.
  virtual Result<Page<ConsentEventRow>> ListEvents(const std::string& organization_id,
                                                   const std::string& user_id,
                                                   const std::string& regulation,
                                                   const PageRequest& page) = 0;
  virtual Result<std::optional<ConsentUserRow>> GetUser(const std::string& organization_id,
                                                        const std::string& id) = 0;
  virtual Result<std::optional<ConsentUserRow>> FindUserByOrganizationUserId(
      const std::string& organization_id, const std::string& organization_user_id) = 0;
  // Oldest first; `organization_user_id` filters when not empty.
  virtual Result<Page<ConsentUserRow>> ListUsers(const std::string& organization_id,
                                                 const std::string& organization_user_id,
                                                 const PageRequest& page) = 0;

  // --- the outbox, as the API shows it ---
  // Newest first. Payloads are resolved (a delivery without its own payload shows the message's).
  virtual Result<Page<DeliveryRow>> ListDeliveries(const std::string& organization_id,
                                                   const DeliveryFilter& filter,
                                                   const PageRequest& page) = 0;
  virtual Result<std::optional<DeliveryRow>> GetDelivery(const std::string& organization_id,
                                                         const std::string& integration_id,
                                                         const std::string& id) = 0;

  // --- the delivery engine ---
  // Claims up to `limit` due deliveries (pending with next_attempt_at <= now, or in flight with an
  // expired lease) of enabled integrations, oldest due first, marking them in flight until
  // lease_until. Never hands out a delivery whose lease holds.
  virtual Result<std::vector<ClaimedDelivery>> ClaimDeliveries(const ClaimRequest& request) = 0;
  // Records attempts and new statuses in one transaction. An outcome whose lease token no longer
  // matches (the delivery was claimed again) changes no status, and keeps its attempt only where
  // the holder recorded none with that number. A retry or release (pending) of a delivery whose
  // integration was deleted becomes cancelled.
  virtual Status RecordOutcomes(const std::vector<DeliveryOutcome>& outcomes, int64_t now) = 0;
  // RecordOutcomes then ClaimDeliveries, in one round trip where the backend can (the
  // dispatcher's steady state). Fails as a whole: nothing recorded, nothing claimed.
  virtual Result<std::vector<ClaimedDelivery>> RecordAndClaim(
      const std::vector<DeliveryOutcome>& outcomes, int64_t now, const ClaimRequest& request);
  // Extends to `lease_until` the leases of the deliveries still held under these tokens (the
  // holder's heartbeat). A delivery claimed again by someone else, or finished, is left alone.
  // Returns how many leases were extended.
  virtual Result<int64_t> RenewLeases(const std::vector<HeldLease>& held, int64_t lease_until) = 0;
  // Puts every in-flight delivery back to pending: for a backend only one process can use, at
  // start, since nobody else can hold a claim.
  virtual Status ReleaseAllClaims(int64_t now) = 0;
  // Re-queues one delivery now with a fresh retry schedule. kFailedPrecondition while in flight.
  virtual Result<DeliveryRow> RequeueDelivery(const std::string& organization_id,
                                              const std::string& integration_id,
                                              const std::string& id, int64_t now) = 0;
  // Re-queues every matching delivery, in batches of `batch` (one transaction each), never
  // holding them all in memory. Returns how many.
  virtual Result<int64_t> RequeueDeliveries(const std::string& organization_id,
                                            const std::string& integration_id,
                                            const ReplayFilter& filter, int64_t now, int batch) = 0;
  // Deletes up to `batch` deliveries in `status` last changed before `before` (with their
  // attempts, and messages left without deliveries). Returns how many.
  virtual Result<int64_t> PurgeDeliveries(DeliveryStatus status, int64_t before, int batch) = 0;
  virtual Result<DeliveryCounts> CountDeliveries() = 0;
  // For each erased user: erases the payload and response bodies of its finished deliveries (a
  // dead one becomes cancelled), and the payload of its messages with no delivery left to send;
  // an erasure with nothing left waiting is done. Returns how many deliveries were erased.
  virtual Result<int64_t> EraseFinished(int64_t now) = 0;
  // Forgets Idempotency-Key answers created before `before` (and other bookkeeping as old).
  virtual Status PurgeExpiredRecords(int64_t before) = 0;
};

}  // namespace relay::store
