// Consent events (Didomi Consents API v2): validation of a POST body into an event entity, and
// the merge of an event's choices into a user's consent status.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>

#include "common/status.h"

namespace relay::consent {

// Per event.
inline constexpr size_t kMaxPurposes = 1000;
inline constexpr size_t kMaxVendors = 10000;
// Per user and regulation, after the merge: an event that would pass one is refused whole.
inline constexpr size_t kMaxUserPurposes = 2000;
inline constexpr size_t kMaxUserVendors = 20000;       // enabled and disabled together
inline constexpr size_t kMaxUserPurposeValues = 1000;  // preference values of one purpose

// A validated POST /v1/consents/events body.
struct EventInput {
  std::optional<std::string> id;      // client-chosen, else generated
  std::optional<int64_t> created_at;  // client-given, else now
  std::string user_id;                // Didomi user id, may be empty
  std::string organization_user_id;   // the organization's own id, may be empty
  std::optional<boost::json::object> user_metadata;
  std::string regulation = "gdpr";
  boost::json::object consents;  // normalized: purposes, vendors{enabled,disabled}, tcfcs
  boost::json::object metadata;
  std::optional<boost::json::object> delegate;
  // "confirmed", or "pending_approval": stored and announced, but the user's consents wait for
  // its confirmation.
  std::string status = "confirmed";
};

// Validates every rule of the API; errors are kInvalidArgument naming the field, e.g.
// "consents.purposes[2].enabled". `organization_id` is not accepted here (the API checks it).
Result<EventInput> ParseEventInput(const boost::json::object& body);

// Ids a client may choose for events: 1 to 128 of [A-Za-z0-9._:-].
bool IsValidClientId(std::string_view id);

// Merges `consents` (an event's, normalized) into `status` (a user's status for one regulation,
// normalized, possibly empty):
// - purposes by id: a purpose's `enabled` is replaced (null means "no choice on the purpose
//   itself" and keeps an earlier true/false), its `values` merge by preference id, its
//   `metadata` is replaced when given; new purposes are appended;
// - vendors: enabling moves a vendor out of `disabled` and into `enabled`, and back;
// - tcfcs: a string replaces the stored one; null or absent keeps it.
// Refuses with kInvalidArgument naming the limit, and leaves `status` as it was, when the result
// would pass kMaxUserPurposes, kMaxUserVendors or kMaxUserPurposeValues; kInternal when the
// stored status is malformed. Costs O(n log n) in the status and the event.
Status MergeConsents(boost::json::object& status, const boost::json::object& consents);

// A confirmed event's place in its user's history (created_at, then id breaks ties) and its
// choices (normalized).
struct HistoryEntry {
  int64_t created_at = 0;
  std::string id;
  boost::json::object consents;
};
inline bool Before(const HistoryEntry& a, const HistoryEntry& b) {
  return a.created_at != b.created_at ? a.created_at < b.created_at : a.id < b.id;
}
// A user's status for one regulation: its confirmed events merged in history order (sorts
// `entries`), whatever order they arrived in: a backdated event never overwrites a later choice.
Result<boost::json::object> FoldConsents(std::vector<HistoryEntry> entries);

// An empty normalized status: {"purposes":[],"vendors":{"enabled":[],"disabled":[]},"tcfcs":null}.
boost::json::object EmptyConsents();

}  // namespace relay::consent
