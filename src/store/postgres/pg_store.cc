// PgStore: connections, transactions with their receipts, and health. The roles' statements are
// in account_store.cc, integration_store.cc, consent_store.cc and outbox_store.cc, each beside
// its SQLite counterpart; they follow the SQLite store's one for one ('?' placeholders, numbered
// by PgConn), and where the dialects differ, the comment says why.
#include "store/postgres/pg_store.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/clock.h"
#include "common/crypto.h"
#include "store/catching.h"
#include "store/postgres/pg_rows.h"
#include "store/postgres/pg_schema.h"
#include "store/shared_sql.h"

namespace relay::store {
using namespace pg;  // NOLINT: the shared helpers of this directory

namespace {

constexpr int kWriteAttempts = 5;

}  // namespace

// --- connections -----------------------------------------------------------------------------

PgStore::PgStore(std::string url, int pool_size) : url_(std::move(url)), pool_size_(pool_size) {}
PgStore::~PgStore() = default;

Result<std::unique_ptr<PgStore>> PgStore::Open(const std::string& url, int pool_size) {
  std::unique_ptr<PgStore> store(new PgStore(url, std::max(1, pool_size)));
  RELAY_ASSIGN_OR_RETURN(auto conn, PgConn::Connect(url));
  Status migrated = MigratePg(*conn);
  if (!migrated.ok()) {
    return Status(migrated.code(),
                  "cannot open the database " + RedactDatabaseUrl(url) + ": " + migrated.message());
  }
  {
    MutexLock lock(store->mu_);  // nobody else has the store yet; the analysis cannot know
    store->idle_[kShared].push_back(std::move(conn));
    store->open_[kShared] = 1;
  }
  return store;
}

PgStore::Lease::~Lease() {
  if (!conn_) return;
  // A connection goes back to the pool outside any transaction, or not at all: a later COMMIT on
  // it must never commit what an earlier, failed request wrote.
  if (!conn_->broken() && conn_->in_transaction()) (void)conn_->Exec("ROLLBACK");
  MutexLock lock(store_->mu_);
  if (conn_->broken() || conn_->in_transaction()) {
    --store_->open_[pool_];  // dropped; the next Borrow connects afresh
  } else {
    store_->idle_[pool_].push_back(std::move(conn_));
  }
  store_->returned_.notify_all();  // two pools share the condition
}

Result<PgStore::Lease> PgStore::Borrow(Pool pool) {
  const int size = pool == kShared ? pool_size_ : kDispatcherPoolSize;
  {
    MutexLock lock(mu_);
    while (idle_[pool].empty() && open_[pool] >= size) lock.Wait(returned_);
    if (!idle_[pool].empty()) {
      auto conn = std::move(idle_[pool].back());
      idle_[pool].pop_back();
      return Lease(this, std::move(conn), pool);
    }
    ++open_[pool];
  }
  auto conn = PgConn::Connect(url_);
  if (!conn.ok()) {
    MutexLock lock(mu_);
    --open_[pool];
    returned_.notify_all();
    return conn.status();
  }
  return Lease(this, std::move(*conn), pool);
}

void PgStore::SetFaultHookForTesting(std::function<bool(std::string_view)> hook) {
  MutexLock lock(mu_);
  fault_hook_ = std::move(hook);
}

bool PgStore::Fault(std::string_view point) {
  std::function<bool(std::string_view)> hook;
  {
    MutexLock lock(mu_);
    hook = fault_hook_;
  }
  return hook && hook(point);
}

Result<StoreFacts> PgStore::Facts() {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  RELAY_ASSIGN_OR_RETURN(
      auto r, db->Query("SELECT coalesce(max(version), 0), (extract(epoch FROM clock_timestamp()) "
                        "* 1000)::bigint FROM relay_schema"));
  StoreFacts facts;
  facts.schema_version = r.Int(0, 0);
  facts.supported_schema_version = PgSchemaVersion();
  facts.server_clock_millis = r.Int(0, 1);
  return facts;
}

Status PgStore::CheckWritable() {
  if (auto recent = write_health_.Recent()) return *recent;
  const int64_t now = SystemClock::Instance().NowMillis();
  return InTransaction([&](PgConn& db) {
    return db.Query(kHealthProbeSql, {P(std::string("health_probe")), P(now)}).status();
  });
}

Result<bool> PgStore::ReceiptExists(const std::string& receipt) {
  RELAY_ASSIGN_OR_RETURN(auto db, Borrow());
  RELAY_ASSIGN_OR_RETURN(auto r,
                         db->Query("SELECT 1 FROM write_receipts WHERE id = ?", {P(receipt)}));
  return r.rows() > 0;
}

// A COMMIT whose answer never came (the connection dropped) may have committed. Running the body
// again would then write everything twice, with new ids. So a write that carries a receipt (a
// random id inserted by the same transaction) is looked up first: found, the first try committed
// and its result stands; absent, it did not, and the body runs again.
Status PgStore::InTransaction(const std::function<Status(PgConn&)>& body,
                              const std::string& receipt, bool durable) {
  Status last;
  for (int attempt = 0; attempt < kWriteAttempts; ++attempt) {
    RELAY_ASSIGN_OR_RETURN(auto db, Borrow(durable ? kShared : kDispatcher));
    Status begun = db->Exec(durable ? "BEGIN" : "BEGIN; SET LOCAL synchronous_commit TO off");
    if (!begun.ok()) {
      last = begun;
      if (db->broken()) continue;
      write_health_.Note(begun);
      return begun;
    }
    Status s = RunCatching([&] { return body(*db); });
    bool commit_sent = false;
    if (s.ok()) {
      s = db->Exec("COMMIT");
      commit_sent = true;
      if (s.ok() && Fault("after_commit")) {
        db->Break();  // the answer to COMMIT is lost on the way back
        s = Unavailable("postgres: the connection was lost during COMMIT (fault injected)");
      }
    }
    if (s.ok()) {
      write_health_.Note(s);
      return s;
    }
    const bool retry = db->last_failure_retryable() || db->broken();
    if (!db->broken()) (void)db->Exec("ROLLBACK");
    if (commit_sent && db->broken() && !receipt.empty()) {
      // The broken connection goes first (dropped from its pool), so checking the receipt can
      // borrow another even when every connection of a small pool broke at once.
      { Lease dropped = std::move(db); }
      Result<bool> committed = false;
      for (int check = 0; check < kWriteAttempts; ++check) {
        committed = ReceiptExists(receipt);
        if (committed.ok()) break;
      }
      if (!committed.ok()) {
        Status unknown = Unavailable(
            "the database connection was lost during COMMIT and the "
            "write's outcome cannot be checked: " +
            committed.status().message());
        write_health_.Note(unknown);
        return unknown;
      }
      if (*committed) {
        write_health_.Note(Status::Ok());
        return Status::Ok();
      }
    }
    if (!retry) {
      write_health_.Note(s);
      return s;
    }
    last = s;
  }
  write_health_.Note(last);
  return last;
}

}  // namespace relay::store
