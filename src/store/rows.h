// The rows every store role reads and writes. Rows hold what the database holds: secrets arrive
// already sealed (encrypted) by the caller and leave sealed; JSON columns are opaque text to the
// store.
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

// An integration's endpoint health: what its delivery attempts showed, and its circuit breaker.
// Written by the store as it records outcomes (HealthPolicy); read-only for the API.
struct IntegrationHealthRow {
  int64_t consecutive_failures = 0;  // failed attempts since the last success
  std::optional<int64_t> last_success_at;
  std::optional<int64_t> last_failure_at;
  std::optional<int64_t> failing_since;  // the first failure since the last success
  // Set while the breaker is open: no delivery is claimed until then, and then one probe (whose
  // claim moves it to its lease's end).
  std::optional<int64_t> open_until;
  int64_t cooldown_ms = 0;      // the current open period: doubles after each failed probe
  std::string disabled_reason;  // why the relay disabled the integration; empty otherwise
};

enum class HealthState { kHealthy, kFailing, kOpen, kDisabled };
const char* HealthStateName(HealthState state);
HealthState StateOf(const IntegrationHealthRow& health, bool enabled);

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
  IntegrationHealthRow health;  // filled by reads; writes leave it alone
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
  // The W3C trace context of the change ("00-<trace id>-<parent id>-<flags>"): the webhook
  // requests continue its trace. Empty on rows written before it was kept.
  std::string traceparent;
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
  std::string traceparent;           // its message's (MessageRow::traceparent)
  std::vector<AttemptRow> attempts;  // filled by reads, oldest first
  // On insert: its integration's ordering is "none", so the delivery is a lane of its own
  // rather than a follower in its user's lane.
  bool unordered = false;
};

// A delivery handed to the dispatcher by a claim, with everything needed to send it.
struct ClaimedDelivery {
  int64_t seq = 0;      // the store's key for the delivery
  int64_t lane_id = 0;  // its lane: deliveries of one lane are claimed in order, sent in turn
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
  bool probe = false;       // the one delivery a half-open breaker lets through
  std::string traceparent;  // its message's (MessageRow::traceparent)
};

struct ClaimRequest {
  int64_t now = 0;
  int64_t lease_until = 0;  // a claim not resolved by then may be claimed again
  int64_t lease_token = 0;  // identifies this claim when its outcome is recorded
  int limit = 0;
  std::vector<std::string> excluded_integrations;  // at their in-flight cap
  // The most deliveries of one integration in flight at once across every node sharing the
  // database (0: no limit). A backend several nodes share enforces it when claiming; the
  // embedded store has one node, whose dispatcher keeps its own count. It counts lanes in flight:
  // a lane sends one delivery at a time.
  int integration_cap = 0;
  // Deliveries of one lane handed out together (its head and the followers behind it, in order):
  // the holder sends each right after the one before succeeds, without another claim. `limit`
  // counts lanes.
  int lane_depth = 1;
};

// What became of a claimed delivery.
struct DeliveryOutcome {
  int64_t seq = 0;
  int64_t lease_token = 0;
  std::string integration_id;                        // whose health the attempt tells of
  bool probe = false;                                // as claimed
  std::optional<AttemptRow> attempt;                 // nullopt: released untried (shutdown)
  DeliveryStatus status = DeliveryStatus::kPending;  // pending (retry), succeeded, dead, cancelled
  int64_t next_attempt_at = 0;                       // when pending
  // The attempt does not count in the delivery's retry cycle (its integration's breaker is open
  // or it is disabled: the delivery waits, its schedule paused). Set by the store.
  bool uncounted = false;
};

// How attempts' failures affect their integration (the dispatcher's flags).
struct HealthPolicy {
  int breaker_failures = 10;  // consecutive failed attempts that open the breaker
  int64_t breaker_cooldown_ms = 30'000;
  int64_t breaker_max_cooldown_ms = 600'000;
  int64_t auto_disable_after_ms = 5LL * 86'400'000;  // 0: never
};

// An integration's health after a batch of outcomes, for the node that recorded them.
struct HealthReport {
  std::string integration_id;
  std::string organization_id;
  IntegrationHealthRow health;
  bool enabled = true;
  // The states it entered, in order, with why: each change is reported once, to the node whose
  // outcomes caused it.
  std::vector<std::pair<HealthState, std::string>> changes;
  int64_t dead = 0;  // its outcomes in the batch that ended dead (those held are not)
  // Nothing of it may be sent now (breaker open, or disabled): claimed deliveries go back.
  bool held() const { return !enabled || health.open_until.has_value(); }
};

// A store round trip's answer: the health its outcomes reported, and what it claimed.
struct RoundTripResult {
  std::vector<HealthReport> health;
  std::vector<ClaimedDelivery> claimed;
};

// A delivery this node holds: its claim's lease token.
struct HeldLease {
  int64_t seq = 0;
  int64_t lease_token = 0;
  int64_t lane_id = 0;  // the lane's lease is extended with its deliveries'
};

struct StoreFacts {
  int64_t schema_version = 0;
  int64_t supported_schema_version = 0;        // this build's
  std::optional<int64_t> server_clock_millis;  // the database server's clock (PostgreSQL)
};

struct DeliveryScope {
  std::string organization_id;
  std::string integration_id;
};

struct ReplayFilter {
  DeliveryStatus status = DeliveryStatus::kDead;
  std::optional<int64_t> since;
  std::optional<int64_t> until;
  // Called after each batch with how many were re-queued so far (a progress bar); may be empty.
  std::function<void(int64_t)> on_batch;
};

struct DeliveryCounts {
  int64_t pending = 0;
  int64_t in_flight = 0;
  int64_t dead = 0;
};

// IdempotencyRow::user_id of a batch's answer, which names several users.
inline constexpr char kBatchAnswer[] = "*";

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
  // Keyset paging, where a listing offers it (deliveries): no total is counted, `skip` is unused,
  // and the page starts after the item `after` names (empty: at the start). A page costs its
  // rows, wherever it is in the listing.
  bool keyset = false;
  std::string after = "";
};

template <typename T>
struct Page {
  int64_t total = 0;  // not counted for a keyset page
  std::vector<T> items;
  bool more = false;  // a keyset page: more items follow
};

}  // namespace relay::store
