// Event validation and the consent merge.
#include "consent/consent_event.h"

#include <algorithm>
#include <boost/json.hpp>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "common/time_format.h"
#include "integrations/integration.h"

namespace relay::consent {
namespace json = boost::json;

namespace {

constexpr size_t kMaxIdLength = 256;
constexpr size_t kMaxTcfcsLength = 64 * 1024;

Status CheckFields(const json::object& obj, const std::string& prefix,
                   std::initializer_list<std::string_view> allowed) {
  for (const auto& kv : obj) {
    if (std::find(allowed.begin(), allowed.end(), kv.key()) == allowed.end()) {
      return InvalidField(prefix + std::string(kv.key()), "unknown field");
    }
  }
  return Status::Ok();
}

Result<std::string> IdString(const json::value* v, const std::string& field) {
  if (!v || v->is_null()) return std::string();
  if (!v->is_string()) return InvalidField(field, "must be a string");
  if (v->as_string().empty() || v->as_string().size() > kMaxIdLength) {
    return InvalidField(field, "must be 1 to " + std::to_string(kMaxIdLength) + " characters");
  }
  return std::string(v->as_string());
}

Result<std::optional<json::object>> OptionalObject(const json::value* v, const std::string& field) {
  if (!v || v->is_null()) return std::optional<json::object>();
  if (!v->is_object()) return InvalidField(field, "must be an object");
  return std::optional<json::object>(v->as_object());
}

Result<json::array> VendorList(const json::value* v, const std::string& field) {
  json::array out;
  if (!v || v->is_null()) return out;
  if (!v->is_array()) return InvalidField(field, "must be an array of strings");
  std::set<std::string_view> seen;
  for (const auto& item : v->as_array()) {
    if (!item.is_string() || item.as_string().empty() || item.as_string().size() > kMaxIdLength) {
      return InvalidField(field, "must be an array of non-empty strings");
    }
    if (seen.insert(item.as_string()).second) out.push_back(item);
  }
  return out;
}

Result<json::object> ParsePurpose(const json::value& v, const std::string& field) {
  if (!v.is_object()) return InvalidField(field, "must be an object");
  const json::object& p = v.as_object();
  RELAY_RETURN_IF_ERROR(CheckFields(p, field + ".", {"id", "enabled", "metadata", "values"}));
  json::object out;
  const json::value* id = p.if_contains("id");
  if (!id) return InvalidField(field + ".id", "is required");
  RELAY_ASSIGN_OR_RETURN(std::string id_text, IdString(id, field + ".id"));
  if (id_text.empty()) return InvalidField(field + ".id", "is required");
  out["id"] = id_text;
  const json::value* enabled = p.if_contains("enabled");
  if (enabled && !enabled->is_bool() && !enabled->is_null()) {
    return InvalidField(field + ".enabled", "must be true, false or null");
  }
  out["enabled"] = enabled ? *enabled : json::value(nullptr);
  RELAY_ASSIGN_OR_RETURN(auto metadata,
                         OptionalObject(p.if_contains("metadata"), field + ".metadata"));
  if (metadata) out["metadata"] = std::move(*metadata);
  RELAY_ASSIGN_OR_RETURN(auto values, OptionalObject(p.if_contains("values"), field + ".values"));
  if (values) {
    for (const auto& kv : *values) {
      std::string vf = field + ".values." + std::string(kv.key());
      if (!kv.value().is_object())
        return InvalidField(vf, "must be an object {\"value\": \"...\"}");
      const auto& pref = kv.value().as_object();
      RELAY_RETURN_IF_ERROR(CheckFields(pref, vf + ".", {"value"}));
      const json::value* value = pref.if_contains("value");
      if (!value || !value->is_string()) return InvalidField(vf + ".value", "must be a string");
    }
    out["values"] = std::move(*values);
  }
  return out;
}

Result<json::object> ParseConsents(const json::value* v) {
  if (!v) return InvalidField("consents", "is required");
  if (!v->is_object()) return InvalidField("consents", "must be an object");
  const json::object& c = v->as_object();
  RELAY_RETURN_IF_ERROR(CheckFields(c, "consents.", {"purposes", "vendors", "tcfcs"}));
  json::object out = EmptyConsents();
  if (const json::value* purposes = c.if_contains("purposes"); purposes && !purposes->is_null()) {
    if (!purposes->is_array()) return InvalidField("consents.purposes", "must be an array");
    if (purposes->as_array().size() > kMaxPurposes) {
      return InvalidField("consents.purposes",
                          "at most " + std::to_string(kMaxPurposes) + " purposes");
    }
    json::array list;
    std::set<std::string> ids;
    size_t i = 0;
    for (const auto& item : purposes->as_array()) {
      std::string field = "consents.purposes[" + std::to_string(i++) + "]";
      RELAY_ASSIGN_OR_RETURN(json::object purpose, ParsePurpose(item, field));
      if (!ids.insert(std::string(purpose.at("id").as_string())).second) {
        return InvalidField(field + ".id", "appears twice");
      }
      list.emplace_back(std::move(purpose));
    }
    out["purposes"] = std::move(list);
  }
  if (const json::value* vendors = c.if_contains("vendors"); vendors && !vendors->is_null()) {
    if (!vendors->is_object()) return InvalidField("consents.vendors", "must be an object");
    const auto& vo = vendors->as_object();
    RELAY_RETURN_IF_ERROR(CheckFields(vo, "consents.vendors.", {"enabled", "disabled"}));
    RELAY_ASSIGN_OR_RETURN(json::array enabled,
                           VendorList(vo.if_contains("enabled"), "consents.vendors.enabled"));
    RELAY_ASSIGN_OR_RETURN(json::array disabled,
                           VendorList(vo.if_contains("disabled"), "consents.vendors.disabled"));
    if (enabled.size() + disabled.size() > kMaxVendors) {
      return InvalidField("consents.vendors",
                          "at most " + std::to_string(kMaxVendors) + " vendors");
    }
    out["vendors"] =
        json::object{{"enabled", std::move(enabled)}, {"disabled", std::move(disabled)}};
  }
  if (const json::value* tcfcs = c.if_contains("tcfcs"); tcfcs && !tcfcs->is_null()) {
    if (!tcfcs->is_string()) return InvalidField("consents.tcfcs", "must be a string or null");
    if (tcfcs->as_string().size() > kMaxTcfcsLength) {
      return InvalidField("consents.tcfcs", "is too long");
    }
    out["tcfcs"] = *tcfcs;
  }
  return out;
}

void SortStrings(json::array& a) {
  std::sort(a.begin(), a.end(), [](const json::value& x, const json::value& y) {
    return x.as_string() < y.as_string();
  });
}

}  // namespace

bool IsValidClientId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':';
  });
}

json::object EmptyConsents() {
  return json::object{
      {"purposes", json::array()},
      {"vendors", json::object{{"enabled", json::array()}, {"disabled", json::array()}}},
      {"tcfcs", nullptr}};
}

Result<EventInput> ParseEventInput(const json::object& body) {
  RELAY_RETURN_IF_ERROR(CheckFields(
      body, "",
      {"id", "created_at", "user", "consents", "regulation", "metadata", "delegate", "status"}));
  EventInput in;
  if (const json::value* st = body.if_contains("status"); st && !st->is_null()) {
    if (!st->is_string() ||
        (st->as_string() != "confirmed" && st->as_string() != "pending_approval")) {
      return InvalidField("status", "must be confirmed or pending_approval");
    }
    in.status = std::string(st->as_string());
  }
  if (const json::value* id = body.if_contains("id"); id && !id->is_null()) {
    if (!id->is_string() || !IsValidClientId(id->as_string())) {
      return InvalidField("id", "must be 1 to 128 characters from A-Z a-z 0-9 . _ : -");
    }
    in.id = std::string(id->as_string());
  }
  if (const json::value* at = body.if_contains("created_at"); at && !at->is_null()) {
    std::optional<int64_t> parsed;
    if (at->is_string()) parsed = ParseTimestamp(at->as_string());
    if (!parsed) return InvalidField("created_at", "must be an ISO 8601 date-time");
    in.created_at = parsed;
  }
  const json::value* user = body.if_contains("user");
  if (!user) return InvalidField("user", "is required");
  if (!user->is_object()) return InvalidField("user", "must be an object");
  const json::object& u = user->as_object();
  RELAY_RETURN_IF_ERROR(CheckFields(u, "user.", {"id", "organization_user_id", "metadata"}));
  RELAY_ASSIGN_OR_RETURN(in.user_id, IdString(u.if_contains("id"), "user.id"));
  RELAY_ASSIGN_OR_RETURN(in.organization_user_id, IdString(u.if_contains("organization_user_id"),
                                                           "user.organization_user_id"));
  if (in.user_id.empty() && in.organization_user_id.empty()) {
    return InvalidField("user", "needs an id or an organization_user_id");
  }
  RELAY_ASSIGN_OR_RETURN(in.user_metadata,
                         OptionalObject(u.if_contains("metadata"), "user.metadata"));
  RELAY_ASSIGN_OR_RETURN(in.consents, ParseConsents(body.if_contains("consents")));
  if (const json::value* reg = body.if_contains("regulation"); reg && !reg->is_null()) {
    if (!reg->is_string() || !integrations::IsValidRegulationId(reg->as_string())) {
      return InvalidField("regulation", "must be 1 to 32 characters from a-z 0-9 _ -");
    }
    in.regulation = std::string(reg->as_string());
  }
  RELAY_ASSIGN_OR_RETURN(auto metadata, OptionalObject(body.if_contains("metadata"), "metadata"));
  if (metadata) in.metadata = std::move(*metadata);
  RELAY_ASSIGN_OR_RETURN(in.delegate, OptionalObject(body.if_contains("delegate"), "delegate"));
  if (in.delegate)
    RELAY_RETURN_IF_ERROR(CheckFields(*in.delegate, "delegate.", {"id", "name", "metadata"}));
  return in;
}

Result<json::object> FoldConsents(std::vector<HistoryEntry> entries) {
  std::sort(entries.begin(), entries.end(), Before);
  json::object status = EmptyConsents();
  for (const auto& e : entries) RELAY_RETURN_IF_ERROR(MergeConsents(status, e.consents));
  return status;
}

Status MergeConsents(json::object& status, const json::object& consents) {
  if (status.empty()) status = EmptyConsents();
  json::value* stored_purposes = status.if_contains("purposes");
  json::value* stored_vendors = status.if_contains("vendors");
  if (!stored_purposes || !stored_purposes->is_array() || !stored_vendors ||
      !stored_vendors->is_object() || !stored_vendors->as_object().contains("enabled") ||
      !stored_vendors->as_object().at("enabled").is_array() ||
      !stored_vendors->as_object().contains("disabled") ||
      !stored_vendors->as_object().at("disabled").is_array()) {
    return Internal("the user's stored consent state is malformed");
  }
  // Every cost below is linear in the user's state plus the event, or n log n for the sort, so
  // a user at the limits merges in milliseconds. Limits are checked before anything changes.
  json::array& purposes = stored_purposes->as_array();
  // Keys are copies: applying the merge rehashes the stored purposes' objects, which moves their
  // strings (a view into them would dangle).
  std::unordered_map<std::string, size_t> purpose_at;
  purpose_at.reserve(purposes.size() + consents.at("purposes").as_array().size());
  for (size_t i = 0; i < purposes.size(); ++i) {
    const json::value* id =
        purposes[i].is_object() ? purposes[i].as_object().if_contains("id") : nullptr;
    if (!id || !id->is_string()) return Internal("the user's stored consent state is malformed");
    purpose_at.emplace(std::string(id->as_string()), i);
  }
  size_t new_purposes = 0;
  for (const auto& incoming : consents.at("purposes").as_array()) {
    const json::object& in = incoming.as_object();
    auto it = purpose_at.find(std::string(in.at("id").as_string()));
    if (it == purpose_at.end()) {
      ++new_purposes;
      continue;
    }
    const json::value* values = in.if_contains("values");
    const json::object& p = purposes[it->second].as_object();
    const json::value* stored_values = p.if_contains("values");
    if (values && stored_values && stored_values->is_object()) {
      size_t merged = stored_values->as_object().size();
      for (const auto& kv : values->as_object())
        merged += !stored_values->as_object().contains(kv.key());
      if (merged > kMaxUserPurposeValues) {
        return InvalidField("consents.purposes",
                            "purpose '" + std::string(in.at("id").as_string()) + "' would hold " +
                                std::to_string(merged) + " preference values; the limit is " +
                                std::to_string(kMaxUserPurposeValues) + " per purpose and user");
      }
    }
  }
  if (purposes.size() + new_purposes > kMaxUserPurposes) {
    return InvalidField("consents.purposes",
                        "the user would have " + std::to_string(purposes.size() + new_purposes) +
                            " purposes; the limit is " + std::to_string(kMaxUserPurposes) +
                            " per user and regulation");
  }

  // Vendors: enabled = (stored enabled + incoming enabled) - incoming disabled; disabled =
  // (stored disabled - incoming enabled) + incoming disabled.
  const json::object& in_vendors = consents.at("vendors").as_object();
  std::unordered_set<std::string_view> in_enabled, in_disabled;
  for (const auto& v : in_vendors.at("enabled").as_array()) in_enabled.insert(v.as_string());
  for (const auto& v : in_vendors.at("disabled").as_array()) in_disabled.insert(v.as_string());
  json::object& vendors = stored_vendors->as_object();
  json::array enabled, disabled;
  for (const auto& v : vendors.at("enabled").as_array()) {
    if (!v.is_string()) return Internal("the user's stored consent state is malformed");
    if (!in_disabled.contains(v.as_string()) && !in_enabled.contains(v.as_string())) {
      enabled.push_back(v);
    }
  }
  for (const auto& v : in_vendors.at("enabled").as_array()) {
    if (!in_disabled.contains(v.as_string())) enabled.push_back(v);
  }
  for (const auto& v : vendors.at("disabled").as_array()) {
    if (!v.is_string()) return Internal("the user's stored consent state is malformed");
    if (!in_enabled.contains(v.as_string()) && !in_disabled.contains(v.as_string())) {
      disabled.push_back(v);
    }
  }
  for (const auto& v : in_vendors.at("disabled").as_array()) disabled.push_back(v);
  if (enabled.size() + disabled.size() > kMaxUserVendors) {
    return InvalidField("consents.vendors",
                        "the user would have " + std::to_string(enabled.size() + disabled.size()) +
                            " vendors; the limit is " + std::to_string(kMaxUserVendors) +
                            " per user and regulation");
  }

  // Nothing fails past this point.
  for (const auto& incoming : consents.at("purposes").as_array()) {
    const json::object& in = incoming.as_object();
    auto it = purpose_at.find(std::string(in.at("id").as_string()));
    if (it == purpose_at.end()) {
      purposes.push_back(in);
      continue;
    }
    json::object& p = purposes[it->second].as_object();
    if (!in.at("enabled").is_null()) p["enabled"] = in.at("enabled");
    if (const json::value* md = in.if_contains("metadata")) p["metadata"] = *md;
    if (const json::value* values = in.if_contains("values")) {
      json::value& target = p["values"];
      if (!target.is_object()) target = json::object();
      for (const auto& kv : values->as_object()) target.as_object()[kv.key()] = kv.value();
    }
  }
  SortStrings(enabled);
  SortStrings(disabled);
  vendors["enabled"] = std::move(enabled);
  vendors["disabled"] = std::move(disabled);
  if (consents.at("tcfcs").is_string()) status["tcfcs"] = consents.at("tcfcs");
  return Status::Ok();
}

}  // namespace relay::consent
