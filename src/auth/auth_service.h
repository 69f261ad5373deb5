// AuthService: API keys, sessions (Didomi's POST /v1/sessions flow) and request authentication.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/failure_limiter.h"
#include "common/clock.h"
#include "common/keyring.h"
#include "common/mutex.h"
#include "common/status.h"
#include "store/account_store.h"

namespace relay::auth {

inline constexpr int64_t kSessionLifetimeSeconds = 3600;
// How long a key's grant (revoked? member of this organization?) is trusted once read: a
// revocation, by this process or another, takes effect within this time.
inline constexpr int64_t kGrantCacheMillis = 500;

// Who is calling: the key behind a valid session.
struct Principal {
  std::string key_id;
};

struct NewApiKey {
  std::string key;
  std::string secret;  // shown once, never stored
};

struct Session {
  std::string access_token;
  int64_t expires_in = 0;
  std::vector<std::string> organizations;  // the organizations the key may act for
};

// Thread-safe; holds references to objects that outlive it.
class AuthService {
 public:
  AuthService(store::AccountStore& store, const Keyring& keyring, const Clock& clock)
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

  // Checks an Authorization header value ("Bearer <jwt>"). The token names its key and expiry
  // only, so its size does not grow with the key's organizations. A revoked key's sessions stop
  // working within kGrantCacheMillis.
  Result<Principal> Authenticate(std::string_view authorization_header);

  // ok when the principal's key may act for `organization_id` now (an indexed lookup, cached for
  // kGrantCacheMillis); kPermissionDenied when it may not, kUnauthenticated once it is revoked.
  Status CheckOrganization(const Principal& principal, const std::string& organization_id);

 private:
  // The key's grant for `organization_id` ("" for the key alone), from the cache or the store.
  Result<store::KeyGrant> Grant(const std::string& key_id, const std::string& organization_id);

  store::AccountStore& store_;
  const Keyring& keyring_;
  const Clock& clock_;
  FailureLimiter failures_{clock_};

  struct CachedGrant {
    std::optional<store::KeyGrant> grant;  // nullopt: no such key
    int64_t read_at = 0;
  };
  Mutex grants_mu_;
  std::unordered_map<std::string, CachedGrant> grants_
      GUARDED_BY(grants_mu_);  // "key\norganization"
};

// Organization ids: 1 to 64 characters from [A-Za-z0-9_-].
bool IsValidOrganizationId(std::string_view id);

}  // namespace relay::auth
