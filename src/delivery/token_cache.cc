// The dispatcher's OAuth token cache.
#include "delivery/token_cache.h"

#include "common/crypto.h"

namespace relay::delivery {

std::string OAuthFingerprint(const integrations::OAuthConfig& c) {
  return crypto::Sha256(c.url + '\n' + c.client_id + '\n' + c.client_secret + '\n' + c.scope +
                        '\n' + c.audience + '\n' + c.client_auth_method);
}

TokenCache::State& TokenCache::StateFor(const std::string& integration_id,
                                        const std::string& fingerprint) {
  State& s = states_[integration_id];
  if (s.fingerprint != fingerprint) {
    s.token.clear();
    s.fingerprint = fingerprint;
  }
  return s;
}

std::optional<std::string> TokenCache::Find(const std::string& integration_id,
                                            const std::string& fingerprint) {
  State& s = StateFor(integration_id, fingerprint);
  if (s.token.empty() || clock_.NowMillis() >= s.expires_at) return std::nullopt;
  return s.token;
}

bool TokenCache::AddWaiter(const std::string& integration_id, const std::string& fingerprint,
                           int64_t seq) {
  State& s = StateFor(integration_id, fingerprint);
  s.waiting.push_back(seq);
  if (s.fetching) return false;
  s.fetching = true;
  return true;
}

std::vector<int64_t> TokenCache::Fetched(const std::string& integration_id,
                                         const std::string& fingerprint,
                                         const Result<AccessToken>& token) {
  State& s = states_[integration_id];
  s.fetching = false;
  std::vector<int64_t> waiting = std::move(s.waiting);
  s.waiting.clear();
  if (token.ok() && fingerprint == s.fingerprint) {
    s.token = token->token;
    s.expires_at = clock_.NowMillis() + TokenCacheMillis(*token);
  }
  return waiting;
}

void TokenCache::Refused(const std::string& integration_id, const std::string& token) {
  auto it = states_.find(integration_id);
  if (it != states_.end() && it->second.token == token) it->second.token.clear();
}

}  // namespace relay::delivery
