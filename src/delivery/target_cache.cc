// The dispatcher's cache of integrations' send targets.
#include "delivery/target_cache.h"

#include "delivery/signer.h"
#include "delivery/token_cache.h"

namespace relay::delivery {

Result<const SendTarget*> TargetCache::Get(const store::ClaimedDelivery& d) {
  auto it = targets_.find(d.integration_id);
  if (it != targets_.end() && it->second.version == d.integration_version &&
      (it->second.target.previous_expires_at == 0 ||
       it->second.target.previous_expires_at > clock_.NowMillis())) {
    return &it->second;
  }
  RELAY_ASSIGN_OR_RETURN(auto loaded,
                         integrations_.LoadForDelivery(d.organization_id, d.integration_id));
  SendTarget t;
  t.version = loaded.integration.version;
  RELAY_ASSIGN_OR_RETURN(std::string key, DecodeSigningSecret(loaded.signing_secret));
  t.keys.push_back(std::move(key));
  if (!loaded.previous_signing_secret.empty()) {
    RELAY_ASSIGN_OR_RETURN(std::string prev, DecodeSigningSecret(loaded.previous_signing_secret));
    t.keys.push_back(std::move(prev));
  }
  if (loaded.integration.spec.oauth) {
    t.oauth_fingerprint = OAuthFingerprint(*loaded.integration.spec.oauth);
  }
  t.target = std::move(loaded);
  auto& slot = targets_[d.integration_id];
  slot = std::move(t);
  return &slot;
}

}  // namespace relay::delivery
