// AuthService: API keys, sessions (Didomi's POST /v1/sessions flow) and request authentication.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "auth/failure_limiter.h"
#include "common/clock.h"
#include "common/keyring.h"
#include "common/status.h"
#include "store/store.h"

namespace relay::auth {

inline constexpr int64_t kSessionLifetimeSeconds = 3600;

// Who is calling: the key behind a valid session and the organizations it may act for.
struct Principal {
  std::string key_id;
  std::vector<std::string> organizations;  // sorted

  // ok when `organization_id` is one of the principal's; kPermissionDenied otherwise.
  Status CheckOrganization(const std::string& organization_id) const;
};

struct NewApiKey {
  std::string key;
  std::string secret;  // shown once, never stored
};

struct Session {
  std::string access_token;
  int64_t expires_in = 0;
};

// Thread-safe; holds references to objects that outlive it.
class AuthService {
 public:
  AuthService(store::Store& store, const Keyring& keyring, const Clock& clock)
      : store_(store), keyring_(keyring), clock_(clock) {}

  // Creates a key for `organizations` (each a valid organization id, at least one).
  Result<NewApiKey> CreateApiKey(const std::vector<std::string>& organizations,
                                 const std::string& name);

  // Exchanges a key and secret for a session token. Unknown key, wrong secret and revoked key all
  // give the same kUnauthenticated, so the answer does not tell which keys exist. After 10 failures
  // in a minute of one key from one `client_address` (or of unknown keys from it), that pair (or
  // unknown keys from that client) answers kResourceExhausted with a retry-after until the window
  // has room again, even for the right secret. Other clients of the key, and other keys of the
  // client, are not affected.
  Result<Session> CreateSession(const std::string& key, const std::string& secret,
                                const std::string& client_address);

  // Checks an Authorization header value ("Bearer <jwt>"). The key is looked up on every call, so
  // a revoked key's sessions stop working at once, and its organizations are the ones in force
  // now (intersected with those the token was issued for).
  Result<Principal> Authenticate(std::string_view authorization_header);

 private:
  store::Store& store_;
  const Keyring& keyring_;
  const Clock& clock_;
  FailureLimiter failures_{clock_};
};

// Organization ids: 1 to 64 characters from [A-Za-z0-9_-].
bool IsValidOrganizationId(std::string_view id);

}  // namespace relay::auth
