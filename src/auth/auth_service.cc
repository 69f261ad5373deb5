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

Status Principal::CheckOrganization(const std::string& organization_id) const {
  if (!std::binary_search(organizations.begin(), organizations.end(), organization_id)) {
    return PermissionDenied("this API key has no access to organization " + organization_id);
  }
  return Status::Ok();
}

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
  claims.organizations = row->organizations;
  claims.issued_at = clock_.NowSeconds();
  claims.expires_at = claims.issued_at + kSessionLifetimeSeconds;
  return Session{SignSessionToken(claims, keyring_.session_signing_key()), kSessionLifetimeSeconds};
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
  auto row = store_.GetApiKey(claims.key_id);
  if (!row.ok()) {
    if (row.status().code() == StatusCode::kNotFound) return Unauthenticated("unknown API key");
    return row.status();
  }
  if (row->revoked_at) return Unauthenticated("API key revoked");
  Principal principal;
  principal.key_id = row->id;
  // The key's organizations come sorted from the store; a key may act for thousands of them, so
  // both sides are searched, not scanned (this runs on every request).
  for (const auto& org : claims.organizations) {
    if (std::binary_search(row->organizations.begin(), row->organizations.end(), org)) {
      principal.organizations.push_back(org);
    }
  }
  std::sort(principal.organizations.begin(), principal.organizations.end());
  return principal;
}

}  // namespace relay::auth
