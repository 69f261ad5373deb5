// OAuth 2.0 client credentials (RFC 6749 §4.4): the token request and the token response.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "integrations/integration.h"

namespace relay::delivery {

// How long a token without expires_in is trusted, and how long before expiry it is replaced.
inline constexpr int64_t kDefaultTokenLifetimeMillis = 5 * 60 * 1000;
inline constexpr int64_t kTokenExpiryMarginMillis = 30 * 1000;

struct TokenRequest {
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // application/x-www-form-urlencoded
};

// grant_type=client_credentials (+ scope, audience), with the client authenticated by HTTP Basic
// (form-urlencoded id and secret, RFC 6749 §2.3.1) or in the body (client_secret_post).
TokenRequest BuildTokenRequest(const integrations::OAuthConfig& config);

struct AccessToken {
  std::string token;
  std::optional<int64_t> expires_in_seconds;
};

// A 2xx JSON answer with a non-empty access_token and token_type "Bearer" (any case); anything
// else is an error whose message says what was wrong (never the token or a secret).
Result<AccessToken> ParseTokenResponse(long http_status, std::string_view body);

// How long to cache a token: expires_in minus the margin, or the default when absent.
int64_t TokenCacheMillis(const AccessToken& token);

std::string FormUrlEncode(std::string_view text);

}  // namespace relay::delivery
