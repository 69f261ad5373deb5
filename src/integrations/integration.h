// The webhook-http integration: its configuration, how a request body becomes one (validation),
// and how one is shown (with secrets masked).
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace relay::integrations {

inline constexpr char kWebhookTypeId[] = "webhook-http";
inline constexpr char kSecretMask[] = "********";
inline constexpr int kDefaultTimeoutMs = 10000;

// The six webhook event types Didomi documents.
const std::vector<std::string>& AllEventTypes();
// Regulation ids: 1 to 32 characters from [a-z0-9_-].
bool IsValidRegulationId(std::string_view id);

// OAuth 2.0 client credentials (RFC 6749 §4.4) for the customer's authorization server.
struct OAuthConfig {
  std::string url;
  std::string client_id;
  std::string client_secret;  // plaintext, in memory only; empty when not loaded
  std::string scope;          // optional
  std::string audience;       // optional
  std::string client_auth_method = "client_secret_basic";  // or "client_secret_post"
};

struct IntegrationProperties {
  std::string url;
  std::vector<std::string> events;       // empty = every event type
  std::vector<std::string> regulations;  // {"*"} = every regulation
  bool flatten = false;
  std::vector<std::pair<std::string, std::string>> headers;  // extra static request headers
  int timeout_ms = kDefaultTimeoutMs;
  // "per_user": a user's deliveries go out one at a time, in the order their changes committed
  // (a lane per integration and user); "none": as they come due.
  std::string ordering = "per_user";
  // Sends per second at most (1 to 10,000), with at most one second of burst; 0: no limit.
  int rate_limit_per_second = 0;
};

// What a client may set: the body of POST, or the result of applying a PATCH.
struct IntegrationSpec {
  bool enabled = true;
  std::optional<OAuthConfig> oauth;  // nullopt = no authentication ({})
  IntegrationProperties properties;
};

// What its deliveries showed, read-only (the store keeps it as it records attempts).
struct IntegrationHealth {
  std::string state = "healthy";  // healthy | failing | open | disabled
  int64_t consecutive_failures = 0;
  std::optional<int64_t> last_success_at;
  std::optional<int64_t> last_failure_at;
  std::optional<int64_t> open_until;  // while the breaker is open: when it may probe
  std::string disabled_reason;        // when the relay disabled it: why
};

struct Integration {
  std::string id;
  std::string organization_id;
  std::string type_id = kWebhookTypeId;
  IntegrationSpec spec;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  int64_t version = 1;
  IntegrationHealth health;
};

// Validates a request body ({type_id, authentication, properties, enabled}) into a spec. Every
// rule of the API: type_id, URLs, unknown fields, event and regulation lists, headers, timeout.
// Errors are kInvalidArgument naming the field (e.g. "properties.url") in field_errors.
Result<IntegrationSpec> ParseIntegrationSpec(const boost::json::object& body);
// Its parts, by the same rules (errors name the field): the authentication object (nullptr or {}
// for none) and the properties object.
Result<std::optional<OAuthConfig>> ParseAuthentication(const boost::json::value* authentication);
Result<IntegrationProperties> ParseProperties(const boost::json::value* properties);

// The filter rule: whether an integration with `properties` wants a message of `type` for
// `regulation` (events: empty means every type; regulations: {"*"} means every one).
bool Matches(const IntegrationProperties& properties, const std::string& type,
             const std::string& regulation);

// The request-body form of a spec, with the real client secret: the base a PATCH merges onto.
boost::json::object SpecToJson(const IntegrationSpec& spec);
// The API form, with client_secret shown as kSecretMask.
boost::json::object IntegrationToJson(const Integration& integration);
// The stored forms: authentication without client_secret, and properties.
boost::json::object AuthenticationToStoredJson(const IntegrationSpec& spec);
boost::json::object PropertiesToJson(const IntegrationProperties& properties);

}  // namespace relay::integrations
