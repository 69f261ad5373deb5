// Dispatcher: the delivery engine. One thread claims due deliveries from the store in batches
// (with a lease), sends them through HttpClient (OAuth tokens fetched single-flight per
// integration, Standard Webhooks signatures), and records their outcomes in batches: succeeded,
// retry at T (RetryPolicy), or dead.
//
// Fairness: at most max_in_flight transfers overall and max_in_flight_per_integration per
// integration; an integration at its cap is left out of claims, so a slow endpoint never holds
// back the others. Endpoint health: the store keeps each integration's failure count and circuit
// breaker as it records outcomes; an integration whose breaker is open, or which is disabled, is
// not claimed, and what this node holds of it goes back untried. Between a failure here and the
// store's answer, an integration whose count may have reached the breaker's threshold starts
// nothing new. Crash safety: a claim is a lease; deliveries of a process that died are claimed
// again when their lease runs out (and at start on the single-node SQLite store). Everything
// here is at-least-once: an outcome is recorded after the endpoint answered, so a crash in between
// sends that delivery again.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/destination_guard.h"
#include "common/metrics.h"
#include "common/random.h"
#include "integrations/integration_service.h"
#include "store/outbox_store.h"

namespace relay::delivery {

class Sender;

struct DispatcherOptions {
  int max_in_flight = 512;
  int max_in_flight_per_integration = 32;
  std::vector<int64_t> retry_schedule;  // empty: the default
  // How long a claim holds without a heartbeat. The dispatcher renews the leases it holds every
  // quarter lease, so a lease never runs out under a live holder, however long an attempt takes;
  // a dead node's deliveries come back within one lease.
  int64_t lease_millis = 20'000;
  int claim_batch = 256;
  // Deliveries of one lane claimed together (dispatcher.cc: the next starts when the one before it
  // succeeds, without another claim).
  int lane_depth = 16;
  // On a store one process owns (SQLite), the writer claims each new lane's head as it writes
  // it and hands it here after the commit, without a claim query (store/handoff.h).
  bool handoff = true;
  // Endpoint health: the circuit breaker, 410 and auto-disable (store/health.h).
  store::HealthPolicy health;
  int idle_poll_millis = 50;
  std::string user_agent;
  std::string ca_file;
  // Tests: send through this (which must outlive the dispatcher) instead of HTTP.
  Sender* sender = nullptr;
};

class Dispatcher {
 public:
  // Every reference must outlive the dispatcher.
  Dispatcher(DispatcherOptions options, store::OutboxStore& store,
             integrations::IntegrationService& integrations, const DestinationGuard& guard,
             const Clock& clock, Random& random, MetricsRegistry& metrics);
  ~Dispatcher();

  void Start();
  // Stops claiming, lets transfers in flight finish for up to `grace_seconds`, puts the rest back
  // (pending, no attempt counted) and joins the thread. Idempotent.
  void Stop(int grace_seconds);
  // New deliveries may be due: claim now rather than at the next poll. Thread-safe, cheap.
  void Wake();

  bool running() const { return running_.load(); }
  int64_t in_flight() const { return in_flight_.load(); }

 private:
  class Engine;
  std::unique_ptr<Engine> engine_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::atomic<int64_t> in_flight_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<int> grace_seconds_{10};
  std::atomic<bool> woken_{false};
};

}  // namespace relay::delivery
