// ConsentService: the Consents API's rules. Every change is written in one store transaction
// together with the webhook messages it produces and their deliveries (the outbox), so no
// accepted change can lose its webhooks and no webhook describes a change that was rolled back.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "store/consent_store.h"

namespace relay::consent {

inline constexpr int64_t kIdempotencyWindowMillis = 24LL * 3600 * 1000;

struct CreatedEvent {
  std::string body;       // the 201 answer: the stored event
  bool replayed = false;  // true when an Idempotency-Key returned an earlier answer
};

// Thread-safe. Every method is scoped to `organization_id`; another organization's events and
// users are kNotFound. Entities are JSON objects in the API's shape.
class ConsentService {
 public:
  ConsentService(store::ConsentStore& store, const Clock& clock) : store_(store), clock_(clock) {}

  // POST /v1/consents/events. `raw_body` identifies the request for `idempotency_key` (may be
  // empty): the same key and body within 24 h return the first answer and write nothing; the
  // same key with another body is kFailedPrecondition. A known client event id is kConflict.
  Result<CreatedEvent> CreateEvent(const std::string& organization_id,
                                   const boost::json::value& body, const std::string& raw_body,
                                   const std::string& idempotency_key);
  Result<boost::json::object> GetEvent(const std::string& organization_id, const std::string& id);
  // Newest first. Filters by user (Didomi id or organization_user_id) and regulation when given.
  Result<store::Page<boost::json::object>> ListEvents(const std::string& organization_id,
                                                      const std::string& user_id,
                                                      const std::string& organization_user_id,
                                                      const std::string& regulation,
                                                      const store::PageRequest& page);
  // Only `status` (confirmed or pending_approval) and `metadata` (merge patch) may change.
  Result<boost::json::object> PatchEvent(const std::string& organization_id, const std::string& id,
                                         const boost::json::value& patch);
  Result<boost::json::object> DeleteEvent(const std::string& organization_id,
                                          const std::string& id);

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
                                        const std::string& regulation);
  // Erasure: the user and its events are removed; user.deleted is sent.
  Result<boost::json::object> DeleteUser(const std::string& organization_id, const std::string& id,
                                         const std::string& regulation);

 private:
  store::ConsentStore& store_;
  const Clock& clock_;
};

}  // namespace relay::consent
