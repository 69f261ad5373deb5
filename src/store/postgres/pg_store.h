// PgStore: the Store on a PostgreSQL database that several consent-relay nodes share.
//
// Each node keeps a small pool of libpq connections. Writes run in their own transaction on a
// pooled connection and are retried (a bounded number of times) after a serialization failure,
// a deadlock or a unique violation raced by another node; the write closures are written to be
// run again. Users read inside a write are locked (SELECT ... FOR UPDATE), so two nodes merging
// consents into one user never lose each other's changes. Claims use FOR UPDATE SKIP LOCKED, so
// no delivery is handed to two nodes while its lease holds; a dead node's claims come back when
// their lease runs out.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"
#include "store/postgres/pg_db.h"
#include "store/store.h"
#include "store/write_health.h"

namespace relay::store {

class PgStore final : public Store {
 public:
  // Connects to `url` (postgres://...) and applies pending migrations under an advisory lock.
  static Result<std::unique_ptr<PgStore>> Open(const std::string& url, int pool_size = 4);
  ~PgStore() override;

  Result<std::optional<std::string>> GetSetting(const std::string& name) override;
  Result<std::string> PutSettingIfAbsent(const std::string& name,
                                         const std::string& value) override;

  Status CheckWritable() override;
  Result<StoreFacts> Facts() override;
  // Called at named points of a transaction ("after_commit": COMMIT succeeded); returning true
  // injects the fault of that point (after_commit: the connection drops before the answer
  // arrives). For fault tests only.
  void SetFaultHookForTesting(std::function<bool(std::string_view point)> hook);

  Status CreateApiKey(const ApiKeyRow& key) override;
  Result<ApiKeyRow> GetApiKey(const std::string& id) override;
  Result<KeyGrant> GetKeyGrant(const std::string& key_id,
                               const std::string& organization_id) override;
  Result<std::vector<ApiKeyRow>> ListApiKeys() override;
  Status RevokeApiKey(const std::string& id, int64_t now) override;

  Status SetOrganizationFeature(const std::string& organization_id, const std::string& feature,
                                bool enabled, int64_t now) override;
  Result<std::set<std::string>> GetOrganizationFeatures(
      const std::string& organization_id) override;
  Result<std::vector<OrganizationRow>> ListOrganizations() override;

  Status CreateIntegration(const IntegrationRow& row) override;
  Result<IntegrationRow> GetIntegration(const std::string& organization_id,
                                        const std::string& id) override;
  Result<Page<IntegrationRow>> ListIntegrations(const std::string& organization_id,
                                                const PageRequest& page) override;
  Status UpdateIntegration(const IntegrationRow& row, int64_t expected_version) override;
  Status DeleteIntegration(const std::string& organization_id, const std::string& id,
                           int64_t now) override;

  Status Write(const std::function<Status(WriteTransaction&)>& body) override;
  Result<std::optional<ConsentEventRow>> GetEvent(const std::string& organization_id,
                                                  const std::string& id) override;
  Result<Page<ConsentEventRow>> ListEvents(const std::string& organization_id,
                                           const std::string& user_id,
                                           const std::string& regulation,
                                           const PageRequest& page) override;
  Result<std::optional<ConsentUserRow>> GetUser(const std::string& organization_id,
                                                const std::string& id) override;
  Result<std::optional<ConsentUserRow>> FindUserByOrganizationUserId(
      const std::string& organization_id, const std::string& organization_user_id) override;
  Result<Page<ConsentUserRow>> ListUsers(const std::string& organization_id,
                                         const std::string& organization_user_id,
                                         const PageRequest& page) override;
  Result<Page<DeliveryRow>> ListDeliveries(const std::string& organization_id,
                                           const DeliveryFilter& filter,
                                           const PageRequest& page) override;
  Result<std::optional<DeliveryRow>> GetDelivery(const std::string& organization_id,
                                                 const std::string& integration_id,
                                                 const std::string& id) override;

  Result<std::vector<ClaimedDelivery>> ClaimDeliveries(const ClaimRequest& request) override;
  Result<int64_t> MeasureClaim(const ClaimRequest& request) override;
  Result<std::optional<DeliveryScope>> LocateDelivery(const std::string& id) override;
  Result<std::vector<HealthReport>> RecordOutcomes(const std::vector<DeliveryOutcome>& outcomes,
                                                   int64_t now,
                                                   const HealthPolicy& policy) override;
  Result<RoundTripResult> RecordAndClaim(const std::vector<DeliveryOutcome>& outcomes, int64_t now,
                                         const HealthPolicy& policy,
                                         const ClaimRequest& request) override;
  // Other nodes may hold claims: nothing is released here; a dead node's leases run out.
  Result<int64_t> RenewLeases(const std::vector<HeldLease>& held, int64_t lease_until) override;
  Status ReleaseAllClaims(int64_t now) override;
  Result<DeliveryRow> RequeueDelivery(const std::string& organization_id,
                                      const std::string& integration_id, const std::string& id,
                                      int64_t now) override;
  Result<int64_t> RequeueDeliveries(const std::string& organization_id,
                                    const std::string& integration_id, const ReplayFilter& filter,
                                    int64_t now, int batch) override;
  Result<int64_t> PurgeDeliveries(DeliveryStatus status, int64_t before, int batch) override;
  Result<DeliveryCounts> CountDeliveries() override;
  Result<int64_t> EraseFinished(int64_t now) override;
  Result<int64_t> CancelDeletedBacklog(int64_t now, int lanes) override;
  Status PurgeExpiredRecords(int64_t before) override;

 private:
  PgStore(std::string url, int pool_size);

  // The connection pools: the shared one, and a small one the dispatcher's bookkeeping has to
  // itself, so that its round trips never queue behind requests that hold every shared
  // connection (under load that queue made each round trip 30 ms instead of 4).
  enum Pool { kShared = 0, kDispatcher = 1 };
  static constexpr int kDispatcherPoolSize = 2;

  // A pooled connection, returned when the lease dies (dropped instead when it broke).
  class Lease {
   public:
    Lease(PgStore* store, std::unique_ptr<PgConn> conn, Pool pool)
        : store_(store), conn_(std::move(conn)), pool_(pool) {}
    Lease(Lease&&) = default;
    ~Lease();
    PgConn* operator->() const { return conn_.get(); }
    PgConn& operator*() const { return *conn_; }

   private:
    PgStore* store_;
    std::unique_ptr<PgConn> conn_;
    Pool pool_;
  };
  Result<Lease> Borrow(Pool pool = kShared);
  // Runs `body` in a transaction on a pooled connection, again after a retryable failure. A body
  // that throws fails like one that returns an error. With a `receipt` (a row id the body
  // inserts into write_receipts), a COMMIT whose answer was lost is checked, not run again.
  // Not `durable`: the dispatcher's bookkeeping, on the dispatcher's pool, and the commit does not
  // wait for the WAL flush (synchronous_commit off for this transaction): a database crash can
  // forget its newest claims, outcomes and renewals, which sends those deliveries again; while
  // the database runs, every node sees them at once, so no claim is shared.
  Status InTransaction(const std::function<Status(PgConn&)>& body, const std::string& receipt = "",
                       bool durable = true);
  Result<bool> ReceiptExists(const std::string& receipt);
  bool Fault(std::string_view point);
  Status ClaimOn(PgConn& db, const ClaimRequest& request, std::vector<ClaimedDelivery>* claimed);
  // The lanes given, locked by the caller, held still, ready again or removed (outbox_store.cc).
  Status RefreshLanesOn(PgConn& db, const std::vector<int64_t>& lanes);
  Status RecordOn(PgConn& db, const std::vector<DeliveryOutcome>& outcomes, int64_t now,
                  const HealthPolicy& policy, std::vector<HealthReport>* health);

  std::string url_;
  int pool_size_;
  Mutex mu_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<PgConn>> idle_[2] GUARDED_BY(mu_);
  int open_[2] GUARDED_BY(mu_) = {0, 0};  // connections in use or idle, per pool
  std::function<bool(std::string_view)> fault_hook_ GUARDED_BY(mu_);
  WriteHealth write_health_;
};

}  // namespace relay::store
