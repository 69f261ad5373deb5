// ConsentService: the Consents API's rules. Every change is written in one store transaction
// together with the webhook messages it produces and their deliveries (the outbox), so no
// accepted change can lose its webhooks and no webhook describes a change that was rolled back.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "store/consent_store.h"

namespace relay::consent {

inline constexpr int64_t kIdempotencyWindowMillis = 24LL * 3600 * 1000;
inline constexpr size_t kMaxBatchEvents = 100;

// How a write is made: `quiet` (Didomi's `$disable_integrations=true`) stores the change without
// webhooks; `traceparent` (a valid W3C trace context, or empty for a new trace) is kept with the
// messages the change produces, and their webhooks continue it.
struct WriteOptions {
  bool quiet = false;
  std::string traceparent;
};

struct CreatedEvent {
  std::string body;       // the 201 answer: the stored event
  bool replayed = false;  // true when an Idempotency-Key returned an earlier answer
};

// Thread-safe. Every method is scoped to `organization_id`; another organization's events and
// users are kNotFound. Entities are JSON objects in the API's shape. A write with `quiet` set
// (Didomi's `$disable_integrations=true`) stores the change and updates the user, and produces
// no webhook message: imports of history do not flood the endpoints.
class ConsentService {
 public:
  ConsentService(store::ConsentStore& store, const Clock& clock) : store_(store), clock_(clock) {}

  // POST /v1/consents/events. `raw_body` identifies the request for `idempotency_key` (may be
  // empty): the same key and body within 24 h return the first answer and write nothing; the
  // same key with another body is kFailedPrecondition. A known client event id is kConflict.
  // The key covers `quiet` too: the same body sent quiet and loud are two requests. A body that
  // is an array of 1 to kMaxBatchEvents events is a batch (Didomi's batch import): stored all or
  // nothing, in one transaction, answered with the stored events in order; an error names the
  // event's index ("[3].consents.purposes[0].enabled"), and the key covers the whole batch.
  Result<CreatedEvent> CreateEvent(const std::string& organization_id,
                                   const boost::json::value& body, const std::string& raw_body,
                                   const std::string& idempotency_key,
                                   const WriteOptions& options = {});
  Result<boost::json::object> GetEvent(const std::string& organization_id, const std::string& id);
  // Newest first. Filters by user (Didomi id or organization_user_id) and regulation when given.
  Result<store::Page<boost::json::object>> ListEvents(const std::string& organization_id,
                                                      const std::string& user_id,
                                                      const std::string& organization_user_id,
                                                      const std::string& regulation,
                                                      const store::PageRequest& page);
  // Only `status` (confirmed or pending_approval) and `metadata` (merge patch) may change.
  Result<boost::json::object> PatchEvent(const std::string& organization_id, const std::string& id,
                                         const boost::json::value& patch,
                                         const WriteOptions& options = {});

  // The console's "Send test event": a synthetic event.created (of a made-up user, marked
  // "test": true, stored nowhere but in the outbox) sent to one integration only, whatever its
  // filters. Returns {"type", "event_id"}.
  Result<boost::json::object> SendTestEvent(const std::string& organization_id,
                                            const std::string& integration_id,
                                            const WriteOptions& options = {});
  Result<boost::json::object> DeleteEvent(const std::string& organization_id, const std::string& id,
                                          const WriteOptions& options = {});

  // Users are shown for one regulation (default gdpr): their merged consents for it.
  Result<boost::json::object> GetUser(const std::string& organization_id, const std::string& id,
                                      const std::string& regulation);
  Result<store::Page<boost::json::object>> ListUsers(const std::string& organization_id,
                                                     const std::string& organization_user_id,
                                                     const std::string& regulation,
                                                     const store::PageRequest& page);
  // Only `metadata` (merge patch) and `organization_user_id` may change.
  Result<boost::json::object> PatchUser(const std::string& organization_id, const std::string& id,
                                        const boost::json::value& patch,
                                        const std::string& regulation,
                                        const WriteOptions& options = {});
  // Erasure: the user and its events are removed; user.deleted is sent (unless quiet).
  Result<boost::json::object> DeleteUser(const std::string& organization_id, const std::string& id,
                                         const std::string& regulation,
                                         const WriteOptions& options = {});

 private:
  Result<CreatedEvent> CreateBatch(const std::string& organization_id,
                                   const boost::json::array& bodies,
                                   const std::string& request_hash,
                                   const std::string& idempotency_key, const WriteOptions& options);

  store::ConsentStore& store_;
  const Clock& clock_;
};

}  // namespace relay::consent
