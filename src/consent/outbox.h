// The outbox: webhook messages in Didomi's envelope, and their fan-out into one delivery per
// matching integration, written inside the caller's transaction.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "integrations/integration.h"
#include "store/consent_store.h"

namespace relay::consent {

// One webhook message before it is stored: {"type", "regulation", "parameters"}.
struct OutgoingMessage {
  std::string type;                // event.created, ..., user.deleted
  std::string regulation;          // the regulation it concerns
  boost::json::object parameters;  // may be left empty when `payload` is given
  std::string payload =
      {};  // the envelope rendered, when the caller already did; else Publish does
};

// The envelope exactly as Didomi documents it.
boost::json::object Envelope(const OutgoingMessage& message);

// Didomi's "flatten" option: `entity` (or `new_entity`, which it replaces) becomes one flat
// object whose keys join the path with "__", array elements by index
// ("consents__purposes__0__id"). Empty objects and arrays are kept as values. Other parameters
// are unchanged.
boost::json::object FlattenEnvelope(const boost::json::object& envelope);

// Writes `messages` (in order, all with `ordering_key`) and one pending delivery per enabled
// integration of the organization whose filters match. Nothing fans out while the organization
// lacks the `webhooks` feature, and non-GDPR messages only with `multi-regulation`. A message
// that matches no integration is not stored. Each message keeps `traceparent` (a W3C trace
// context), or one of a new trace when it is empty. Returns the number of deliveries written.
Result<size_t> Publish(store::WriteTransaction& txn, const std::string& organization_id,
                       const std::string& ordering_key,
                       const std::vector<OutgoingMessage>& messages, int64_t now,
                       const std::string& traceparent = {});

// The ordering key (lane) of test messages: they never wait behind, nor hold up, a real user's.
inline constexpr char kTestOrderingKey[] = "consent-relay:test";

// "Send test event": `message` to the one integration, whatever its filters and the
// organization's features (the integration must take new messages: kNotFound otherwise).
Status PublishTest(store::WriteTransaction& txn, const std::string& organization_id,
                   const std::string& integration_id, const OutgoingMessage& message, int64_t now,
                   const std::string& traceparent);

}  // namespace relay::consent
