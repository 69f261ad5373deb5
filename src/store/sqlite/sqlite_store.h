// SqliteStore: the embedded Store backend (one database file, WAL mode, synchronous=FULL).
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "store/sqlite/sqlite_schema.h"
#include "store/store.h"
#include "store/write_health.h"

namespace relay::store {

class SqliteDb;

class SqliteStore final : public Store {
 public:
  // Opens or creates the database at `path` and applies pending migrations. Fails with
  // kFailedPrecondition when the database was written by a newer consent-relay, and with a clear
  // message when the file is not an SQLite database.
  // With `serving`, the store also takes an exclusive lock (PATH.serve-lock) for as long as it
  // is open: a second server on the same file refuses to start (kFailedPrecondition) instead of
  // releasing the first one's claims. The keys and orgs commands open it without the lock.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path, bool serving = false);
  ~SqliteStore() override;

  Result<std::optional<std::string>> GetSetting(const std::string& name) override;
  Result<std::string> PutSettingIfAbsent(const std::string& name,
                                         const std::string& value) override;

  Status CheckWritable() override;
  Result<StoreFacts> Facts() override;

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
  void SetHandoff(std::shared_ptr<Handoff> handoff) override;
  Result<int64_t> CancelDeletedBacklog(int64_t now, int lanes) override;
  Status PurgeExpiredRecords(int64_t before) override;

 private:
  SqliteStore(std::unique_ptr<SqliteDb> db, std::vector<std::unique_ptr<SqliteDb>> readers);
  friend class SqliteWriteTransaction;
  Status EnsureOrganization(const std::string& organization_id, int64_t now);
  static Result<std::vector<std::string>> KeyOrganizations(SqliteDb& db, const std::string& key_id);

  // Group commit: Write() queues its closure; a leader runs every queued closure in one
  // transaction (a savepoint each) and one fsync, then marks them done.
  struct PendingWrite {
    const std::function<Status()>* body = nullptr;  // runs against db_ inside the batch
    bool durable = true;                            // its commit must be on disk before it returns
    Status status;
    bool done = false;  // guarded by queue_mu_
  };

  // A read connection borrowed from the pool; returned when the lease dies.
  class ReaderLease {
   public:
    ReaderLease(SqliteStore* store, SqliteDb* db) : store_(store), db_(db) {}
    ReaderLease(const ReaderLease&) = delete;
    ~ReaderLease() { store_->ReturnReader(db_); }
    SqliteDb* operator->() const { return db_; }
    SqliteDb& operator*() const { return *db_; }

   private:
    SqliteStore* store_;
    SqliteDb* db_;
  };
  ReaderLease BorrowReader();
  // Runs `body` (SQL on db_) in the next group-commit batch; returns once that batch committed.
  // A batch waits for fsync when any of its writes is `durable`. Only the dispatcher's own
  // bookkeeping (claims, outcomes, lease renewals) is not: a power loss can forget its last
  // commits, which sends those deliveries again (at-least-once), and a killed process loses
  // nothing (the page cache survives it).
  Status RunInBatch(const std::function<Status()>& body, bool durable = true);
  // Runs one batch's closures in one transaction; the caller holds mu_.
  void RunBatch(const std::vector<PendingWrite*>& batch);
  // The SQL of claims and outcomes, run on db_ inside a batch.
  Status ClaimOnWriter(const ClaimRequest& request, std::vector<ClaimedDelivery>* claimed);
  // The ready queue's bookkeeping (outbox_store.cc), on the writer.
  Status MarkIntegrationDue(const std::string& integration, int64_t due);
  Status RefreshLanesOnWriter(const std::set<int64_t>& lanes);
  Status JoinLaneOnWriter(int64_t seq);
  Status RecordOnWriter(const std::vector<DeliveryOutcome>& outcomes, int64_t now,
                        const HealthPolicy& policy, std::vector<HealthReport>* health);
  void ReturnReader(SqliteDb* db);

  int serve_lock_fd_ = -1;  // held while open with `serving`
  // Serializes all use of db_, the one write connection. db_ is not annotated GUARDED_BY: the
  // group-commit closures and InTransaction bodies use it from lambdas the analysis cannot follow.
  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;
  // Read-only methods use these connections instead: in WAL mode a reader sees the last commit
  // and never waits for the writer (nor for its fsync).
  std::vector<std::unique_ptr<SqliteDb>> readers_;
  Mutex readers_mu_;
  std::condition_variable reader_returned_;
  std::vector<SqliteDb*> idle_readers_ GUARDED_BY(readers_mu_);
  Mutex queue_mu_;
  std::vector<PendingWrite*> queue_ GUARDED_BY(queue_mu_);
  bool batch_running_ GUARDED_BY(queue_mu_) = false;
  std::chrono::steady_clock::time_point batch_started_ GUARDED_BY(queue_mu_);
  WriteHealth write_health_;
  std::condition_variable batch_done_;
  Mutex handoff_mu_;
  std::shared_ptr<Handoff> handoff_ GUARDED_BY(handoff_mu_);  // store/handoff.h
};

}  // namespace relay::store
