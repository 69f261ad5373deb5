// IntegrationService implementation.
#include "integrations/integration_service.h"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "common/crypto.h"
#include "common/ids.h"
#include "common/json.h"
#include "integrations/features.h"
#include "integrations/stored_properties.h"

namespace relay::integrations {
namespace json = boost::json;

namespace {
constexpr int kMaxPatchAttempts = 5;

std::string NewSigningSecret() { return "whsec_" + crypto::Base64Encode(crypto::RandomBytes(32)); }
}  // namespace

std::string ClientSecretContext(const std::string& id) {
  return "integration/" + id + "/client_secret";
}
std::string SigningSecretContext(const std::string& id) {
  return "integration/" + id + "/signing_secret";
}

Status IntegrationService::CheckDestinations(const IntegrationSpec& spec) const {
  auto check = [&](const std::string& url, const std::string& field) -> Status {
    auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed) return Status::Ok();  // validation already refused it
    Status s = guard_.CheckHost(parsed->encoded_host());
    if (!s.ok()) return InvalidField(field, s.message());
    return Status::Ok();
  };
  RELAY_RETURN_IF_ERROR(check(spec.properties.url, "properties.url"));
  if (spec.oauth) RELAY_RETURN_IF_ERROR(check(spec.oauth->url, "authentication.url"));
  return Status::Ok();
}

Status IntegrationService::CheckFeatures(const std::string& organization_id,
                                         const IntegrationSpec& spec) {
  RELAY_ASSIGN_OR_RETURN(auto features, store_.GetOrganizationFeatures(organization_id));
  if (!features.count(kFeatureWebhooks)) {
    return PermissionDenied("webhooks are not enabled for organization " + organization_id +
                            "; they are a premium feature that an operator enables with: "
                            "consent-relay orgs enable " +
                            organization_id + " --feature webhooks");
  }
  const auto& regs = spec.properties.regulations;
  bool gdpr_only = regs.size() == 1 && regs[0] == "gdpr";
  if (!gdpr_only && !features.count(kFeatureMultiRegulation)) {
    return PermissionDenied(
        "regulations other than gdpr need the multi-regulation feature for organization " +
        organization_id + "; an operator enables it with: consent-relay orgs enable " +
        organization_id + " --feature multi-regulation");
  }
  return Status::Ok();
}

Result<Integration> IntegrationService::FromRow(const store::IntegrationRow& row,
                                                bool with_secret) const {
  Integration i;
  i.id = row.id;
  i.organization_id = row.organization_id;
  i.type_id = row.type_id;
  i.created_at = row.created_at;
  i.updated_at = row.updated_at;
  i.version = row.version;
  // Stored data is read by the parsers requests go through, so it obeys the same rules.
  if (row.type_id != kWebhookTypeId)
    return Internal("stored integration " + row.id + " has type " + row.type_id);
  auto auth = ParseJson(row.authentication_json);
  if (!auth.ok() || !auth->is_object()) {
    return Internal("stored integration " + row.id + " is not valid JSON");
  }
  json::value auth_value = auth->as_object();
  if (!auth_value.as_object().empty()) {
    std::string secret = kSecretMask;
    if (with_secret) {
      RELAY_ASSIGN_OR_RETURN(secret,
                             keyring_.Open(row.client_secret_sealed, ClientSecretContext(row.id)));
    }
    auth_value.as_object()["client_secret"] = secret;
  }
  auto oauth = ParseAuthentication(&auth_value);
  if (!oauth.ok()) {
    return Internal("stored integration " + row.id + " is invalid: " + oauth.status().message());
  }
  RELAY_ASSIGN_OR_RETURN(auto properties, StoredProperties(row));
  i.spec.enabled = row.enabled;
  i.health.state = store::HealthStateName(store::StateOf(row.health, row.enabled));
  i.health.consecutive_failures = row.health.consecutive_failures;
  i.health.last_success_at = row.health.last_success_at;
  i.health.last_failure_at = row.health.last_failure_at;
  i.health.open_until = row.health.open_until;
  i.health.disabled_reason = row.health.disabled_reason;
  i.spec.oauth = std::move(oauth).value();
  i.spec.properties = *properties;
  if (!with_secret && i.spec.oauth) i.spec.oauth->client_secret.clear();
  return i;
}

store::IntegrationRow IntegrationService::ToRow(const Integration& i) const {
  store::IntegrationRow row;
  row.id = i.id;
  row.organization_id = i.organization_id;
  row.type_id = i.type_id;
  row.enabled = i.spec.enabled;
  row.authentication_json = ToJsonString(AuthenticationToStoredJson(i.spec));
  row.properties_json = ToJsonString(PropertiesToJson(i.spec.properties));
  if (i.spec.oauth) {
    row.client_secret_sealed =
        keyring_.Seal(i.spec.oauth->client_secret, ClientSecretContext(i.id));
  }
  row.created_at = i.created_at;
  row.updated_at = i.updated_at;
  row.version = i.version;
  return row;
}

Result<CreatedIntegration> IntegrationService::Create(const std::string& organization_id,
                                                      const json::value& body) {
  if (!body.is_object()) return InvalidArgument("the request body must be a JSON object");
  RELAY_ASSIGN_OR_RETURN(IntegrationSpec spec, ParseIntegrationSpec(body.as_object()));
  if (spec.oauth && spec.oauth->client_secret == kSecretMask) {
    return InvalidField("authentication.client_secret", "must be the real secret, not the mask");
  }
  RELAY_RETURN_IF_ERROR(CheckDestinations(spec));
  RELAY_RETURN_IF_ERROR(CheckFeatures(organization_id, spec));
  CreatedIntegration created;
  Integration& i = created.integration;
  i.created_at = i.updated_at = clock_.NowMillis();
  i.id = NewId("int_", i.created_at);
  i.organization_id = organization_id;
  i.spec = std::move(spec);
  created.signing_secret = NewSigningSecret();
  store::IntegrationRow row = ToRow(i);
  row.signing_secret_sealed = keyring_.Seal(created.signing_secret, SigningSecretContext(i.id));
  RELAY_RETURN_IF_ERROR(store_.CreateIntegration(row));
  return created;
}

Result<store::Page<Integration>> IntegrationService::List(const std::string& organization_id,
                                                          const store::PageRequest& page) {
  RELAY_ASSIGN_OR_RETURN(auto rows, store_.ListIntegrations(organization_id, page));
  store::Page<Integration> out;
  out.total = rows.total;
  for (const auto& row : rows.items) {
    RELAY_ASSIGN_OR_RETURN(Integration i, FromRow(row, false));
    out.items.push_back(std::move(i));
  }
  return out;
}

Result<Integration> IntegrationService::Get(const std::string& organization_id,
                                            const std::string& id) {
  RELAY_ASSIGN_OR_RETURN(auto row, store_.GetIntegration(organization_id, id));
  return FromRow(row, false);
}

Result<Integration> IntegrationService::GetWithSecrets(const std::string& organization_id,
                                                       const std::string& id) {
  RELAY_ASSIGN_OR_RETURN(auto row, store_.GetIntegration(organization_id, id));
  return FromRow(row, true);
}

Result<Integration> IntegrationService::Patch(const std::string& organization_id,
                                              const std::string& id, const json::value& patch) {
  if (!patch.is_object()) return InvalidArgument("the request body must be a JSON object");
  for (const auto& kv : patch.as_object()) {
    if (kv.key() == "type_id") {
      if (!kv.value().is_string() || kv.value().as_string() != kWebhookTypeId) {
        return InvalidField("type_id", "cannot be changed");
      }
    } else if (kv.key() != "enabled" && kv.key() != "authentication" && kv.key() != "properties") {
      return InvalidField(std::string(kv.key()), "unknown field or not changeable");
    }
  }
  // Optimistic concurrency: re-read and re-apply if another PATCH won the race.
  for (int attempt = 0; attempt < kMaxPatchAttempts; ++attempt) {
    RELAY_ASSIGN_OR_RETURN(auto row, store_.GetIntegration(organization_id, id));
    RELAY_ASSIGN_OR_RETURN(Integration current, FromRow(row, true));
    json::value merged = SpecToJson(current.spec);
    ApplyMergePatch(merged, patch);
    json::object& m = merged.as_object();
    if (auto* auth = m.if_contains("authentication"); auth && auth->is_object()) {
      json::object& a = auth->as_object();
      // The mask the API shows stands for "keep the stored secret".
      if (auto* s = a.if_contains("client_secret");
          s && s->is_string() && s->as_string() == kSecretMask) {
        if (current.spec.oauth)
          a["client_secret"] = current.spec.oauth->client_secret;
        else
          return InvalidField("authentication.client_secret", "must be the real secret");
      }
    }
    RELAY_ASSIGN_OR_RETURN(IntegrationSpec spec, ParseIntegrationSpec(m));
    RELAY_RETURN_IF_ERROR(CheckDestinations(spec));
    RELAY_RETURN_IF_ERROR(CheckFeatures(organization_id, spec));
    Integration updated = current;
    updated.spec = std::move(spec);
    updated.updated_at = std::max(clock_.NowMillis(), current.updated_at);
    updated.version = current.version + 1;
    store::IntegrationRow new_row = ToRow(updated);
    new_row.signing_secret_sealed = row.signing_secret_sealed;
    new_row.previous_signing_secret_sealed = row.previous_signing_secret_sealed;
    new_row.previous_secret_expires_at = row.previous_secret_expires_at;
    Status s = store_.UpdateIntegration(new_row, current.version);
    if (s.code() == StatusCode::kConflict) continue;
    RELAY_RETURN_IF_ERROR(s);
    if (updated.spec.enabled != current.spec.enabled) {
      // Its health changed with it (enabling starts it afresh): shown as stored.
      auto fresh = Get(organization_id, id);
      if (fresh.ok()) updated.health = fresh->health;
      if (state_changes_) {
        state_changes_->Report(
            organization_id, id, updated.health.state,
            updated.spec.enabled ? "enabled through the API" : "disabled through the API");
      }
    }
    if (updated.spec.oauth) updated.spec.oauth->client_secret.clear();
    return updated;
  }
  return Conflict("integration " + id + " is being changed concurrently; try again");
}

Result<Integration> IntegrationService::Delete(const std::string& organization_id,
                                               const std::string& id) {
  RELAY_ASSIGN_OR_RETURN(Integration current, Get(organization_id, id));
  RELAY_RETURN_IF_ERROR(store_.DeleteIntegration(organization_id, id, clock_.NowMillis()));
  return current;
}

Result<std::string> IntegrationService::GetSigningSecret(const std::string& organization_id,
                                                         const std::string& id) {
  RELAY_ASSIGN_OR_RETURN(auto row, store_.GetIntegration(organization_id, id));
  return keyring_.Open(row.signing_secret_sealed, SigningSecretContext(id));
}

Result<std::string> IntegrationService::RotateSigningSecret(const std::string& organization_id,
                                                            const std::string& id) {
  for (int attempt = 0; attempt < kMaxPatchAttempts; ++attempt) {
    RELAY_ASSIGN_OR_RETURN(auto row, store_.GetIntegration(organization_id, id));
    std::string secret = NewSigningSecret();
    const int64_t now = clock_.NowMillis();
    store::IntegrationRow updated = row;
    updated.previous_signing_secret_sealed = row.signing_secret_sealed;
    updated.previous_secret_expires_at = now + kRotationOverlapMillis;
    updated.signing_secret_sealed = keyring_.Seal(secret, SigningSecretContext(id));
    updated.version = row.version + 1;
    updated.updated_at = std::max(now, row.updated_at);
    Status s = store_.UpdateIntegration(updated, row.version);
    if (s.code() == StatusCode::kConflict) continue;
    RELAY_RETURN_IF_ERROR(s);
    return secret;
  }
  return Conflict("integration " + id + " is being changed concurrently; try again");
}

Result<DeliveryTarget> IntegrationService::LoadForDelivery(const std::string& organization_id,
                                                           const std::string& id) {
  RELAY_ASSIGN_OR_RETURN(auto row, store_.GetIntegration(organization_id, id));
  DeliveryTarget target;
  RELAY_ASSIGN_OR_RETURN(target.integration, FromRow(row, true));
  RELAY_ASSIGN_OR_RETURN(target.signing_secret,
                         keyring_.Open(row.signing_secret_sealed, SigningSecretContext(id)));
  if (!row.previous_signing_secret_sealed.empty() &&
      row.previous_secret_expires_at > clock_.NowMillis()) {
    RELAY_ASSIGN_OR_RETURN(
        target.previous_signing_secret,
        keyring_.Open(row.previous_signing_secret_sealed, SigningSecretContext(id)));
    target.previous_expires_at = row.previous_secret_expires_at;
  }
  return target;
}

}  // namespace relay::integrations
