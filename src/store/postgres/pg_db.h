// PgConn: one libpq connection, its prepared statements, and results as plain values. Not
// thread-safe: PgStore hands each connection to one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"

struct pg_conn;
struct pg_result;

namespace relay::store {

// A statement parameter, sent in text format (bytea in binary). nullopt is SQL NULL.
struct PgParam {
  std::optional<std::string> value;
  bool binary = false;
};
PgParam P(const std::string& v);
PgParam P(int64_t v);
PgParam P(const std::optional<int64_t>& v);
PgParam Bytes(const std::string& v);  // bytea; an empty string is NULL, as in the SQLite store
PgParam Null();

// A result's rows, owned.
class PgResult {
 public:
  explicit PgResult(pg_result* r);
  ~PgResult();
  PgResult(PgResult&& other) noexcept;
  PgResult& operator=(PgResult&& other) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  int rows() const;
  bool IsNull(int row, int col) const;
  std::string Text(int row, int col) const;   // "" for NULL
  std::string Bytea(int row, int col) const;  // a bytea column, decoded; "" for NULL
  int64_t Int(int row, int col) const;        // 0 for NULL
  std::optional<int64_t> OptionalInt(int row, int col) const;
  int64_t affected() const;  // rows changed by INSERT/UPDATE/DELETE

 private:
  pg_result* r_;
};

class PgConn {
 public:
  // Connects to a postgres:// or postgresql:// URL. Errors never include the password.
  static Result<std::unique_ptr<PgConn>> Connect(const std::string& url);
  ~PgConn();

  // Runs SQL without parameters (possibly several statements).
  Status Exec(const std::string& sql);
  // Runs one statement with '?' parameters (numbered $1.. here), prepared once per connection
  // and reused.
  Result<PgResult> Query(const std::string& sql, const std::vector<PgParam>& params = {});
  // Runs statements in one round trip (libpq pipeline mode): all are sent, then all results are
  // read. They run in order; after the first failure the rest do not run, and that failure is
  // returned. For writes whose results nobody waits for.
  struct Statement {
    std::string sql;
    std::vector<PgParam> params;
  };
  Status Pipeline(const std::vector<Statement>& statements);
  // The connection broke (server restart, network): PgStore reconnects.
  bool broken() const;
  // A transaction is open (or failed and not yet rolled back) on this connection.
  bool in_transaction() const;
  // Cuts the connection as a network failure would: every later statement fails and broken()
  // is true. For fault tests.
  void Break();
  // The SQLSTATE of the last failed statement ("" after a success).
  const std::string& last_sqlstate() const { return last_sqlstate_; }
  // The constraint the last failed statement violated ("" if none).
  const std::string& last_constraint() const { return last_constraint_; }
  // The last failure is worth running the whole transaction again for: a serialization failure,
  // a deadlock, or a unique violation raced by another node (the retry reads the winner's row).
  bool last_failure_retryable() const;

 private:
  explicit PgConn(pg_conn* c) : c_(c) {}
  // The prepared statement's name for `sql`, preparing it first if needed.
  Result<std::string> Prepared(const std::string& sql);
  Status Failed(pg_result* r, const std::string& what);
  pg_conn* c_;
  bool cut_ = false;
  std::unordered_map<std::string, std::string> prepared_;  // SQL -> statement name
  std::string last_sqlstate_;
  std::string last_constraint_;
};

// Maps a failed libpq result to a Status: unique violations are kConflict, serialization
// failures, full disks and lost connections kUnavailable, the rest kInternal.
Status PgError(pg_result* r, pg_conn* c, const std::string& what);

// "postgres://user:secret@host/db" -> "postgres://user:***@host/db", for logs and errors.
std::string RedactDatabaseUrl(const std::string& url);

}  // namespace relay::store
