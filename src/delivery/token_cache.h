// TokenCache: the dispatcher's OAuth access tokens, one per integration, fetched single-flight.
// A token is reused until TokenCacheMillis (expires_in less a margin) has passed; a change of the
// integration's OAuth configuration (its fingerprint) drops it; a 401 from the endpoint drops it.
// Single-threaded: the dispatcher's thread owns it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "delivery/oauth.h"
#include "integrations/integration.h"

namespace relay::delivery {

// A token request's identity: a change of any field of the configuration gives another one.
std::string OAuthFingerprint(const integrations::OAuthConfig& config);

class TokenCache {
 public:
  explicit TokenCache(const Clock& clock) : clock_(clock) {}

  // The integration's token, if one is cached under `fingerprint` and still fresh. A fingerprint
  // other than the cached token's drops that token: it belongs to another configuration.
  std::optional<std::string> Find(const std::string& integration_id,
                                  const std::string& fingerprint);
  // `seq` waits for the integration's next token under `fingerprint`. True when no fetch is under
  // way: the caller starts one now, and reports its end with Fetched.
  bool AddWaiter(const std::string& integration_id, const std::string& fingerprint, int64_t seq);
  // A fetch for `fingerprint` ended. A token is cached when that fingerprint is still current (a
  // token for a configuration changed meanwhile is used by its waiters, never cached). Returns
  // the seqs that waited, in order.
  std::vector<int64_t> Fetched(const std::string& integration_id, const std::string& fingerprint,
                               const Result<AccessToken>& token);
  // The endpoint refused `token`: dropped, unless a newer one replaced it already.
  void Refused(const std::string& integration_id, const std::string& token);

 private:
  struct State;
  // The integration's state, its token dropped when `fingerprint` is not the one it was got for.
  State& StateFor(const std::string& integration_id, const std::string& fingerprint);

  struct State {
    std::string token;
    int64_t expires_at = 0;
    bool fetching = false;
    std::string fingerprint;
    std::vector<int64_t> waiting;
  };
  const Clock& clock_;
  std::unordered_map<std::string, State> states_;
};

}  // namespace relay::delivery
