// Endpoint health: what a batch of delivery outcomes does to its integrations' health, by the
// policy. Shared by every backend, which loads the rows of the integrations involved (locked where
// several nodes write), applies the batch here, and writes back what came out.
//
// The rules, per attempt, in the batch's order:
// - A success resets the failure count and closes the breaker.
// - A failure counts. After policy.breaker_failures in a row the breaker opens for the cooldown;
//   a failed probe reopens it for twice the last cooldown (up to the maximum).
// - 410 Gone disables the integration, and so does a run of failures with no success for
//   policy.auto_disable_after_ms.
// - A failed attempt that leaves its integration held (breaker open, or disabled) is uncounted:
//   its delivery waits, due again as soon as its integration may send, its retry cycle where it
//   was. No delivery goes dead of an outage the breaker caught.
// - A probe released untried lets the next claim probe again.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "store/rows.h"

namespace relay::store {

// An integration's health as loaded before a batch.
struct HealthSnapshot {
  std::string organization_id;
  bool enabled = true;
  IntegrationHealthRow health;
};

// last_success_at is kept to this precision: a batch whose only change is a newer success less
// than this after the stored one writes nothing (the steady state of a healthy endpoint: no
// write, and on PostgreSQL no lock, per batch).
inline constexpr int64_t kSuccessPrecisionMillis = 1000;

struct HealthEffects {
  std::vector<DeliveryOutcome> outcomes;  // the batch, with held failures turned into waits
  std::vector<HealthReport> reports;      // one per integration of `current`, sorted by id
  std::vector<std::string> disabled;      // integrations this batch disabled
  bool write = false;                     // something is worth storing
};

// The integrations whose health a batch touches: those of outcomes with an attempt or a probe.
std::set<std::string> HealthSubjects(const std::vector<DeliveryOutcome>& outcomes);

// Applies the batch. Outcomes of integrations missing from `current` (deleted) pass unchanged.
HealthEffects ApplyHealth(const std::vector<DeliveryOutcome>& outcomes,
                          const std::map<std::string, HealthSnapshot>& current,
                          const HealthPolicy& policy, int64_t now);

}  // namespace relay::store
