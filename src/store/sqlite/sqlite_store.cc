// SqliteStore: schema migrations and the Store operations in SQL.
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

Result<std::set<std::string>> SelectOrganizationFeatures(SqliteDb& db,
                                                         const std::string& organization_id) {
  RELAY_ASSIGN_OR_RETURN(auto stmt, db.Prepare("SELECT feature FROM organization_features "
                                               "WHERE organization_id = ?"));
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
  std::unique_lock<std::mutex> lock(readers_mu_);
  reader_returned_.wait(lock, [this] { return !idle_readers_.empty(); });
  SqliteDb* db = idle_readers_.back();
  idle_readers_.pop_back();
  return ReaderLease(this, db);
}

void SqliteStore::ReturnReader(SqliteDb* db) {
  {
    std::lock_guard<std::mutex> lock(readers_mu_);
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

Result<std::optional<std::string>> SqliteStore::GetSetting(const std::string& name) {
  auto db_ = BorrowReader();
  RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT value FROM settings WHERE name = ?"));
  stmt->Bind(1, name);
  RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(stmt->ColumnText(0));
}

Result<std::string> SqliteStore::PutSettingIfAbsent(const std::string& name,
                                                    const std::string& value) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string in_force;
  Status s = InTransaction(*db_, [&]() -> Status {
    {
      RELAY_ASSIGN_OR_RETURN(auto stmt,
                             db_->Prepare("INSERT INTO settings (name, value) VALUES (?, ?) "
                                          "ON CONFLICT (name) DO NOTHING"));
      stmt->Bind(1, name).Bind(2, value);
      RELAY_RETURN_IF_ERROR(stmt->Run());
    }
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT value FROM settings WHERE name = ?"));
    stmt->Bind(1, name);
    RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return Internal("setting vanished after insert");
    in_force = stmt->ColumnText(0);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return in_force;
}

Status SqliteStore::CheckWritable() {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
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

Status SqliteStore::EnsureOrganization(const std::string& organization_id, int64_t now) {
  RELAY_ASSIGN_OR_RETURN(auto stmt,
                         db_->Prepare("INSERT INTO organizations (id, created_at) VALUES (?, ?) "
                                      "ON CONFLICT (id) DO NOTHING"));
  stmt->Bind(1, organization_id).Bind(2, now);
  return stmt->Run();
}

Status SqliteStore::CreateApiKey(const ApiKeyRow& key) {
  std::lock_guard<std::mutex> lock(mu_);
  return InTransaction(*db_, [&]() -> Status {
    {
      RELAY_ASSIGN_OR_RETURN(
          auto stmt, db_->Prepare("INSERT INTO api_keys (id, name, secret_hash, created_at, "
                                  "revoked_at) VALUES (?, ?, ?, ?, ?)"));
      stmt->Bind(1, key.id).Bind(2, key.name).BindBlob(3, key.secret_hash).Bind(4, key.created_at);
      stmt->Bind(5, key.revoked_at);
      RELAY_RETURN_IF_ERROR(stmt->Run());
    }
    for (const auto& org : key.organizations) {
      RELAY_RETURN_IF_ERROR(EnsureOrganization(org, key.created_at));
      RELAY_ASSIGN_OR_RETURN(
          auto stmt, db_->Prepare("INSERT INTO api_key_organizations (key_id, organization_id) "
                                  "VALUES (?, ?) ON CONFLICT DO NOTHING"));
      stmt->Bind(1, key.id).Bind(2, org);
      RELAY_RETURN_IF_ERROR(stmt->Run());
    }
    return Status::Ok();
  });
}

Result<std::vector<std::string>> SqliteStore::KeyOrganizations(SqliteDb& db,
                                                               const std::string& key_id) {
  RELAY_ASSIGN_OR_RETURN(auto stmt, db.Prepare("SELECT organization_id FROM "
                                               "api_key_organizations WHERE key_id = ? "
                                               "ORDER BY organization_id"));
  stmt->Bind(1, key_id);
  std::vector<std::string> orgs;
  while (true) {
    RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    orgs.push_back(stmt->ColumnText(0));
  }
  return orgs;
}

Result<ApiKeyRow> SqliteStore::GetApiKey(const std::string& id) {
  auto db_ = BorrowReader();
  ApiKeyRow key;
  {
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT id, name, secret_hash, created_at, "
                                                   "revoked_at FROM api_keys WHERE id = ?"));
    stmt->Bind(1, id);
    RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return NotFound("api key not found");
    key.id = stmt->ColumnText(0);
    key.name = stmt->ColumnText(1);
    key.secret_hash = stmt->ColumnText(2);
    key.created_at = stmt->ColumnInt(3);
    key.revoked_at = stmt->ColumnOptionalInt(4);
  }
  RELAY_ASSIGN_OR_RETURN(key.organizations, KeyOrganizations(*db_, key.id));
  return key;
}

Result<KeyGrant> SqliteStore::GetKeyGrant(const std::string& key_id,
                                          const std::string& organization_id) {
  auto db = BorrowReader();
  RELAY_ASSIGN_OR_RETURN(auto stmt, db->Prepare(kKeyGrantSql));
  stmt->Bind(1, key_id).Bind(2, organization_id);
  RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return NotFound("api key not found");
  return KeyGrant{stmt->ColumnOptionalInt(0).has_value(), stmt->ColumnInt(1) == 1};
}

Result<std::vector<ApiKeyRow>> SqliteStore::ListApiKeys() {
  auto db_ = BorrowReader();
  std::vector<ApiKeyRow> keys;
  {
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT id, name, created_at, revoked_at FROM "
                                                   "api_keys ORDER BY created_at, id"));
    while (true) {
      RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      ApiKeyRow key;
      key.id = stmt->ColumnText(0);
      key.name = stmt->ColumnText(1);
      key.created_at = stmt->ColumnInt(2);
      key.revoked_at = stmt->ColumnOptionalInt(3);
      keys.push_back(std::move(key));
    }
  }
  for (auto& key : keys) {
    RELAY_ASSIGN_OR_RETURN(key.organizations, KeyOrganizations(*db_, key.id));
  }
  return keys;
}

Status SqliteStore::RevokeApiKey(const std::string& id, int64_t now) {
  std::lock_guard<std::mutex> lock(mu_);
  RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("UPDATE api_keys SET revoked_at = "
                                                 "coalesce(revoked_at, ?) WHERE id = ?"));
  stmt->Bind(1, now).Bind(2, id);
  RELAY_RETURN_IF_ERROR(stmt->Run());
  if (db_->Changes() == 0) return NotFound("api key not found: " + id);
  return Status::Ok();
}

Status SqliteStore::SetOrganizationFeature(const std::string& organization_id,
                                           const std::string& feature, bool enabled, int64_t now) {
  std::lock_guard<std::mutex> lock(mu_);
  return InTransaction(*db_, [&]() -> Status {
    RELAY_RETURN_IF_ERROR(EnsureOrganization(organization_id, now));
    if (enabled) {
      RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("INSERT INTO organization_features "
                                                     "(organization_id, feature, enabled_at) "
                                                     "VALUES (?, ?, ?) ON CONFLICT DO NOTHING"));
      stmt->Bind(1, organization_id).Bind(2, feature).Bind(3, now);
      return stmt->Run();
    }
    RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("DELETE FROM organization_features WHERE "
                                                   "organization_id = ? AND feature = ?"));
    stmt->Bind(1, organization_id).Bind(2, feature);
    return stmt->Run();
  });
}

Result<std::set<std::string>> SqliteStore::GetOrganizationFeatures(
    const std::string& organization_id) {
  auto db_ = BorrowReader();
  return SelectOrganizationFeatures(*db_, organization_id);
}

Result<std::vector<OrganizationRow>> SqliteStore::ListOrganizations() {
  auto db_ = BorrowReader();
  RELAY_ASSIGN_OR_RETURN(
      auto stmt, db_->Prepare("SELECT o.id, o.created_at, f.feature FROM organizations o "
                              "LEFT JOIN organization_features f ON f.organization_id = o.id "
                              "ORDER BY o.id, f.feature"));
  std::vector<OrganizationRow> orgs;
  while (true) {
    RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    std::string id = stmt->ColumnText(0);
    if (orgs.empty() || orgs.back().id != id) {
      orgs.push_back(OrganizationRow{id, {}, stmt->ColumnInt(1)});
    }
    if (!stmt->ColumnIsNull(2)) orgs.back().features.insert(stmt->ColumnText(2));
  }
  return orgs;
}

Status SqliteStore::CreateIntegration(const IntegrationRow& row) {
  std::lock_guard<std::mutex> lock(mu_);
  return InTransaction(*db_, [&]() -> Status {
    RELAY_RETURN_IF_ERROR(EnsureOrganization(row.organization_id, row.created_at));
    RELAY_ASSIGN_OR_RETURN(
        auto stmt, db_->Prepare(std::string("INSERT INTO integrations (") + kIntegrationColumns +
                                ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    stmt->Bind(1, row.id).Bind(2, row.organization_id).Bind(3, row.type_id);
    stmt->Bind(4, int64_t{row.enabled}).Bind(5, row.authentication_json);
    stmt->Bind(6, row.properties_json).BindBlob(7, row.client_secret_sealed);
    stmt->BindBlob(8, row.signing_secret_sealed).Bind(9, row.created_at);
    stmt->Bind(10, row.updated_at).Bind(11, row.version);
    stmt->BindBlob(12, row.previous_signing_secret_sealed).Bind(13, row.previous_secret_expires_at);
    return stmt->Run();
  });
}

Result<IntegrationRow> SqliteStore::GetIntegration(const std::string& organization_id,
                                                   const std::string& id) {
  auto db_ = BorrowReader();
  RELAY_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(std::string("SELECT ") + kIntegrationColumns +
                                                 " FROM integrations WHERE id = ? AND "
                                                 "organization_id = ? AND deleted_at IS NULL"));
  stmt->Bind(1, id).Bind(2, organization_id);
  RELAY_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return NotFound("integration not found: " + id);
  return ReadIntegration(*stmt);
}

Result<Page<IntegrationRow>> SqliteStore::ListIntegrations(const std::string& organization_id,
                                                           const PageRequest& page) {
  auto db_ = BorrowReader();
  return SelectPage<IntegrationRow>(
      *db_, "FROM integrations WHERE organization_id = ? AND deleted_at IS NULL",
      kIntegrationColumns, "created_at, id", {organization_id}, {}, page, ReadIntegration);
}

Status SqliteStore::UpdateIntegration(const IntegrationRow& row, int64_t expected_version) {
  std::lock_guard<std::mutex> lock(mu_);
  RELAY_ASSIGN_OR_RETURN(
      auto stmt,
      db_->Prepare("UPDATE integrations SET enabled = ?, authentication = ?, properties = ?, "
                   "client_secret = ?, signing_secret = ?, updated_at = ?, version = ?, "
                   "previous_signing_secret = ?, previous_secret_expires_at = ? "
                   "WHERE id = ? AND organization_id = ? AND version = ? AND deleted_at IS NULL"));
  stmt->Bind(1, int64_t{row.enabled}).Bind(2, row.authentication_json);
  stmt->Bind(3, row.properties_json).BindBlob(4, row.client_secret_sealed);
  stmt->BindBlob(5, row.signing_secret_sealed).Bind(6, row.updated_at).Bind(7, row.version);
  stmt->BindBlob(8, row.previous_signing_secret_sealed).Bind(9, row.previous_secret_expires_at);
  stmt->Bind(10, row.id).Bind(11, row.organization_id).Bind(12, expected_version);
  RELAY_RETURN_IF_ERROR(stmt->Run());
  if (db_->Changes() == 0) {
    return Conflict("integration " + row.id + " was changed or deleted concurrently");
  }
  return Status::Ok();
}

Status SqliteStore::DeleteIntegration(const std::string& organization_id, const std::string& id,
                                      int64_t now) {
  std::lock_guard<std::mutex> lock(mu_);
  return InTransaction(*db_, [&]() -> Status {
    {
      RELAY_ASSIGN_OR_RETURN(
          auto stmt, db_->Prepare("UPDATE integrations SET deleted_at = ?, updated_at = ?, "
                                  "client_secret = NULL, signing_secret = NULL, "
                                  "previous_signing_secret = NULL, version = version + 1 "
                                  "WHERE id = ? AND organization_id = ? AND deleted_at IS NULL"));
      stmt->Bind(1, now).Bind(2, now).Bind(3, id).Bind(4, organization_id);
      RELAY_RETURN_IF_ERROR(stmt->Run());
      if (db_->Changes() == 0) return NotFound("integration not found: " + id);
    }
    // Its waiting deliveries will never be sent: they become cancelled (kept as history).
    RELAY_ASSIGN_OR_RETURN(
        auto stmt, db_->Prepare("UPDATE deliveries SET status = 'cancelled', updated_at = ? "
                                "WHERE integration_id = ? AND status = 'pending'"));
    stmt->Bind(1, now).Bind(2, id);
    return stmt->Run();
  });
}

}  // namespace relay::store
