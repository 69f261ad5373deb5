// A thin RAII layer over the SQLite C API: a connection, cached prepared statements, and errors
// mapped to Status. Not thread-safe: the owner (SqliteStore) serializes access.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace relay::store {

// Maps an SQLite result code to a Status: constraint violations are kConflict; a full disk,
// I/O errors and lock timeouts are kUnavailable; everything else is kInternal.
Status SqliteError(int rc, std::string_view what, sqlite3* db);

// One prepared statement, reset and unbound each time it is borrowed from the cache.
class SqliteStatement {
 public:
  explicit SqliteStatement(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  ~SqliteStatement();
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  // Parameters are 1-based, as in SQLite.
  SqliteStatement& Bind(int index, std::string_view text);
  SqliteStatement& BindBlob(int index, std::string_view bytes);  // empty binds NULL
  SqliteStatement& Bind(int index, int64_t value);
  SqliteStatement& Bind(int index, std::optional<int64_t> value);
  SqliteStatement& BindNull(int index);

  // Advances: true with a row, false when done, or an error.
  Result<bool> Step();
  // Runs to completion, ignoring rows.
  Status Run();

  std::string ColumnText(int index) const;  // NULL reads as ""
  int64_t ColumnInt(int index) const;
  std::optional<int64_t> ColumnOptionalInt(int index) const;
  bool ColumnIsNull(int index) const;

  void Reset();
  // Virtual machine steps this statement has run, over every use (each row it visits is some).
  int64_t VmSteps() const;

 private:
  sqlite3_stmt* stmt_;
  sqlite3* db_;
};

// A borrowed cached statement; resets it when dropped so no read snapshot stays open.
class StatementLease {
 public:
  explicit StatementLease(SqliteStatement* stmt) : stmt_(stmt) {}
  StatementLease(StatementLease&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  StatementLease& operator=(StatementLease&&) = delete;
  ~StatementLease() {
    if (stmt_) stmt_->Reset();
  }
  SqliteStatement* operator->() const { return stmt_; }
  SqliteStatement& operator*() const { return *stmt_; }

 private:
  SqliteStatement* stmt_;
};

class SqliteDb {
 public:
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Opens (creating if needed) the database file in WAL mode with synchronous=FULL, foreign keys
  // on and a busy timeout so other processes (the CLI) can share it.
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path);

  // Runs one or more statements without results.
  Status Exec(std::string_view sql);
  // Whether the next commits wait for fsync (synchronous=FULL, the default) or not (NORMAL: the
  // log is synced by the next durable commit or before a checkpoint, so a power loss can only
  // forget the newest non-durable commits, never an older durable one). Outside transactions
  // only (SQLite refuses the change inside one); remembered, so asking again costs nothing.
  Status SetDurableCommits(bool durable);
  // A cached statement for `sql`, ready to bind. One lease per statement text at a time.
  Result<StatementLease> Prepare(const std::string& sql);

  // False in autocommit mode: no transaction is open (SQLite may have rolled one back by itself,
  // on SQLITE_FULL, IOERR or NOMEM).
  bool InsideTransaction() const;
  // Rows changed by the last INSERT/UPDATE/DELETE.
  int64_t Changes() const;
  // The rowid of the last INSERT.
  int64_t LastInsertRowId() const;
  sqlite3* handle() const { return db_; }
  // Virtual machine steps of every cached statement so far: the work the connection did,
  // which grows with the rows its statements visit (OutboxStore::MeasureClaim).
  int64_t VmSteps() const;

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  bool durable_commits_ = true;
  std::map<std::string, std::unique_ptr<SqliteStatement>> statements_;
};

// Runs `body` inside BEGIN IMMEDIATE ... COMMIT, rolling back when it (or the commit) fails or
// throws: the connection never stays inside a transaction.
Status InTransaction(SqliteDb& db, const std::function<Status()>& body);

// Runs `body` inside one read transaction, so that several reads see one snapshot.
template <typename Fn>
Status InReadTransaction(SqliteDb& db, Fn&& body) {
  RELAY_RETURN_IF_ERROR(db.Exec("BEGIN DEFERRED"));
  Status s = body();
  Status end = db.Exec(s.ok() ? "COMMIT" : "ROLLBACK");
  return s.ok() ? end : s;
}

}  // namespace relay::store
