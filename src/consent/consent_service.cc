// ConsentService implementation.
#include "consent/consent_service.h"

#include <boost/json.hpp>
#include <functional>
#include <map>
#include <set>

#include "common/crypto.h"
#include "common/ids.h"
#include "common/json.h"
#include "common/time_format.h"
#include "consent/consent_event.h"
#include "consent/outbox.h"
#include "integrations/integration.h"

namespace relay::consent {
namespace json = boost::json;

namespace {

constexpr size_t kMaxIdempotencyKeyLength = 255;

// A user's stored state: {"metadata": {...}, "regulations": {"gdpr": <consents>, ...}}.
Result<json::object> ParseState(const store::ConsentUserRow& row) {
  auto state = ParseJson(row.state_json);
  if (!state.ok() || !state->is_object()) return Internal("stored user " + row.id + " is invalid");
  json::object s = state->as_object();
  if (!s["metadata"].is_object()) s["metadata"] = json::object();
  if (!s["regulations"].is_object()) s["regulations"] = json::object();
  return s;
}

json::value OptionalString(const std::string& s) {
  return s.empty() ? json::value(nullptr) : json::value(s);
}

json::object UserView(const store::ConsentUserRow& row, const json::object& state,
                      const std::string& regulation) {
  const json::object& regs = state.at("regulations").as_object();
  const json::value* consents = regs.if_contains(regulation);
  return json::object{{"id", row.id},
                      {"organization_id", row.organization_id},
                      {"organization_user_id", OptionalString(row.organization_user_id)},
                      {"metadata", state.at("metadata")},
                      {"created_at", FormatTimestamp(row.created_at)},
                      {"updated_at", FormatTimestamp(row.updated_at)},
                      {"regulation", regulation},
                      {"consents", consents ? *consents : json::value(EmptyConsents())}};
}

// The regulations a user-level change (PATCH, DELETE) is announced for: every regulation the
// user has consents for, so that each integration hears of it through its regulation filter.
std::vector<std::string> UserRegulations(const json::object& state) {
  std::vector<std::string> out;
  for (const auto& kv : state.at("regulations").as_object()) out.emplace_back(kv.key());
  if (out.empty()) out.emplace_back("gdpr");
  return out;
}

Result<json::object> ParseEntity(const store::ConsentEventRow& row) {
  auto v = ParseJson(row.entity_json);
  if (!v.ok() || !v->is_object()) return Internal("stored event " + row.id + " is invalid");
  return v->as_object();
}

Status CheckRegulation(const std::string& regulation) {
  if (!integrations::IsValidRegulationId(regulation)) {
    return InvalidField("regulation", "must be 1 to 32 characters from a-z 0-9 _ -");
  }
  return Status::Ok();
}

Status CheckPatchFields(const json::value& patch, std::initializer_list<std::string_view> allowed,
                        const std::string& why) {
  if (!patch.is_object()) return InvalidArgument("the request body must be a JSON object");
  for (const auto& kv : patch.as_object()) {
    if (std::find(allowed.begin(), allowed.end(), kv.key()) == allowed.end()) {
      return InvalidField(std::string(kv.key()), why);
    }
  }
  return Status::Ok();
}

}  // namespace

namespace {

// A user's history of one regulation, for merging again: its confirmed events' places and choices.
// `patched`, when given, stands for the stored event with its id.
Result<std::vector<HistoryEntry>> History(const std::vector<store::ConsentEventRow>& rows,
                                          const std::string& regulation,
                                          const json::object* patched = nullptr) {
  std::vector<HistoryEntry> out;
  for (const auto& row : rows) {
    if (row.regulation != regulation) continue;
    json::object entity;
    if (patched && patched->at("id").as_string() == row.id) {
      entity = *patched;
    } else {
      RELAY_ASSIGN_OR_RETURN(entity, ParseEntity(row));
    }
    const json::value* status = entity.if_contains("status");
    if (status && status->is_string() && status->as_string() != "confirmed") continue;
    const json::value* consents = entity.if_contains("consents");
    out.push_back(
        HistoryEntry{row.created_at, row.id,
                     consents && consents->is_object() ? consents->as_object() : json::object()});
  }
  return out;
}

// The place in history of the latest confirmed event merged into a regulation, kept in the
// user's state ("merged": {regulation: [created_at, id]}) so that an event at or after it merges
// at once and only a backdated one makes the user's history be merged again.
std::optional<HistoryEntry> LastMerged(const json::object& state, const std::string& regulation) {
  const json::value* merged = state.if_contains("merged");
  if (!merged || !merged->is_object()) return std::nullopt;
  const json::value* at = merged->as_object().if_contains(regulation);
  if (!at || !at->is_array() || at->as_array().size() != 2 || !at->as_array()[0].is_int64() ||
      !at->as_array()[1].is_string()) {
    return std::nullopt;
  }
  return HistoryEntry{at->as_array()[0].as_int64(), std::string(at->as_array()[1].as_string()), {}};
}
void SetLastMerged(json::object& state, const std::string& regulation,
                   const std::optional<HistoryEntry>& last) {
  json::value& merged = state["merged"];
  if (!merged.is_object()) merged = json::object();
  if (last) {
    merged.as_object()[regulation] = json::array{last->created_at, json::string(last->id)};
  } else {
    merged.as_object().erase(regulation);
  }
}
// The regulation's status merged again from `history`, and its latest place.
Status Remerge(json::object& state, const std::string& regulation,
               std::vector<HistoryEntry> history) {
  std::optional<HistoryEntry> last;
  for (const auto& e : history) {
    if (!last || Before(*last, e)) last = HistoryEntry{e.created_at, e.id, {}};
  }
  RELAY_ASSIGN_OR_RETURN(json::object status, FoldConsents(std::move(history)));
  state["regulations"].as_object()[regulation] = std::move(status);
  SetLastMerged(state, regulation, last);
  return Status::Ok();
}

// Reads a user's events, inside the write transaction; absent where a plan is made outside it.
using HistoryLoader =
    std::function<Result<std::vector<store::ConsentEventRow>>(const std::string&)>;
HistoryLoader HistoryIn(store::WriteTransaction& txn, const std::string& org) {
  return [&txn, org](const std::string& user_id) { return txn.ListUserEvents(org, user_id); };
}

// The user an event names: by Didomi id, else by the organization's id. On the store's reads or
// in a write transaction.
template <typename Reader>
Result<std::optional<store::ConsentUserRow>> NamedUser(Reader& reader, const std::string& org,
                                                       const EventInput& in) {
  return in.user_id.empty() ? reader.FindUserByOrganizationUserId(org, in.organization_user_id)
                            : reader.GetUser(org, in.user_id);
}

// Everything an event writes, computed from the user as it was read. Pure: it reads nothing but
// the user's history, and that only for a backdated event.
struct EventPlan {
  std::optional<store::ConsentUserRow> user_before;  // as read; nullopt: a new user
  store::ConsentUserRow user;                        // as it will be stored
  bool user_changed = false;                         // as the API shows it: user.updated is sent
  bool user_written = false;  // its row changes (its state's bookkeeping, at least)
  store::ConsentEventRow event;
  std::vector<OutgoingMessage> messages;  // payloads rendered
};

// The user an event names: by Didomi id (which must exist), else by the organization's id.
Status CheckUser(const EventInput& in, const std::optional<store::ConsentUserRow>& user) {
  if (in.user_id.empty()) return Status::Ok();
  if (!user) return NotFound("user not found: " + in.user_id);
  if (!in.organization_user_id.empty() && user->organization_user_id != in.organization_user_id) {
    return InvalidField("user.organization_user_id", "does not match the user with this id");
  }
  return Status::Ok();
}

bool SameUser(const std::optional<store::ConsentUserRow>& a,
              const std::optional<store::ConsentUserRow>& b) {
  if (!a || !b) return !a && !b;
  return a->id == b->id && a->updated_at == b->updated_at && a->state_json == b->state_json &&
         a->organization_user_id == b->organization_user_id;
}

Result<EventPlan> PlanEvent(const std::string& org, const EventInput& in,
                            std::optional<store::ConsentUserRow> user, int64_t now,
                            const HistoryLoader* history) {
  RELAY_RETURN_IF_ERROR(CheckUser(in, user));
  EventPlan plan;
  plan.user_before = user;
  const bool is_new_user = !user.has_value();
  store::ConsentUserRow& row = plan.user;
  json::object state;
  json::object old_view;
  if (is_new_user) {
    row.id = NewId("usr_", now);
    row.organization_id = org;
    row.organization_user_id = in.organization_user_id;
    row.created_at = row.updated_at = now;
    state = json::object{{"metadata", json::object()}, {"regulations", json::object()}};
  } else {
    row = *user;
    RELAY_ASSIGN_OR_RETURN(state, ParseState(row));
    old_view = UserView(row, state, in.regulation);
  }
  if (in.user_metadata) {
    json::object& md = state["metadata"].as_object();
    for (const auto& kv : *in.user_metadata) md[kv.key()] = kv.value();
  }
  const std::string event_id = in.id ? *in.id : NewId("evt_", now);
  const int64_t created_at = in.created_at.value_or(now);
  json::object& regulations = state["regulations"].as_object();
  const bool had_regulation = regulations.contains(in.regulation);
  bool bookkeeping = false;
  if (in.status == "confirmed") {
    // History in order: an event at or after the latest one merged merges at once; a backdated
    // one (an import) makes the user's confirmed events be merged again in created_at order, so
    // it never overwrites a later choice.
    // An event the server stamps (no created_at given) is never backdated by a tie: events of one
    // millisecond keep their arrival (commit) order, the order their webhooks go out in. Only a
    // given time that sorts before the latest merged one makes the history be merged again.
    const HistoryEntry here{created_at, event_id, in.consents};
    const std::optional<HistoryEntry> last = LastMerged(state, in.regulation);
    const bool backdated =
        last && (in.created_at ? Before(here, *last) : created_at < last->created_at);
    if (!backdated) {
      json::value& status = regulations[in.regulation];
      if (!status.is_object()) status = json::object();
      RELAY_RETURN_IF_ERROR(MergeConsents(status.as_object(), in.consents));
      if (!last || Before(*last, here)) {
        SetLastMerged(state, in.regulation, HistoryEntry{created_at, event_id, {}});
      }
    } else {
      if (!history || is_new_user) return FailedPrecondition("a backdated event needs its history");
      RELAY_ASSIGN_OR_RETURN(auto rows, (*history)(row.id));
      RELAY_ASSIGN_OR_RETURN(auto entries, History(rows, in.regulation));
      entries.push_back(here);
      RELAY_RETURN_IF_ERROR(Remerge(state, in.regulation, std::move(entries)));
    }
    bookkeeping = true;
  } else if (!had_regulation) {
    regulations[in.regulation] = EmptyConsents();  // pending: the user's consents wait for it
  }
  const json::value& status = regulations.at(in.regulation);
  // Only the metadata and this regulation's consents can have changed, and old_view holds both
  // as they were (no copy of the whole state is needed to tell).
  plan.user_changed = is_new_user || !had_regulation ||
                      state.at("metadata") != old_view.at("metadata") ||
                      status != old_view.at("consents");
  plan.user_written = plan.user_changed || bookkeeping;
  if (plan.user_written) {
    if (plan.user_changed) row.updated_at = std::max(now, row.updated_at);
    row.state_json = ToJsonString(state);
  }

  json::object user_ref{{"id", row.id},
                        {"organization_user_id", OptionalString(row.organization_user_id)}};
  if (in.user_metadata) user_ref["metadata"] = *in.user_metadata;
  json::object entity{{"id", event_id},
                      {"organization_id", org},
                      {"created_at", FormatTimestamp(created_at)},
                      {"updated_at", FormatTimestamp(now)},
                      {"regulation", in.regulation},
                      {"status", in.status},
                      {"metadata", in.metadata},
                      {"user", std::move(user_ref)},
                      {"consents", in.consents}};
  if (in.delegate) entity["delegate"] = *in.delegate;
  std::string entity_json = ToJsonString(entity);

  // The payloads are rendered from the serialized parts: the entity is serialized once, and no
  // envelope object is built only to be serialized (the bytes are those of Envelope()).
  auto message = [&](std::string type, std::string parameters) {
    OutgoingMessage m{std::move(type), in.regulation, json::object(), {}};
    m.payload = R"({"type":")";
    m.payload += m.type;
    m.payload += R"(","regulation":")";
    m.payload += in.regulation;  // validated: a-z 0-9 _ -, nothing to escape
    m.payload += R"(","parameters":{)";
    m.payload += parameters;
    m.payload += "}}";
    plan.messages.push_back(std::move(m));
  };
  std::string parameters = R"("entity":)";
  parameters += entity_json;
  message("event.created", std::move(parameters));
  json::object new_view = UserView(row, state, in.regulation);
  if (is_new_user) {
    parameters = R"("entity":)";
    parameters += ToJsonString(new_view);
    message("user.created", std::move(parameters));
  } else if (plan.user_changed) {
    parameters = R"("source":)";
    parameters += entity_json;
    parameters += R"(,"old_entity":)";
    parameters += ToJsonString(old_view);
    parameters += R"(,"new_entity":)";
    parameters += ToJsonString(new_view);
    message("user.updated", std::move(parameters));
  }
  plan.event = store::ConsentEventRow{
      event_id, org, row.id, in.regulation, std::move(entity_json), created_at, now};
  return plan;
}

// The answer an Idempotency-Key remembers for this request, if any (into *body): true when there
// is one; kFailedPrecondition when the key came with another request.
Result<bool> Replay(store::WriteTransaction& txn, const std::string& org, const std::string& key,
                    const std::string& request_hash, int64_t now, std::string* body) {
  if (key.empty()) return false;
  RELAY_ASSIGN_OR_RETURN(auto seen,
                         txn.GetIdempotencyKey(org, key, now - kIdempotencyWindowMillis));
  if (!seen) return false;
  if (!crypto::ConstantTimeEquals(seen->request_hash, request_hash)) {
    return FailedPrecondition(
        "this Idempotency-Key was used with a different request body in the last 24 hours");
  }
  *body = seen->response_body;
  return true;
}

// An error of the batch's event at `index`: its message and fields prefixed with "[index]".
Status AtIndex(size_t index, const Status& s) {
  const std::string prefix = "[" + std::to_string(index) + "]";
  Status out(s.code(), prefix + (s.field_errors().empty() ? ": " : ".") + s.message());
  for (const auto& [field, reason] : s.field_errors()) out.WithField(prefix + "." + field, reason);
  return out;
}

}  // namespace

Result<CreatedEvent> ConsentService::CreateEvent(const std::string& org, const json::value& body,
                                                 const std::string& raw_body,
                                                 const std::string& idempotency_key,
                                                 const WriteOptions& options) {
  if (idempotency_key.size() > kMaxIdempotencyKeyLength) {
    return InvalidArgument("Idempotency-Key must be at most 255 characters");
  }
  std::string request_hash =
      crypto::Sha256(options.quiet ? raw_body + "\n$disable_integrations" : raw_body);
  if (body.is_array())
    return CreateBatch(org, body.as_array(), request_hash, idempotency_key, options);
  if (!body.is_object()) {
    return InvalidArgument("the request body must be a JSON object, or an array of 1 to 100");
  }
  RELAY_ASSIGN_OR_RETURN(EventInput in, ParseEventInput(body.as_object()));

  // The work is planned here, against the user as the read connections see it, so that the write
  // transaction (which every writer shares) only checks that the user is still as read and
  // inserts. When it changed meanwhile, or could not be planned, the plan is made again inside.
  const int64_t planned_at = clock_.NowMillis();
  std::optional<EventPlan> planned;
  {
    Result<std::optional<store::ConsentUserRow>> user = NamedUser(store_, org, in);
    if (user.ok()) {
      auto plan = PlanEvent(org, in, std::move(*user), planned_at, nullptr);
      if (plan.ok()) planned = std::move(*plan);
    }
  }

  CreatedEvent result;
  Status s = store_.Write([&](store::WriteTransaction& txn) -> Status {
    const int64_t now = clock_.NowMillis();
    result = CreatedEvent{};
    RELAY_ASSIGN_OR_RETURN(result.replayed,
                           Replay(txn, org, idempotency_key, request_hash, now, &result.body));
    if (result.replayed) return Status::Ok();
    RELAY_ASSIGN_OR_RETURN(std::optional<store::ConsentUserRow> user, NamedUser(txn, org, in));
    const EventPlan* plan = nullptr;
    EventPlan replanned;
    if (planned && SameUser(planned->user_before, user)) {
      plan = &*planned;
    } else {
      const HistoryLoader history = HistoryIn(txn, org);
      RELAY_ASSIGN_OR_RETURN(replanned, PlanEvent(org, in, std::move(user), now, &history));
      plan = &replanned;
    }
    if (in.id) {
      RELAY_ASSIGN_OR_RETURN(auto existing, txn.GetEvent(org, plan->event.id));
      if (existing) return Conflict("an event with id " + plan->event.id + " already exists");
    }
    if (plan->user_written) RELAY_RETURN_IF_ERROR(txn.PutUser(plan->user));
    RELAY_RETURN_IF_ERROR(txn.InsertEvent(plan->event));
    if (!options.quiet) {
      RELAY_RETURN_IF_ERROR(Publish(txn, org, plan->user.id, plan->messages, plan->event.updated_at,
                                    options.traceparent)
                                .status());
    }

    result.body = plan->event.entity_json;
    if (!idempotency_key.empty()) {
      RELAY_RETURN_IF_ERROR(txn.PutIdempotencyKey(store::IdempotencyRow{
          org, idempotency_key, request_hash, plan->user.id, 201, result.body, now}));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return result;
}

Result<CreatedEvent> ConsentService::CreateBatch(const std::string& org, const json::array& bodies,
                                                 const std::string& request_hash,
                                                 const std::string& idempotency_key,
                                                 const WriteOptions& options) {
  if (bodies.empty() || bodies.size() > kMaxBatchEvents) {
    return InvalidArgument("a batch holds 1 to 100 events; this one holds " +
                           std::to_string(bodies.size()));
  }
  std::vector<EventInput> inputs;
  std::set<std::string> ids;
  for (size_t i = 0; i < bodies.size(); ++i) {
    if (!bodies[i].is_object()) return AtIndex(i, InvalidArgument("must be a JSON object"));
    auto in = ParseEventInput(bodies[i].as_object());
    if (!in.ok()) return AtIndex(i, in.status());
    if (in->id && !ids.insert(*in->id).second) {
      return AtIndex(i, Conflict("id: the batch holds event id " + *in->id + " twice"));
    }
    inputs.push_back(std::move(*in));
  }
  // One transaction: every event of the batch is stored, or none. Each is planned against its
  // user as the events before it in the batch left it.
  CreatedEvent result;
  Status s = store_.Write([&](store::WriteTransaction& txn) -> Status {
    const int64_t now = clock_.NowMillis();
    result = CreatedEvent{};
    RELAY_ASSIGN_OR_RETURN(result.replayed,
                           Replay(txn, org, idempotency_key, request_hash, now, &result.body));
    if (result.replayed) return Status::Ok();
    std::map<std::string, store::ConsentUserRow> by_id;     // users this batch wrote
    std::map<std::string, std::string> by_organization_id;  // their organization_user_id -> id
    std::string answer = "[";
    for (size_t i = 0; i < inputs.size(); ++i) {
      const EventInput& in = inputs[i];
      std::optional<store::ConsentUserRow> user;
      std::string known = in.user_id;
      if (known.empty()) {
        auto it = by_organization_id.find(in.organization_user_id);
        if (it != by_organization_id.end()) known = it->second;
      }
      if (auto it = by_id.find(known); !known.empty() && it != by_id.end()) {
        user = it->second;
      } else {
        RELAY_ASSIGN_OR_RETURN(user, NamedUser(txn, org, in));
      }
      const HistoryLoader history = HistoryIn(txn, org);
      auto plan = PlanEvent(org, in, std::move(user), now, &history);
      if (!plan.ok()) return AtIndex(i, plan.status());
      if (in.id) {
        RELAY_ASSIGN_OR_RETURN(auto existing, txn.GetEvent(org, plan->event.id));
        if (existing) {
          return AtIndex(i, Conflict("id: an event with id " + plan->event.id + " already exists"));
        }
      }
      if (plan->user_written) RELAY_RETURN_IF_ERROR(txn.PutUser(plan->user));
      RELAY_RETURN_IF_ERROR(txn.InsertEvent(plan->event));
      if (!options.quiet) {
        RELAY_RETURN_IF_ERROR(Publish(txn, org, plan->user.id, plan->messages,
                                      plan->event.updated_at, options.traceparent)
                                  .status());
      }
      if (!plan->user.organization_user_id.empty()) {
        by_organization_id[plan->user.organization_user_id] = plan->user.id;
      }
      by_id[plan->user.id] = plan->user;
      if (i > 0) answer += ',';
      answer += plan->event.entity_json;
    }
    answer += ']';
    result.body = std::move(answer);
    if (!idempotency_key.empty()) {
      // The answer names several users: kBatchAnswer marks it, and erasing any one of them
      // erases it (store: kDeleteUserIdempotencySql).
      RELAY_RETURN_IF_ERROR(txn.PutIdempotencyKey(store::IdempotencyRow{
          org, idempotency_key, request_hash, store::kBatchAnswer, 201, result.body, now}));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return result;
}

Result<json::object> ConsentService::GetEvent(const std::string& org, const std::string& id) {
  RELAY_ASSIGN_OR_RETURN(auto row, store_.GetEvent(org, id));
  if (!row) return NotFound("event not found: " + id);
  return ParseEntity(*row);
}

Result<store::Page<json::object>> ConsentService::ListEvents(
    const std::string& org, const std::string& user_id, const std::string& organization_user_id,
    const std::string& regulation, const store::PageRequest& page) {
  if (!regulation.empty()) RELAY_RETURN_IF_ERROR(CheckRegulation(regulation));
  std::string uid = user_id;
  if (uid.empty() && !organization_user_id.empty()) {
    RELAY_ASSIGN_OR_RETURN(auto users, store_.ListUsers(org, organization_user_id, {1, 0}));
    if (users.items.empty()) return store::Page<json::object>{};
    uid = users.items[0].id;
  }
  RELAY_ASSIGN_OR_RETURN(auto rows, store_.ListEvents(org, uid, regulation, page));
  store::Page<json::object> out;
  out.total = rows.total;
  for (const auto& row : rows.items) {
    RELAY_ASSIGN_OR_RETURN(json::object e, ParseEntity(row));
    out.items.push_back(std::move(e));
  }
  return out;
}

Result<json::object> ConsentService::PatchEvent(const std::string& org, const std::string& id,
                                                const json::value& patch,
                                                const WriteOptions& options) {
  RELAY_RETURN_IF_ERROR(CheckPatchFields(
      patch, {"status", "metadata"},
      "cannot be changed: an event's choices are history; only status and metadata change"));
  const json::object& p = patch.as_object();
  if (const json::value* st = p.if_contains("status")) {
    if (!st->is_string() ||
        (st->as_string() != "confirmed" && st->as_string() != "pending_approval")) {
      return InvalidField("status", "must be confirmed or pending_approval");
    }
  }
  if (const json::value* md = p.if_contains("metadata"); md && !md->is_object()) {
    return InvalidField("metadata", "must be an object");
  }
  json::object result;
  Status s = store_.Write([&](store::WriteTransaction& txn) -> Status {
    const int64_t now = clock_.NowMillis();
    RELAY_ASSIGN_OR_RETURN(auto row, txn.GetEvent(org, id));
    if (!row) return NotFound("event not found: " + id);
    RELAY_ASSIGN_OR_RETURN(json::object old_entity, ParseEntity(*row));
    json::value updated = old_entity;
    if (const json::value* st = p.if_contains("status")) updated.as_object()["status"] = *st;
    if (const json::value* md = p.if_contains("metadata")) {
      ApplyMergePatch(updated.as_object()["metadata"], *md);
    }
    if (updated == json::value(old_entity)) {
      result = old_entity;
      return Status::Ok();
    }
    updated.as_object()["updated_at"] = FormatTimestamp(now);
    row->entity_json = ToJsonString(updated);
    row->updated_at = now;
    RELAY_RETURN_IF_ERROR(txn.UpdateEvent(*row));
    std::vector<OutgoingMessage> messages = {
        {"event.updated", row->regulation,
         json::object{{"source", p}, {"old_entity", old_entity}, {"new_entity", updated}}}};
    if (updated.as_object().at("status") != old_entity.at("status")) {
      // Approved, or back to pending: the user's consents are merged again from its confirmed
      // events, in history order.
      RELAY_ASSIGN_OR_RETURN(auto user, txn.GetUser(org, row->user_id));
      if (user) {
        RELAY_ASSIGN_OR_RETURN(json::object state, ParseState(*user));
        json::object old_view = UserView(*user, state, row->regulation);
        RELAY_ASSIGN_OR_RETURN(auto rows, txn.ListUserEvents(org, row->user_id));
        RELAY_ASSIGN_OR_RETURN(auto history, History(rows, row->regulation, &updated.as_object()));
        RELAY_RETURN_IF_ERROR(Remerge(state, row->regulation, std::move(history)));
        store::ConsentUserRow changed = *user;
        changed.state_json = ToJsonString(state);
        json::object new_view = UserView(changed, state, row->regulation);
        if (new_view.at("consents") != old_view.at("consents")) {
          changed.updated_at = std::max(now, user->updated_at);
          new_view["updated_at"] = FormatTimestamp(changed.updated_at);
          messages.push_back({"user.updated", row->regulation,
                              json::object{{"source", updated},
                                           {"old_entity", std::move(old_view)},
                                           {"new_entity", std::move(new_view)}}});
        }
        if (changed.state_json != user->state_json) RELAY_RETURN_IF_ERROR(txn.PutUser(changed));
      }
    }
    if (!options.quiet)
      RELAY_RETURN_IF_ERROR(
          Publish(txn, org, row->user_id, messages, now, options.traceparent).status());
    result = updated.as_object();
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return result;
}

Result<json::object> ConsentService::DeleteEvent(const std::string& org, const std::string& id,
                                                 const WriteOptions& options) {
  json::object result;
  Status s = store_.Write([&](store::WriteTransaction& txn) -> Status {
    const int64_t now = clock_.NowMillis();
    RELAY_ASSIGN_OR_RETURN(auto row, txn.GetEvent(org, id));
    if (!row) return NotFound("event not found: " + id);
    RELAY_ASSIGN_OR_RETURN(result, ParseEntity(*row));
    RELAY_RETURN_IF_ERROR(txn.DeleteEvent(org, id));
    if (options.quiet) return Status::Ok();
    std::vector<OutgoingMessage> messages = {
        {"event.deleted", row->regulation, json::object{{"entity", result}}}};
    return Publish(txn, org, row->user_id, messages, now, options.traceparent).status();
  });
  if (!s.ok()) return s;
  return result;
}

Result<json::object> ConsentService::GetUser(const std::string& org, const std::string& id,
                                             const std::string& regulation) {
  RELAY_RETURN_IF_ERROR(CheckRegulation(regulation));
  RELAY_ASSIGN_OR_RETURN(auto row, store_.GetUser(org, id));
  if (!row) return NotFound("user not found: " + id);
  RELAY_ASSIGN_OR_RETURN(json::object state, ParseState(*row));
  return UserView(*row, state, regulation);
}

Result<store::Page<json::object>> ConsentService::ListUsers(const std::string& org,
                                                            const std::string& organization_user_id,
                                                            const std::string& regulation,
                                                            const store::PageRequest& page) {
  RELAY_RETURN_IF_ERROR(CheckRegulation(regulation));
  RELAY_ASSIGN_OR_RETURN(auto rows, store_.ListUsers(org, organization_user_id, page));
  store::Page<json::object> out;
  out.total = rows.total;
  for (const auto& row : rows.items) {
    RELAY_ASSIGN_OR_RETURN(json::object state, ParseState(row));
    out.items.push_back(UserView(row, state, regulation));
  }
  return out;
}

Result<json::object> ConsentService::PatchUser(const std::string& org, const std::string& id,
                                               const json::value& patch,
                                               const std::string& regulation,
                                               const WriteOptions& options) {
  RELAY_RETURN_IF_ERROR(CheckRegulation(regulation));
  RELAY_RETURN_IF_ERROR(
      CheckPatchFields(patch, {"metadata", "organization_user_id"},
                       "cannot be changed here; consents change through new consent events"));
  const json::object& p = patch.as_object();
  if (const json::value* md = p.if_contains("metadata"); md && !md->is_object()) {
    return InvalidField("metadata", "must be an object");
  }
  if (const json::value* ouid = p.if_contains("organization_user_id");
      ouid &&
      !(ouid->is_string() && !ouid->as_string().empty() && ouid->as_string().size() <= 256)) {
    return InvalidField("organization_user_id", "must be a string of 1 to 256 characters");
  }
  json::object result;
  Status s = store_.Write([&](store::WriteTransaction& txn) -> Status {
    const int64_t now = clock_.NowMillis();
    RELAY_ASSIGN_OR_RETURN(auto row, txn.GetUser(org, id));
    if (!row) return NotFound("user not found: " + id);
    RELAY_ASSIGN_OR_RETURN(json::object state, ParseState(*row));
    store::ConsentUserRow updated = *row;
    json::object new_state = state;
    if (const json::value* md = p.if_contains("metadata")) {
      ApplyMergePatch(new_state["metadata"], *md);
    }
    if (const json::value* ouid = p.if_contains("organization_user_id")) {
      updated.organization_user_id = std::string(ouid->as_string());
    }
    if (new_state == state && updated.organization_user_id == row->organization_user_id) {
      result = UserView(*row, state, regulation);
      return Status::Ok();
    }
    updated.state_json = ToJsonString(new_state);
    updated.updated_at = std::max(now, row->updated_at);
    RELAY_RETURN_IF_ERROR(txn.PutUser(updated));
    std::vector<OutgoingMessage> messages;
    for (const auto& reg : UserRegulations(new_state)) {
      messages.push_back({"user.updated", reg,
                          json::object{{"source", nullptr},
                                       {"old_entity", UserView(*row, state, reg)},
                                       {"new_entity", UserView(updated, new_state, reg)}}});
    }
    if (!options.quiet)
      RELAY_RETURN_IF_ERROR(Publish(txn, org, id, messages, now, options.traceparent).status());
    result = UserView(updated, new_state, regulation);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return result;
}

Result<json::object> ConsentService::DeleteUser(const std::string& org, const std::string& id,
                                                const std::string& regulation,
                                                const WriteOptions& options) {
  RELAY_RETURN_IF_ERROR(CheckRegulation(regulation));
  json::object result;
  Status s = store_.Write([&](store::WriteTransaction& txn) -> Status {
    const int64_t now = clock_.NowMillis();
    RELAY_ASSIGN_OR_RETURN(auto row, txn.GetUser(org, id));
    if (!row) return NotFound("user not found: " + id);
    RELAY_ASSIGN_OR_RETURN(json::object state, ParseState(*row));
    RELAY_RETURN_IF_ERROR(txn.DeleteUser(org, id));
    std::vector<OutgoingMessage> messages;
    for (const auto& reg : UserRegulations(state)) {
      messages.push_back(
          {"user.deleted", reg, json::object{{"entity", UserView(*row, state, reg)}}});
    }
    if (!options.quiet)
      RELAY_RETURN_IF_ERROR(Publish(txn, org, id, messages, now, options.traceparent).status());
    result = UserView(*row, state, regulation);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return result;
}

Result<json::object> ConsentService::SendTestEvent(const std::string& org,
                                                   const std::string& integration_id,
                                                   const WriteOptions& options) {
  const int64_t now = clock_.NowMillis();
  const std::string event_id = NewId("test_", now);
  const std::string at = FormatTimestamp(now);
  OutgoingMessage message;
  message.type = "event.created";
  message.regulation = "gdpr";
  message.parameters = json::object{
      {"entity",
       json::object{
           {"id", event_id},
           {"organization_id", org},
           {"user",
            json::object{{"id", "test-user"}, {"organization_user_id", "consent-relay-test"}}},
           {"consents", json::object{{"purposes", json::array{json::object{{"id", "test_purpose"},
                                                                           {"enabled", true}}}},
                                     {"vendors", json::object{}}}},
           {"status", "confirmed"},
           {"regulation", "gdpr"},
           {"created_at", at},
           {"updated_at", at},
           {"test", true}}}};
  RELAY_RETURN_IF_ERROR(store_.Write([&](store::WriteTransaction& txn) {
    return PublishTest(txn, org, integration_id, message, now, options.traceparent);
  }));
  return json::object{{"type", "event.created"}, {"event_id", event_id}};
}

}  // namespace relay::consent
