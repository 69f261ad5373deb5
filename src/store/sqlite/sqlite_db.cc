// SQLite wrapper implementation.
#include "store/sqlite/sqlite_db.h"

#include <sqlite3.h>

#include "store/catching.h"

namespace relay::store {

Status SqliteError(int rc, std::string_view what, sqlite3* db) {
  std::string message = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      return Conflict(std::move(message));
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
      return Unavailable(std::move(message));
    default:
      return Internal(std::move(message));
  }
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

SqliteStatement& SqliteStatement::Bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

SqliteStatement& SqliteStatement::BindBlob(int index, std::string_view bytes) {
  if (bytes.empty()) {
    sqlite3_bind_null(stmt_, index);
  } else {
    sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  }
  return *this;
}

SqliteStatement& SqliteStatement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

SqliteStatement& SqliteStatement::Bind(int index, std::optional<int64_t> value) {
  if (value) return Bind(index, *value);
  return BindNull(index);
}

SqliteStatement& SqliteStatement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> SqliteStatement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(rc, "sqlite step", db_);
}

Status SqliteStatement::Run() {
  while (true) {
    RELAY_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

std::string SqliteStatement::ColumnText(int index) const {
  const void* data = sqlite3_column_blob(stmt_, index);
  int size = sqlite3_column_bytes(stmt_, index);
  if (!data || size <= 0) return {};
  return std::string(static_cast<const char*>(data), static_cast<size_t>(size));
}

int64_t SqliteStatement::ColumnInt(int index) const { return sqlite3_column_int64(stmt_, index); }

std::optional<int64_t> SqliteStatement::ColumnOptionalInt(int index) const {
  if (ColumnIsNull(index)) return std::nullopt;
  return ColumnInt(index);
}

bool SqliteStatement::ColumnIsNull(int index) const {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

void SqliteStatement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t SqliteStatement::VmSteps() const {
  return sqlite3_stmt_status(stmt_, SQLITE_STMTSTATUS_VM_STEP, 0);
}

int64_t SqliteDb::VmSteps() const {
  int64_t steps = 0;
  for (const auto& [sql, stmt] : statements_) steps += stmt->VmSteps();
  return steps;
}

SqliteDb::~SqliteDb() {
  statements_.clear();  // finalize before closing
  sqlite3_close(db_);
}

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status s = SqliteError(rc, "cannot open database " + path, raw);
    sqlite3_close(raw);
    return s;
  }
  std::unique_ptr<SqliteDb> db(new SqliteDb(raw));
  sqlite3_busy_timeout(raw, 5000);
  sqlite3_extended_result_codes(raw, 1);
  // Reading the schema first surfaces "file is not a database" before we change any setting.
  RELAY_RETURN_IF_ERROR(db->Exec("SELECT count(*) FROM sqlite_master"));
  {
    // WAL is what makes an acknowledged write durable with one fsync and readers never wait:
    // a database that cannot switch to it (a file system without shared memory) is refused.
    RELAY_ASSIGN_OR_RETURN(auto mode, db->Prepare("PRAGMA journal_mode=WAL"));
    RELAY_ASSIGN_OR_RETURN(bool row, mode->Step());
    if (!row || mode->ColumnText(0) != "wal") {
      return FailedPrecondition("the database cannot use write-ahead logging (journal_mode is " +
                                (row ? mode->ColumnText(0) : std::string("unknown")) + ")");
    }
  }
  RELAY_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=FULL"));
  RELAY_RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys=ON"));
  RELAY_RETURN_IF_ERROR(db->Exec("PRAGMA temp_store=MEMORY"));
  // Erasure means the bytes are gone: deleted content is overwritten with zeros, not left in
  // free space.
  RELAY_RETURN_IF_ERROR(db->Exec("PRAGMA secure_delete=ON"));
  return db;
}

bool SqliteDb::InsideTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

Status SqliteDb::SetDurableCommits(bool durable) {
  if (durable == durable_commits_) return Status::Ok();
  RELAY_RETURN_IF_ERROR(Exec(durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
  durable_commits_ = durable;
  return Status::Ok();
}

Status InTransaction(SqliteDb& db, const std::function<Status()>& body) {
  RELAY_RETURN_IF_ERROR(db.SetDurableCommits(true));
  RELAY_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  Status s = RunCatching(body);
  if (s.ok()) s = db.Exec("COMMIT");
  if (!s.ok() && db.InsideTransaction()) (void)db.Exec("ROLLBACK");
  return s;
}

int64_t SqliteDb::Changes() const { return sqlite3_changes64(db_); }
int64_t SqliteDb::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }

Status SqliteDb::Exec(std::string_view sql) {
  std::string text(sql);
  // One statement (BEGIN, SAVEPOINT, COMMIT... on every write) runs from the statement cache:
  // parsing it again each time showed in profiles. Scripts (migrations) go to sqlite3_exec.
  if (statements_.count(text)) return (*Prepare(text))->Run();
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  if (sqlite3_prepare_v2(db_, text.c_str(), static_cast<int>(text.size()), &stmt, &tail) ==
          SQLITE_OK &&
      stmt != nullptr &&
      std::string_view(tail).find_first_not_of(" \t\r\n;") == std::string_view::npos) {
    sqlite3_finalize(stmt);
    RELAY_ASSIGN_OR_RETURN(auto cached, Prepare(text));
    return cached->Run();
  }
  sqlite3_finalize(stmt);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string what = "sqlite exec";
    sqlite3_free(err);
    return SqliteError(rc, what, db_);
  }
  return Status::Ok();
}

Result<StatementLease> SqliteDb::Prepare(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return StatementLease(it->second.get());
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteError(rc, "sqlite prepare", db_);
  auto owned = std::make_unique<SqliteStatement>(stmt, db_);
  SqliteStatement* raw = owned.get();
  statements_.emplace(sql, std::move(owned));
  return StatementLease(raw);
}

}  // namespace relay::store
