// Validation and JSON forms of webhook-http integrations.
#include "integrations/integration.h"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <set>

#include "common/time_format.h"

namespace relay::integrations {
namespace json = boost::json;

namespace {

constexpr size_t kMaxUrlLength = 2048;
constexpr size_t kMaxCredentialLength = 4096;
constexpr size_t kMaxHeaders = 32;
constexpr size_t kMaxHeaderNameLength = 128;
constexpr size_t kMaxHeaderValueLength = 4096;
constexpr int kMinTimeoutMs = 100;
constexpr int kMaxTimeoutMs = 30000;

// Headers the platform sets itself; an integration may not override them.
bool IsReservedHeader(std::string lower) {
  static const std::set<std::string> kReserved = {"authorization",    "connection",
                                                  "content-encoding", "content-length",
                                                  "content-type",     "cookie",
                                                  "expect",           "host",
                                                  "keep-alive",       "proxy-authorization",
                                                  "proxy-connection", "te",
                                                  "trailer",          "transfer-encoding",
                                                  "upgrade",          "user-agent"};
  return kReserved.count(lower) > 0 || lower.rfind("webhook-", 0) == 0;
}

bool IsTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// An absolute http(s) URL with a host, no credentials, at most kMaxUrlLength characters.
Status CheckUrl(const json::value* v, const std::string& field) {
  if (!v) return InvalidField(field, "is required");
  if (!v->is_string()) return InvalidField(field, "must be a string");
  std::string_view s = v->as_string();
  if (s.empty()) return InvalidField(field, "must not be empty");
  if (s.size() > kMaxUrlLength) {
    return InvalidField(field, "must be at most " + std::to_string(kMaxUrlLength) + " characters");
  }
  auto url = boost::urls::parse_absolute_uri(s);
  if (!url) return InvalidField(field, "must be an absolute URL");
  std::string scheme = Lower(url->scheme());
  if (scheme != "http" && scheme != "https")
    return InvalidField(field, "must be an http or https URL");
  if (!url->has_authority() || url->encoded_host().empty()) {
    return InvalidField(field, "must have a host");
  }
  if (url->has_userinfo()) return InvalidField(field, "must not contain a user or password");
  return Status::Ok();
}

Status CheckString(const json::value* v, const std::string& field, bool required, size_t max_length,
                   std::string* out) {
  if (!v) return required ? InvalidField(field, "is required") : Status::Ok();
  if (!v->is_string()) return InvalidField(field, "must be a string");
  if (v->as_string().empty()) return InvalidField(field, "must not be empty");
  if (v->as_string().size() > max_length) {
    return InvalidField(field, "must be at most " + std::to_string(max_length) + " characters");
  }
  *out = std::string(v->as_string());
  return Status::Ok();
}

Status CheckKnownFields(const json::object& obj, const std::string& prefix,
                        std::initializer_list<std::string_view> allowed) {
  for (const auto& kv : obj) {
    if (std::find(allowed.begin(), allowed.end(), kv.key()) == allowed.end()) {
      return InvalidField(prefix + std::string(kv.key()), "unknown field");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::optional<OAuthConfig>> ParseAuthentication(const json::value* v) {
  if (!v || v->is_null()) return std::optional<OAuthConfig>();
  if (!v->is_object()) return InvalidField("authentication", "must be an object");
  const json::object& a = v->as_object();
  RELAY_RETURN_IF_ERROR(CheckKnownFields(
      a, "authentication.",
      {"url", "client_id", "client_secret", "scope", "audience", "client_auth_method"}));
  if (a.empty()) return std::optional<OAuthConfig>();
  OAuthConfig oauth;
  RELAY_RETURN_IF_ERROR(CheckUrl(a.if_contains("url"), "authentication.url"));
  oauth.url = std::string(a.at("url").as_string());
  RELAY_RETURN_IF_ERROR(CheckString(a.if_contains("client_id"), "authentication.client_id", true,
                                    kMaxCredentialLength, &oauth.client_id));
  RELAY_RETURN_IF_ERROR(CheckString(a.if_contains("client_secret"), "authentication.client_secret",
                                    true, kMaxCredentialLength, &oauth.client_secret));
  RELAY_RETURN_IF_ERROR(CheckString(a.if_contains("scope"), "authentication.scope", false,
                                    kMaxCredentialLength, &oauth.scope));
  RELAY_RETURN_IF_ERROR(CheckString(a.if_contains("audience"), "authentication.audience", false,
                                    kMaxCredentialLength, &oauth.audience));
  RELAY_RETURN_IF_ERROR(CheckString(a.if_contains("client_auth_method"),
                                    "authentication.client_auth_method", false, 64,
                                    &oauth.client_auth_method));
  if (oauth.client_auth_method != "client_secret_basic" &&
      oauth.client_auth_method != "client_secret_post") {
    return InvalidField("authentication.client_auth_method",
                        "must be client_secret_basic or client_secret_post");
  }
  return std::optional<OAuthConfig>(std::move(oauth));
}

namespace {

Status ParseStringList(const json::value* v, const std::string& field,
                       std::vector<std::string>* out) {
  if (!v->is_array()) return InvalidField(field, "must be an array of strings");
  for (const auto& item : v->as_array()) {
    if (!item.is_string()) return InvalidField(field, "must be an array of strings");
    std::string s(item.as_string());
    if (std::find(out->begin(), out->end(), s) == out->end()) out->push_back(std::move(s));
  }
  return Status::Ok();
}

}  // namespace

Result<IntegrationProperties> ParseProperties(const json::value* v) {
  if (!v) return InvalidField("properties", "is required");
  if (!v->is_object()) return InvalidField("properties", "must be an object");
  const json::object& p = v->as_object();
  RELAY_RETURN_IF_ERROR(CheckKnownFields(p, "properties.",
                                         {"url", "events", "regulations", "flatten", "headers",
                                          "timeout_ms", "ordering", "rate_limit_per_second"}));
  IntegrationProperties props;
  RELAY_RETURN_IF_ERROR(CheckUrl(p.if_contains("url"), "properties.url"));
  props.url = std::string(p.at("url").as_string());

  if (const json::value* events = p.if_contains("events"); events && !events->is_null()) {
    RELAY_RETURN_IF_ERROR(ParseStringList(events, "properties.events", &props.events));
    const auto& all = AllEventTypes();
    for (const auto& e : props.events) {
      if (std::find(all.begin(), all.end(), e) == all.end()) {
        return InvalidField("properties.events",
                            "unknown event type '" + e +
                                "' (expected event.created, event.updated, event.deleted, "
                                "user.created, user.updated or user.deleted)");
      }
    }
  }

  if (const json::value* regs = p.if_contains("regulations"); regs && !regs->is_null()) {
    RELAY_RETURN_IF_ERROR(ParseStringList(regs, "properties.regulations", &props.regulations));
    if (props.regulations.empty()) {
      return InvalidField("properties.regulations", "must list at least one regulation, or \"*\"");
    }
    bool wildcard = std::find(props.regulations.begin(), props.regulations.end(), "*") !=
                    props.regulations.end();
    if (wildcard && props.regulations.size() > 1) {
      return InvalidField("properties.regulations", "\"*\" must be the only entry");
    }
    for (const auto& r : props.regulations) {
      if (r != "*" && !IsValidRegulationId(r)) {
        return InvalidField("properties.regulations",
                            "invalid regulation id '" + r + "' (1 to 32 of a-z 0-9 _ -)");
      }
    }
  } else {
    props.regulations = {"gdpr"};
  }

  if (const json::value* ordering = p.if_contains("ordering"); ordering && !ordering->is_null()) {
    if (!ordering->is_string() ||
        (ordering->as_string() != "per_user" && ordering->as_string() != "none")) {
      return InvalidField("properties.ordering", "must be per_user or none");
    }
    props.ordering = std::string(ordering->as_string());
  }
  if (const json::value* rate = p.if_contains("rate_limit_per_second"); rate && !rate->is_null()) {
    if (!rate->is_int64() || rate->as_int64() < 1 || rate->as_int64() > 10000) {
      return InvalidField("properties.rate_limit_per_second",
                          "must be an integer from 1 to 10000 (absent: no limit)");
    }
    props.rate_limit_per_second = static_cast<int>(rate->as_int64());
  }
  if (const json::value* flatten = p.if_contains("flatten"); flatten && !flatten->is_null()) {
    if (!flatten->is_bool()) return InvalidField("properties.flatten", "must be a boolean");
    props.flatten = flatten->as_bool();
  }

  if (const json::value* headers = p.if_contains("headers"); headers && !headers->is_null()) {
    if (!headers->is_object()) {
      return InvalidField("properties.headers", "must be an object of strings");
    }
    const auto& h = headers->as_object();
    if (h.size() > kMaxHeaders) {
      return InvalidField("properties.headers",
                          "at most " + std::to_string(kMaxHeaders) + " headers");
    }
    for (const auto& kv : h) {
      std::string name(kv.key());
      std::string field = "properties.headers." + name;
      if (name.empty() || name.size() > kMaxHeaderNameLength ||
          !std::all_of(name.begin(), name.end(), IsTokenChar)) {
        return InvalidField(field, "invalid header name");
      }
      if (IsReservedHeader(Lower(name))) {
        return InvalidField(field, "this header is set by the platform and cannot be overridden");
      }
      if (!kv.value().is_string()) return InvalidField(field, "must be a string");
      std::string value(kv.value().as_string());
      if (value.size() > kMaxHeaderValueLength ||
          std::any_of(value.begin(), value.end(),
                      [](char c) { return c == '\r' || c == '\n' || c == '\0'; })) {
        return InvalidField(field, "invalid header value");
      }
      props.headers.emplace_back(std::move(name), std::move(value));
    }
  }

  if (const json::value* t = p.if_contains("timeout_ms"); t && !t->is_null()) {
    std::optional<int64_t> ms;
    if (t->is_int64())
      ms = t->as_int64();
    else if (t->is_uint64() && t->as_uint64() <= INT64_MAX)
      ms = int64_t(t->as_uint64());
    if (!ms || *ms < kMinTimeoutMs || *ms > kMaxTimeoutMs) {
      return InvalidField("properties.timeout_ms", "must be an integer from " +
                                                       std::to_string(kMinTimeoutMs) + " to " +
                                                       std::to_string(kMaxTimeoutMs));
    }
    props.timeout_ms = static_cast<int>(*ms);
  }
  return props;
}

namespace {}  // namespace

const std::vector<std::string>& AllEventTypes() {
  static const std::vector<std::string> kTypes = {"event.created", "event.updated", "event.deleted",
                                                  "user.created",  "user.updated",  "user.deleted"};
  return kTypes;
}

bool IsValidRegulationId(std::string_view id) {
  if (id.empty() || id.size() > 32) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

bool Matches(const IntegrationProperties& p, const std::string& type,
             const std::string& regulation) {
  bool type_ok =
      p.events.empty() || std::find(p.events.begin(), p.events.end(), type) != p.events.end();
  bool regulation_ok =
      (p.regulations.size() == 1 && p.regulations[0] == "*") ||
      std::find(p.regulations.begin(), p.regulations.end(), regulation) != p.regulations.end();
  return type_ok && regulation_ok;
}

Result<IntegrationSpec> ParseIntegrationSpec(const json::object& body) {
  RELAY_RETURN_IF_ERROR(
      CheckKnownFields(body, "", {"type_id", "authentication", "properties", "enabled"}));
  const json::value* type = body.if_contains("type_id");
  if (!type) return InvalidField("type_id", "is required");
  if (!type->is_string() || type->as_string() != kWebhookTypeId) {
    return InvalidField("type_id", "must be \"webhook-http\"");
  }
  IntegrationSpec spec;
  if (const json::value* enabled = body.if_contains("enabled"); enabled && !enabled->is_null()) {
    if (!enabled->is_bool()) return InvalidField("enabled", "must be a boolean");
    spec.enabled = enabled->as_bool();
  }
  RELAY_ASSIGN_OR_RETURN(spec.oauth, ParseAuthentication(body.if_contains("authentication")));
  RELAY_ASSIGN_OR_RETURN(spec.properties, ParseProperties(body.if_contains("properties")));
  return spec;
}

boost::json::object AuthenticationToStoredJson(const IntegrationSpec& spec) {
  json::object a;
  if (!spec.oauth) return a;
  a["url"] = spec.oauth->url;
  a["client_id"] = spec.oauth->client_id;
  if (!spec.oauth->scope.empty()) a["scope"] = spec.oauth->scope;
  if (!spec.oauth->audience.empty()) a["audience"] = spec.oauth->audience;
  a["client_auth_method"] = spec.oauth->client_auth_method;
  return a;
}

boost::json::object PropertiesToJson(const IntegrationProperties& p) {
  json::object o;
  o["url"] = p.url;
  json::array events;
  for (const auto& e : p.events) events.emplace_back(e);
  o["events"] = std::move(events);
  json::array regs;
  for (const auto& r : p.regulations) regs.emplace_back(r);
  o["regulations"] = std::move(regs);
  o["flatten"] = p.flatten;
  json::object headers;
  for (const auto& [k, v] : p.headers) headers[k] = v;
  o["headers"] = std::move(headers);
  o["timeout_ms"] = p.timeout_ms;
  o["ordering"] = p.ordering;
  o["rate_limit_per_second"] =
      p.rate_limit_per_second > 0 ? json::value(p.rate_limit_per_second) : json::value(nullptr);
  return o;
}

boost::json::object SpecToJson(const IntegrationSpec& spec) {
  json::object auth = AuthenticationToStoredJson(spec);
  if (spec.oauth) auth["client_secret"] = spec.oauth->client_secret;
  return json::object{{"type_id", kWebhookTypeId},
                      {"enabled", spec.enabled},
                      {"authentication", std::move(auth)},
                      {"properties", PropertiesToJson(spec.properties)}};
}

namespace {
json::value TimeOrNull(const std::optional<int64_t>& t) {
  return t ? json::value(FormatTimestamp(*t)) : json::value(nullptr);
}
}  // namespace

boost::json::object IntegrationToJson(const Integration& i) {
  const IntegrationHealth& h = i.health;
  json::object health{
      {"state", h.state},
      {"consecutive_failures", h.consecutive_failures},
      {"last_success_at", TimeOrNull(h.last_success_at)},
      {"last_failure_at", TimeOrNull(h.last_failure_at)},
      {"open_until", TimeOrNull(h.open_until)},
      {"disabled_reason",
       h.disabled_reason.empty() ? json::value(nullptr) : json::value(h.disabled_reason)}};
  json::object auth = AuthenticationToStoredJson(i.spec);
  if (i.spec.oauth) auth["client_secret"] = kSecretMask;
  return json::object{{"id", i.id},
                      {"organization_id", i.organization_id},
                      {"type_id", i.type_id},
                      {"enabled", i.spec.enabled},
                      {"authentication", std::move(auth)},
                      {"properties", PropertiesToJson(i.spec.properties)},
                      {"created_at", FormatTimestamp(i.created_at)},
                      {"updated_at", FormatTimestamp(i.updated_at)},
                      {"version", i.version},
                      {"health", std::move(health)}};
}

}  // namespace relay::integrations
