// IntegrationService: the rules of creating, reading, changing and deleting integrations, scoped
// to one organization, with secrets sealed at rest.
#pragma once

#include <boost/json/value.hpp>
#include <string>

#include "common/clock.h"
#include "common/destination_guard.h"
#include "common/keyring.h"
#include "integrations/integration.h"
#include "integrations/state_changes.h"
#include "store/integration_store.h"

namespace relay::integrations {

struct CreatedIntegration {
  Integration integration;
  std::string signing_secret;  // "whsec_...", shown in the create answer only
};

// What the sender needs: the integration with its OAuth client secret, and the signing secrets in
// force (the previous one until previous_expires_at, after a rotation).
struct DeliveryTarget {
  Integration integration;
  std::string signing_secret;
  std::string previous_signing_secret;  // empty when none
  int64_t previous_expires_at = 0;
};

inline constexpr int64_t kRotationOverlapMillis = 24LL * 3600 * 1000;

// Thread-safe. Every method is scoped to `organization_id`: an integration of another
// organization is kNotFound, exactly like one that does not exist.
class IntegrationService {
 public:
  // `guard` refuses literal internal addresses in URLs (400) when integrations are written.
  // `state_changes`, when given, hears of integrations enabled or disabled by a PATCH.
  IntegrationService(store::IntegrationStore& store, const Keyring& keyring, const Clock& clock,
                     const DestinationGuard& guard, StateChanges* state_changes = nullptr)
      : store_(store),
        keyring_(keyring),
        clock_(clock),
        guard_(guard),
        state_changes_(state_changes) {}

  // Validates `body`; kPermissionDenied when the organization lacks the `webhooks` feature, or
  // asks for non-GDPR regulations without `multi-regulation`.
  Result<CreatedIntegration> Create(const std::string& organization_id,
                                    const boost::json::value& body);
  Result<store::Page<Integration>> List(const std::string& organization_id,
                                        const store::PageRequest& page);
  Result<Integration> Get(const std::string& organization_id, const std::string& id);
  // As Get, with the OAuth client secret in clear, for the sender only. Never render it.
  Result<Integration> GetWithSecrets(const std::string& organization_id, const std::string& id);
  // Applies a JSON merge patch of enabled, authentication and properties. A client_secret that
  // is absent or equal to the mask keeps the stored one. Enabling an integration the relay
  // disabled (410, failing too long) resumes its waiting deliveries with its health afresh.
  Result<Integration> Patch(const std::string& organization_id, const std::string& id,
                            const boost::json::value& patch);
  Result<Integration> Delete(const std::string& organization_id, const std::string& id);
  Result<std::string> GetSigningSecret(const std::string& organization_id, const std::string& id);
  // Replaces the signing secret with a new one and returns it; the old one stays in force for
  // kRotationOverlapMillis, during which deliveries carry both signatures.
  Result<std::string> RotateSigningSecret(const std::string& organization_id,
                                          const std::string& id);
  // For the sender only: secrets in clear, never to be rendered or logged.
  Result<DeliveryTarget> LoadForDelivery(const std::string& organization_id, const std::string& id);

 private:
  Status CheckDestinations(const IntegrationSpec& spec) const;
  Status CheckFeatures(const std::string& organization_id, const IntegrationSpec& spec);
  Result<Integration> FromRow(const store::IntegrationRow& row, bool with_secret) const;
  store::IntegrationRow ToRow(const Integration& integration) const;

  store::IntegrationStore& store_;
  const Keyring& keyring_;
  const Clock& clock_;
  const DestinationGuard& guard_;
  StateChanges* state_changes_;
};

// Seal contexts: a sealed value only opens in the row and column it was written for.
std::string ClientSecretContext(const std::string& integration_id);
std::string SigningSecretContext(const std::string& integration_id);

}  // namespace relay::integrations
