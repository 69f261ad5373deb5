// SqliteStore: opening the file (migrations, the serve lock, the reader pool) and health. The
// roles' statements are in account_store.cc, integration_store.cc, consent_store.cc and
// outbox_store.cc, each beside its PostgreSQL counterpart; group commit in group_commit.cc.
#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "store/shared_sql.h"
#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/sqlite_rows.h"
#include "store/sqlite/sqlite_schema.h"

namespace relay::store {

namespace {
// Enough for the API's worker threads to read without queueing behind each other much.
constexpr int kReadConnections = 4;
// A write batch running this long means the writer is stuck (a batch takes milliseconds).
constexpr auto kStuckWriter = std::chrono::seconds(10);
}  // namespace

IntegrationRow ReadIntegration(const SqliteStatement& s) {
  IntegrationRow row;
  row.id = s.ColumnText(0);
  row.organization_id = s.ColumnText(1);
  row.type_id = s.ColumnText(2);
  row.enabled = s.ColumnInt(3) != 0;
  row.authentication_json = s.ColumnText(4);
  row.properties_json = s.ColumnText(5);
  row.client_secret_sealed = s.ColumnText(6);
  row.signing_secret_sealed = s.ColumnText(7);
  row.created_at = s.ColumnInt(8);
  row.updated_at = s.ColumnInt(9);
  row.version = s.ColumnInt(10);
  row.previous_signing_secret_sealed = s.ColumnText(11);
  row.previous_secret_expires_at = s.ColumnInt(12);
  return row;
}

IntegrationHealthRow ReadHealth(const SqliteStatement& s, int first) {
  IntegrationHealthRow h;
  h.consecutive_failures = s.ColumnInt(first);
  h.last_success_at = s.ColumnOptionalInt(first + 1);
  h.last_failure_at = s.ColumnOptionalInt(first + 2);
  h.failing_since = s.ColumnOptionalInt(first + 3);
  h.open_until = s.ColumnOptionalInt(first + 4);
  h.cooldown_ms = s.ColumnInt(first + 5);
  h.disabled_reason = s.ColumnText(first + 6);
  return h;
}

IntegrationRow ReadIntegrationWithHealth(const SqliteStatement& s) {
  IntegrationRow row = ReadIntegration(s);
  row.health = ReadHealth(s, 13);
  return row;
}

Result<std::set<std::string>> SelectOrganizationFeatures(SqliteDb& db,
                                                         const std::string& organization_id) {
  RELAY_ASSIGN_OR_RETURN(auto stmt, db.Prepare(kSelectFeaturesSql));
  stmt->Bind(1, organization_id);
  std::set<std::string> features;
  while (true) {
    RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    features.insert(stmt->ColumnText(0));
  }
  return features;
}

SqliteStore::SqliteStore(std::unique_ptr<SqliteDb> db,
                         std::vector<std::unique_ptr<SqliteDb>> readers)
    : db_(std::move(db)), readers_(std::move(readers)) {
  for (auto& r : readers_) idle_readers_.push_back(r.get());
}

SqliteStore::ReaderLease SqliteStore::BorrowReader() {
  MutexLock lock(readers_mu_);
  while (idle_readers_.empty()) lock.Wait(reader_returned_);
  SqliteDb* db = idle_readers_.back();
  idle_readers_.pop_back();
  return ReaderLease(this, db);
}

void SqliteStore::ReturnReader(SqliteDb* db) {
  {
    MutexLock lock(readers_mu_);
    idle_readers_.push_back(db);
  }
  reader_returned_.notify_one();
}
SqliteStore::~SqliteStore() {
  // A clean stop leaves no write-ahead log behind: its frames may hold erased bytes.
  readers_.clear();
  if (db_) (void)db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db_.reset();
  if (serve_lock_fd_ >= 0) ::close(serve_lock_fd_);
}

namespace {
// An exclusive, advisory lock on PATH.serve-lock, released when the process ends (however it
// ends): its descriptor, or kFailedPrecondition when another process holds it.
Result<int> TakeServeLock(const std::string& path) {
  const std::string lock_path = path + ".serve-lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Unavailable("cannot open " + lock_path + ": " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return FailedPrecondition("another consent-relay serve is already using " + path +
                              "; the embedded store serves one process (use PostgreSQL to run "
                              "several nodes)");
  }
  return fd;
}
}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, bool serving) {
  int lock_fd = -1;
  if (serving) {
    RELAY_ASSIGN_OR_RETURN(lock_fd, TakeServeLock(path));
  }
  struct CloseOnError {
    int& fd;
    ~CloseOnError() {
      if (fd >= 0) ::close(fd);
    }
  } close_on_error{lock_fd};
  auto db = SqliteDb::Open(path);
  if (!db.ok()) {
    return Status(db.status().code(),
                  "cannot open the database " + path + ": " + db.status().message());
  }
  Status migrated = MigrateSqlite(**db);
  if (!migrated.ok()) {
    return Status(migrated.code(), "cannot open the database " + path + ": " + migrated.message());
  }
  std::vector<std::unique_ptr<SqliteDb>> readers;
  for (int i = 0; i < kReadConnections; ++i) {
    auto reader = SqliteDb::Open(path);
    if (!reader.ok()) {
      return Status(reader.status().code(),
                    "cannot open the database " + path + ": " + reader.status().message());
    }
    readers.push_back(std::move(reader).value());
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(std::move(db).value(), std::move(readers)));
  store->serve_lock_fd_ = std::exchange(lock_fd, -1);
  return store;
}

Result<StoreFacts> SqliteStore::Facts() {
  auto db = BorrowReader();
  RELAY_ASSIGN_OR_RETURN(auto stmt, db->Prepare("PRAGMA user_version"));
  RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
  StoreFacts facts;
  facts.schema_version = row ? stmt->ColumnInt(0) : 0;
  facts.supported_schema_version = SqliteSchemaVersion();
  return facts;
}

Status SqliteStore::CheckWritable() {
  const auto now = std::chrono::steady_clock::now();
  {
    MutexLock lock(queue_mu_);
    if (batch_running_ && now - batch_started_ > kStuckWriter) {
      return Unavailable(
          "the database writer has been busy for " +
          std::to_string(
              std::chrono::duration_cast<std::chrono::seconds>(now - batch_started_).count()) +
          " s");
    }
  }
  if (auto recent = write_health_.Recent()) return *recent;
  Status probe = RunInBatch([&]() -> Status {
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(kHealthProbeSql));
    stmt->Bind(1, "health_probe").Bind(2, std::to_string(SystemClock::Instance().NowMillis()));
    return stmt->Run();
  });
  return probe;
}

}  // namespace relay::store
