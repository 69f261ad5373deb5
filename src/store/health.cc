// Endpoint health rules (see health.h).
#include "store/health.h"

#include <algorithm>
#include <tuple>

#include "common/time_format.h"

namespace relay::store {

const char* HealthStateName(HealthState state) {
  switch (state) {
    case HealthState::kHealthy:
      return "healthy";
    case HealthState::kFailing:
      return "failing";
    case HealthState::kOpen:
      return "open";
    case HealthState::kDisabled:
      return "disabled";
  }
  return "healthy";
}

HealthState StateOf(const IntegrationHealthRow& health, bool enabled) {
  if (!enabled) return HealthState::kDisabled;
  if (health.open_until) return HealthState::kOpen;
  if (health.consecutive_failures > 0) return HealthState::kFailing;
  return HealthState::kHealthy;
}

std::set<std::string> HealthSubjects(const std::vector<DeliveryOutcome>& outcomes) {
  std::set<std::string> ids;
  for (const auto& o : outcomes) {
    if ((o.attempt || o.probe) && !o.integration_id.empty()) ids.insert(o.integration_id);
  }
  return ids;
}

namespace {

bool Succeeded(const DeliveryOutcome& o) {
  return o.status == DeliveryStatus::kSucceeded && o.attempt && o.attempt->http_status &&
         *o.attempt->http_status >= 200 && *o.attempt->http_status <= 299;
}

std::string Describe(const AttemptRow& a) {
  return a.http_status ? "HTTP " + std::to_string(*a.http_status) : a.error;
}

// One outcome applied to its integration; returns whether the delivery is held.
bool Apply(HealthSnapshot& s, const DeliveryOutcome& o, const HealthPolicy& policy, int64_t now,
           std::vector<std::pair<HealthState, std::string>>& changes) {
  IntegrationHealthRow& h = s.health;
  const HealthState before = StateOf(h, s.enabled);
  std::string reason;
  bool held = false;
  if (!o.attempt) {
    // A probe handed back untried: the next claim may probe again.
    if (o.probe && h.open_until && *h.open_until > now) h.open_until = now;
  } else if (Succeeded(o)) {
    h.consecutive_failures = 0;
    h.failing_since.reset();
    h.last_success_at = now;
    h.open_until.reset();
    h.cooldown_ms = 0;
    reason = "an attempt succeeded";
  } else {
    ++h.consecutive_failures;
    h.last_failure_at = now;
    if (!h.failing_since) h.failing_since = now;
    reason = "attempt failed: " + Describe(*o.attempt);
    if (s.enabled && o.attempt->http_status && *o.attempt->http_status == 410) {
      s.enabled = false;
      h.disabled_reason = "the endpoint answered 410 Gone at " + FormatTimestamp(now);
      reason = h.disabled_reason;
    } else if (s.enabled && policy.auto_disable_after_ms > 0 &&
               now - *h.failing_since >= policy.auto_disable_after_ms) {
      s.enabled = false;
      h.disabled_reason = "no attempt succeeded from " + FormatTimestamp(*h.failing_since) +
                          " to " + FormatTimestamp(now) + " (" +
                          std::to_string(h.consecutive_failures) + " failed attempts)";
      reason = h.disabled_reason;
    }
    if (o.probe && h.open_until) {
      h.cooldown_ms = std::min(std::max(h.cooldown_ms * 2, policy.breaker_cooldown_ms),
                               policy.breaker_max_cooldown_ms);
      h.open_until = now + h.cooldown_ms;
      if (s.enabled) reason = "the probe failed (" + Describe(*o.attempt) + ")";
    } else if (!h.open_until && policy.breaker_failures > 0 &&
               h.consecutive_failures >= policy.breaker_failures) {
      h.cooldown_ms = std::min(policy.breaker_cooldown_ms, policy.breaker_max_cooldown_ms);
      h.open_until = now + h.cooldown_ms;
      if (s.enabled) {
        reason = std::to_string(h.consecutive_failures) +
                 " attempts failed in a row (last: " + Describe(*o.attempt) + ")";
      }
    }
    held = !s.enabled || h.open_until.has_value();
  }
  const HealthState after = StateOf(h, s.enabled);
  if (after != before) changes.emplace_back(after, reason);
  return held;
}

}  // namespace

HealthEffects ApplyHealth(const std::vector<DeliveryOutcome>& outcomes,
                          const std::map<std::string, HealthSnapshot>& current,
                          const HealthPolicy& policy, int64_t now) {
  HealthEffects effects;
  effects.outcomes = outcomes;
  std::map<std::string, HealthSnapshot> state = current;
  std::map<std::string, std::vector<std::pair<HealthState, std::string>>> changes;
  std::map<std::string, int64_t> dead;
  for (auto& o : effects.outcomes) {
    auto it = state.find(o.integration_id);
    if (it == state.end()) continue;
    if (Apply(it->second, o, policy, now, changes[o.integration_id])) {
      // Held: due again as soon as the integration may send; this attempt not counted.
      o.status = DeliveryStatus::kPending;
      o.next_attempt_at = now;
      o.uncounted = true;
    }
    if (o.status == DeliveryStatus::kDead) ++dead[o.integration_id];
  }
  for (auto& [id, s] : state) {
    const auto& was = current.at(id);
    if (was.enabled && !s.enabled) effects.disabled.push_back(id);
    IntegrationHealthRow compared = s.health;
    if (was.health.last_success_at && compared.last_success_at &&
        *compared.last_success_at - *was.health.last_success_at < kSuccessPrecisionMillis) {
      compared.last_success_at = was.health.last_success_at;
    }
    const IntegrationHealthRow& h = was.health;
    effects.write |= was.enabled != s.enabled ||
                     std::tie(compared.consecutive_failures, compared.last_success_at,
                              compared.last_failure_at, compared.failing_since, compared.open_until,
                              compared.cooldown_ms, compared.disabled_reason) !=
                         std::tie(h.consecutive_failures, h.last_success_at, h.last_failure_at,
                                  h.failing_since, h.open_until, h.cooldown_ms, h.disabled_reason);
    HealthReport r;
    r.integration_id = id;
    r.organization_id = s.organization_id;
    r.health = s.health;
    r.enabled = s.enabled;
    r.changes = std::move(changes[id]);
    r.dead = dead[id];
    effects.reports.push_back(std::move(r));
  }
  return effects;
}

}  // namespace relay::store
