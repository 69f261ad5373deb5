// OAuth token requests and responses.
#include "delivery/oauth.h"

#include <algorithm>
#include <boost/json.hpp>

#include "common/crypto.h"
#include "common/json.h"

namespace relay::delivery {

std::string FormUrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

TokenRequest BuildTokenRequest(const integrations::OAuthConfig& config) {
  TokenRequest r;
  r.headers = {"Content-Type: application/x-www-form-urlencoded", "Accept: application/json"};
  r.body = "grant_type=client_credentials";
  if (!config.scope.empty()) r.body += "&scope=" + FormUrlEncode(config.scope);
  if (!config.audience.empty()) r.body += "&audience=" + FormUrlEncode(config.audience);
  if (config.client_auth_method == "client_secret_post") {
    r.body += "&client_id=" + FormUrlEncode(config.client_id) +
              "&client_secret=" + FormUrlEncode(config.client_secret);
  } else {
    r.headers.push_back("Authorization: Basic " +
                        crypto::Base64Encode(FormUrlEncode(config.client_id) + ":" +
                                             FormUrlEncode(config.client_secret)));
  }
  return r;
}

Result<AccessToken> ParseTokenResponse(long http_status, std::string_view body) {
  if (http_status < 200 || http_status > 299) {
    std::string detail;
    auto parsed = ParseJson(body);
    if (parsed.ok() && parsed->is_object()) {
      if (const auto* e = parsed->as_object().if_contains("error"); e && e->is_string()) {
        detail =
            std::string(e->as_string().subview(0, std::min<size_t>(64, e->as_string().size())));
      }
    }
    return Unavailable("the OAuth token endpoint answered HTTP " + std::to_string(http_status) +
                       (detail.empty() ? "" : " (" + detail + ")"));
  }
  auto parsed = ParseJson(body);
  if (!parsed.ok() || !parsed->is_object()) {
    return Unavailable("the OAuth token endpoint did not answer a JSON object");
  }
  const auto& o = parsed->as_object();
  const auto* token = o.if_contains("access_token");
  if (!token || !token->is_string() || token->as_string().empty()) {
    return Unavailable("the OAuth token response has no access_token");
  }
  const auto* type = o.if_contains("token_type");
  std::string lowered = type && type->is_string() ? std::string(type->as_string()) : "";
  for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lowered != "bearer") {
    return Unavailable("the OAuth token response's token_type is not Bearer");
  }
  if (token->as_string().size() > 16384 ||
      token->as_string().find_first_of("\r\n") != boost::json::string::npos) {
    return Unavailable("the OAuth access_token is not usable in a header");
  }
  AccessToken out;
  out.token = std::string(token->as_string());
  if (const auto* e = o.if_contains("expires_in")) {
    // Whatever the endpoint says, at most INT32_MAX seconds (68 years): the millisecond
    // arithmetic that follows cannot overflow.
    if (e->is_int64() && e->as_int64() > 0)
      out.expires_in_seconds = std::min<int64_t>(e->as_int64(), INT32_MAX);
    else if (e->is_uint64())
      out.expires_in_seconds = static_cast<int64_t>(std::min<uint64_t>(e->as_uint64(), INT32_MAX));
    else if (e->is_double() && e->as_double() > 0 && e->as_double() < 1e9)
      out.expires_in_seconds = static_cast<int64_t>(e->as_double());
  }
  return out;
}

int64_t TokenCacheMillis(const AccessToken& token) {
  if (!token.expires_in_seconds) return kDefaultTokenLifetimeMillis;
  const int64_t seconds = std::clamp<int64_t>(*token.expires_in_seconds, 0, INT32_MAX);
  return std::max<int64_t>(0, seconds * 1000 - kTokenExpiryMarginMillis);
}

}  // namespace relay::delivery
