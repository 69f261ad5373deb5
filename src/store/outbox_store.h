// OutboxStore: deliveries as the API shows them, and the delivery engine's claims, outcomes,
// leases, re-queues, purges and erasure (the dispatcher, the delivery service, retention).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/handoff.h"
#include "store/rows.h"

namespace relay::store {

// All methods are thread-safe and each is atomic: it either happens whole or not at all. A write
// that returns ok is durable (on disk, or committed on the database server). Errors: kNotFound
// for absent rows (rows of another organization count as absent), kConflict for duplicates and
// version mismatches, kUnavailable when the database cannot be written (disk full, locked too
// long), kInternal otherwise.
class OutboxStore {
 public:
  virtual ~OutboxStore() = default;

  // Fresh deliveries go to `handoff` at commit, claimed by the write itself (store/handoff.h), on
  // a backend one process owns; nullptr stops it. Others ignore it: their nodes claim.
  virtual void SetHandoff(std::shared_ptr<Handoff> handoff) { (void)handoff; }

  // --- the outbox, as the API shows it ---
  // Newest first. Payloads are resolved (a delivery without its own payload shows the message's).
  // A keyset page (`page.keyset`) starts after the delivery `page.after` names, of the same
  // organization and integration; one that names none is kInvalidArgument ($cursor).
  virtual Result<Page<DeliveryRow>> ListDeliveries(const std::string& organization_id,
                                                   const DeliveryFilter& filter,
                                                   const PageRequest& page) = 0;
  virtual Result<std::optional<DeliveryRow>> GetDelivery(const std::string& organization_id,
                                                         const std::string& integration_id,
                                                         const std::string& id) = 0;
  // Where a delivery belongs, found by its id alone (the operator's commands, which are given
  // only the id): its organization and integration, or nullopt.
  virtual Result<std::optional<DeliveryScope>> LocateDelivery(const std::string& id) = 0;

  // --- the delivery engine ---
  // Claims up to `limit` due deliveries (pending with next_attempt_at <= now, or in flight with an
  // expired lease) of enabled integrations whose breaker is closed, oldest due first, marking them
  // in flight until lease_until. Never hands out a delivery whose lease holds. An integration
  // whose breaker's open period is over gets one probe (its oldest due delivery, `probe` set),
  // and its breaker stays open until the probe's lease ends or its outcome is recorded.
  virtual Result<std::vector<ClaimedDelivery>> ClaimDeliveries(const ClaimRequest& request) = 0;
  // Records attempts and new statuses in one transaction, with what the attempts tell of their
  // integrations' health (store/health.h: counts, the breaker, 410 and auto-disable). An outcome
  // whose lease token no longer matches (the delivery was claimed again) changes no status, and
  // keeps its attempt only where the holder recorded none with that number. A retry or release
  // (pending) of a delivery whose integration was deleted becomes cancelled. Returns the health
  // of each integration an attempt (or a probe) touched.
  virtual Result<std::vector<HealthReport>> RecordOutcomes(
      const std::vector<DeliveryOutcome>& outcomes, int64_t now, const HealthPolicy& policy) = 0;
  // The work one claim does, measured and undone: the claim runs in a transaction that is rolled
  // back, so nothing changes. PostgreSQL counts the table rows it read (the transaction's
  // pg_stat_get_xact_tuples_* of the outbox's tables); SQLite, the virtual machine steps of the
  // writer's statements. Either grows with the rows the claim visits: a diagnostic that a claim
  // costs its batch, not the backlog.
  virtual Result<int64_t> MeasureClaim(const ClaimRequest& request) = 0;
  // RecordOutcomes then ClaimDeliveries, in one round trip where the backend can (the
  // dispatcher's steady state). Fails as a whole: nothing recorded, nothing claimed.
  virtual Result<RoundTripResult> RecordAndClaim(const std::vector<DeliveryOutcome>& outcomes,
                                                 int64_t now, const HealthPolicy& policy,
                                                 const ClaimRequest& request);
  // Extends to `lease_until` the leases of the deliveries still held under these tokens (the
  // holder's heartbeat). A delivery claimed again by someone else, or finished, is left alone.
  // Returns how many leases were extended.
  virtual Result<int64_t> RenewLeases(const std::vector<HeldLease>& held, int64_t lease_until) = 0;
  // Puts every in-flight delivery back to pending: for a backend only one process can use, at
  // start, since nobody else can hold a claim.
  virtual Status ReleaseAllClaims(int64_t now) = 0;
  // Re-queues one delivery now with a fresh retry schedule. kFailedPrecondition while in flight.
  virtual Result<DeliveryRow> RequeueDelivery(const std::string& organization_id,
                                              const std::string& integration_id,
                                              const std::string& id, int64_t now) = 0;
  // Re-queues every matching delivery, in batches of `batch` (one transaction each), never
  // holding them all in memory. Returns how many.
  virtual Result<int64_t> RequeueDeliveries(const std::string& organization_id,
                                            const std::string& integration_id,
                                            const ReplayFilter& filter, int64_t now, int batch) = 0;
  // Deletes up to `batch` deliveries in `status` last changed before `before` (with their
  // attempts, and messages left without deliveries). Returns how many.
  virtual Result<int64_t> PurgeDeliveries(DeliveryStatus status, int64_t before, int batch) = 0;
  virtual Result<DeliveryCounts> CountDeliveries() = 0;
  // For each erased user: erases the payload and response bodies of its finished deliveries (a
  // dead one becomes cancelled), and the payload of its messages with no delivery left to send;
  // an erasure with nothing left waiting is done. Returns how many deliveries were erased.
  virtual Result<int64_t> EraseFinished(int64_t now) = 0;
  // The waiting deliveries of deleted integrations become cancelled (kept as history), with
  // their lanes gone: up to `lanes` lanes in one transaction, so a backlog of millions never holds
  // the writer long, and a crash resumes where it stopped. Returns how many lanes it emptied (0:
  // nothing is left).
  virtual Result<int64_t> CancelDeletedBacklog(int64_t now, int lanes) = 0;
  // Forgets Idempotency-Key answers created before `before` (and other bookkeeping as old).
  virtual Status PurgeExpiredRecords(int64_t before) = 0;
};

}  // namespace relay::store
