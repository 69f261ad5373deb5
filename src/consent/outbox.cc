// Envelopes, flatten and fan-out.
#include "consent/outbox.h"

#include <algorithm>
#include <boost/json.hpp>
#include <memory>

#include "common/ids.h"
#include "common/json.h"
#include "common/trace_context.h"
#include "integrations/features.h"
#include "integrations/stored_properties.h"

namespace relay::consent {
namespace json = boost::json;

namespace {

void FlattenInto(const json::value& v, const std::string& prefix, json::object& out) {
  if (v.is_object() && !v.as_object().empty()) {
    for (const auto& kv : v.as_object()) {
      std::string key =
          prefix.empty() ? std::string(kv.key()) : prefix + "__" + std::string(kv.key());
      FlattenInto(kv.value(), key, out);
    }
  } else if (v.is_array() && !v.as_array().empty()) {
    const auto& a = v.as_array();
    for (size_t i = 0; i < a.size(); ++i) {
      FlattenInto(a[i], prefix.empty() ? std::to_string(i) : prefix + "__" + std::to_string(i),
                  out);
    }
  } else {
    out[prefix] = v;
  }
}

json::object Flatten(const json::value& v) {
  json::object out;
  FlattenInto(v, "", out);
  return out;
}

}  // namespace

json::object Envelope(const OutgoingMessage& m) {
  return json::object{{"type", m.type}, {"regulation", m.regulation}, {"parameters", m.parameters}};
}

json::object FlattenEnvelope(const json::object& envelope) {
  json::object out = envelope;
  json::object& params = out["parameters"].as_object();
  if (json::value* ne = params.if_contains("new_entity")) {
    json::object flat = Flatten(*ne);
    params.erase("new_entity");
    params["entity"] = std::move(flat);
  } else if (json::value* e = params.if_contains("entity")) {
    *e = Flatten(*e);
  }
  return out;
}

namespace {

struct Target {
  std::string id;
  std::shared_ptr<const integrations::IntegrationProperties> properties;
};

// The organization's webhook integrations that take new messages.
Result<std::vector<Target>> FanOutTargets(store::WriteTransaction& txn, const std::string& org) {
  RELAY_ASSIGN_OR_RETURN(auto rows, txn.ListFanOutIntegrations(org));
  std::vector<Target> targets;
  for (const auto& row : rows) {
    if (row.type_id != integrations::kWebhookTypeId) continue;
    RELAY_ASSIGN_OR_RETURN(auto properties, integrations::StoredProperties(row));
    targets.push_back(Target{row.id, std::move(properties)});
  }
  return targets;
}

// Writes each message with one delivery per target (whose filters match, when `filter`).
Result<size_t> WriteMessages(store::WriteTransaction& txn, const std::string& organization_id,
                             const std::string& ordering_key,
                             const std::vector<OutgoingMessage>& messages,
                             const std::vector<Target>& targets, bool multi_regulation, bool filter,
                             int64_t now, const std::string& traceparent) {
  size_t written = 0;
  // One trace per change: its messages share it.
  std::string trace = traceparent;
  for (const auto& m : messages) {
    if (m.regulation != "gdpr" && !multi_regulation) continue;
    std::vector<store::DeliveryRow> deliveries;
    std::string flat_payload;
    for (const auto& t : targets) {
      if (filter && !integrations::Matches(*t.properties, m.type, m.regulation)) continue;
      store::DeliveryRow d;
      d.id = NewId("dlv_", now);
      d.organization_id = organization_id;
      d.integration_id = t.id;
      d.next_attempt_at = now;
      d.created_at = now;
      d.unordered = t.properties->ordering == "none";
      if (t.properties->flatten) {
        if (flat_payload.empty()) {
          // A pre-rendered payload (the hot path's) is parsed back: flatten is the rare case.
          json::object envelope;
          if (m.payload.empty()) {
            envelope = Envelope(m);
          } else {
            RELAY_ASSIGN_OR_RETURN(json::value parsed, ParseJson(m.payload));
            envelope = std::move(parsed.as_object());
          }
          flat_payload = ToJsonString(FlattenEnvelope(envelope));
        }
        d.payload = flat_payload;
      }
      deliveries.push_back(std::move(d));
    }
    if (deliveries.empty()) continue;
    store::MessageRow row;
    row.id = NewId("msg_", now);
    row.organization_id = organization_id;
    row.type = m.type;
    row.regulation = m.regulation;
    row.ordering_key = ordering_key;
    row.payload = m.payload.empty() ? ToJsonString(Envelope(m)) : m.payload;
    row.created_at = now;
    if (trace.empty()) trace = NewTraceparent();
    row.traceparent = trace;
    RELAY_RETURN_IF_ERROR(txn.InsertMessage(row, deliveries));
    written += deliveries.size();
  }
  return written;
}

}  // namespace

Result<size_t> Publish(store::WriteTransaction& txn, const std::string& organization_id,
                       const std::string& ordering_key,
                       const std::vector<OutgoingMessage>& messages, int64_t now,
                       const std::string& traceparent) {
  RELAY_ASSIGN_OR_RETURN(auto features, txn.GetOrganizationFeatures(organization_id));
  if (!features.count(integrations::kFeatureWebhooks)) return size_t{0};
  bool multi_regulation = features.count(integrations::kFeatureMultiRegulation) > 0;
  RELAY_ASSIGN_OR_RETURN(auto targets, FanOutTargets(txn, organization_id));
  return WriteMessages(txn, organization_id, ordering_key, messages, targets, multi_regulation,
                       /*filter=*/true, now, traceparent);
}

Status PublishTest(store::WriteTransaction& txn, const std::string& organization_id,
                   const std::string& integration_id, const OutgoingMessage& message, int64_t now,
                   const std::string& traceparent) {
  RELAY_ASSIGN_OR_RETURN(auto targets, FanOutTargets(txn, organization_id));
  std::erase_if(targets, [&](const Target& t) { return t.id != integration_id; });
  if (targets.empty()) return NotFound("no enabled integration " + integration_id);
  return WriteMessages(txn, organization_id, kTestOrderingKey, {message}, targets,
                       /*multi_regulation=*/true, /*filter=*/false, now, traceparent)
      .status();
}

}  // namespace relay::consent
