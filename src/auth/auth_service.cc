// API keys and sessions.
#include "auth/auth_service.h"

#include <algorithm>

#include "auth/jwt.h"
#include "common/crypto.h"
#include "common/ids.h"

namespace relay::auth {

bool IsValidOrganizationId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

namespace {
// Grants cached at most; past it, expired ones are dropped first, then all (it is only a cache).
constexpr size_t kMaxCachedGrants = 100'000;
}  // namespace

Result<NewApiKey> AuthService::CreateApiKey(const std::vector<std::string>& organizations,
                                            const std::string& name) {
  if (organizations.empty()) return InvalidArgument("an API key needs at least one organization");
  for (const auto& org : organizations) {
    if (!IsValidOrganizationId(org)) {
      return InvalidArgument("invalid organization id '" + org +
                             "': use 1 to 64 characters from A-Z a-z 0-9 _ -");
    }
  }
  store::ApiKeyRow row;
  row.created_at = clock_.NowMillis();
  row.id = NewId("key_", row.created_at);
  row.name = name;
  row.organizations = organizations;
  std::sort(row.organizations.begin(), row.organizations.end());
  row.organizations.erase(std::unique(row.organizations.begin(), row.organizations.end()),
                          row.organizations.end());
  // The secret carries 256 random bits, so a plain SHA-256 is as strong as a slow hash here.
  std::string secret = crypto::Base64UrlEncode(crypto::RandomBytes(32));
  row.secret_hash = crypto::Sha256(secret);
  RELAY_RETURN_IF_ERROR(store_.CreateApiKey(row));
  return NewApiKey{row.id, secret};
}

Result<Session> AuthService::CreateSession(const std::string& key, const std::string& secret,
                                           const std::string& client_address) {
  auto row = store_.GetApiKey(key);
  if (!row.ok() && row.status().code() != StatusCode::kNotFound) return row.status();
  // Failures count per (client, key) for a key that exists, and per client for keys that do not:
  // guessing locks out the guesser only, never the key's other clients nor the client's other
  // keys. (A secret has 256 random bits; the limit is against noise and probing, not brute force.)
  const std::string slot =
      row.ok() ? "key:" + client_address + "\n" + row->id : "unknown-key:" + client_address;
  if (auto wait = failures_.Blocked(slot)) {
    return ResourceExhausted("too many failed sign-in attempts; try again in " +
                             std::to_string(*wait) + " s")
        .WithRetryAfter(*wait);
  }
  // Hash even for an unknown key so both paths cost the same.
  std::string presented = crypto::Sha256(secret);
  bool valid = row.ok() && crypto::ConstantTimeEquals(presented, row->secret_hash) &&
               !row->revoked_at.has_value();
  if (!valid) {
    failures_.RecordFailure(slot);
    return Unauthenticated("invalid API key or secret");
  }
  SessionClaims claims;
  claims.key_id = row->id;
  claims.issued_at = clock_.NowSeconds();
  claims.expires_at = claims.issued_at + kSessionLifetimeSeconds;
  return Session{SignSessionToken(claims, keyring_.session_signing_key()), kSessionLifetimeSeconds,
                 row->organizations};
}

Result<Principal> AuthService::Authenticate(std::string_view header) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size()) return Unauthenticated("missing bearer token");
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) {
      return Unauthenticated("missing bearer token");
    }
  }
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  RELAY_ASSIGN_OR_RETURN(
      SessionClaims claims,
      VerifySessionToken(token, keyring_.session_signing_key(), clock_.NowSeconds()));
  RELAY_ASSIGN_OR_RETURN(store::KeyGrant grant, Grant(claims.key_id, ""));
  if (grant.revoked) return Unauthenticated("API key revoked");
  return Principal{claims.key_id};
}

Status AuthService::CheckOrganization(const Principal& principal,
                                      const std::string& organization_id) {
  RELAY_ASSIGN_OR_RETURN(store::KeyGrant grant, Grant(principal.key_id, organization_id));
  if (grant.revoked) return Unauthenticated("API key revoked");
  if (!grant.member) {
    return PermissionDenied("this API key has no access to organization " + organization_id);
  }
  return Status::Ok();
}

Result<store::KeyGrant> AuthService::Grant(const std::string& key_id,
                                           const std::string& organization_id) {
  std::string slot = key_id + "\n" + organization_id;
  const int64_t now = clock_.NowMillis();
  {
    MutexLock lock(grants_mu_);
    auto it = grants_.find(slot);
    if (it != grants_.end() && now - it->second.read_at < kGrantCacheMillis &&
        now >= it->second.read_at) {
      if (!it->second.grant) return Unauthenticated("unknown API key");
      return *it->second.grant;
    }
  }
  auto read = store_.GetKeyGrant(key_id, organization_id);
  if (!read.ok() && read.status().code() != StatusCode::kNotFound) return read.status();
  CachedGrant entry{read.ok() ? std::optional<store::KeyGrant>(*read) : std::nullopt, now};
  {
    MutexLock lock(grants_mu_);
    if (grants_.size() >= kMaxCachedGrants) {
      std::erase_if(grants_,
                    [&](const auto& e) { return now - e.second.read_at >= kGrantCacheMillis; });
      if (grants_.size() >= kMaxCachedGrants) grants_.clear();
    }
    grants_[slot] = entry;
  }
  if (!read.ok()) return Unauthenticated("unknown API key");
  return *read;
}

}  // namespace relay::auth
