#include "store/postgres/pg_db.h"

#include <libpq-fe.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace relay::store {

PgParam P(const std::string& v) { return PgParam{v, false}; }
PgParam P(int64_t v) { return PgParam{std::to_string(v), false}; }
PgParam P(const std::optional<int64_t>& v) {
  return v ? PgParam{std::to_string(*v), false} : Null();
}
PgParam Bytes(const std::string& v) { return v.empty() ? Null() : PgParam{v, true}; }
PgParam Null() { return PgParam{std::nullopt, false}; }

PgResult::PgResult(pg_result* r) : r_(r) {}
PgResult::~PgResult() {
  if (r_) PQclear(r_);
}
PgResult::PgResult(PgResult&& other) noexcept : r_(other.r_) { other.r_ = nullptr; }
PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    if (r_) PQclear(r_);
    r_ = other.r_;
    other.r_ = nullptr;
  }
  return *this;
}

int PgResult::rows() const { return r_ ? PQntuples(r_) : 0; }
bool PgResult::IsNull(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
std::string PgResult::Text(int row, int col) const {
  if (IsNull(row, col)) return "";
  return std::string(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)));
}
std::string PgResult::Bytea(int row, int col) const {
  if (IsNull(row, col)) return "";
  size_t n = 0;
  unsigned char* raw =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r_, row, col)), &n);
  if (raw == nullptr) return "";
  std::string out(reinterpret_cast<const char*>(raw), n);
  PQfreemem(raw);
  return out;
}
int64_t PgResult::Int(int row, int col) const {
  if (IsNull(row, col)) return 0;
  return std::strtoll(PQgetvalue(r_, row, col), nullptr, 10);
}
std::optional<int64_t> PgResult::OptionalInt(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Int(row, col);
}
int64_t PgResult::affected() const {
  const char* n = PQcmdTuples(r_);
  return (n && *n) ? std::strtoll(n, nullptr, 10) : 0;
}

std::string RedactDatabaseUrl(const std::string& url) {
  // scheme://user:password@host... : hide what lies between the first ':' after the scheme's
  // "//" and the '@'.
  size_t start = url.find("://");
  if (start == std::string::npos) return url;
  start += 3;
  size_t at = url.find('@', start);
  if (at == std::string::npos) return url;
  size_t colon = url.find(':', start);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

Status PgError(pg_result* r, pg_conn* c, const std::string& what) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string code = state ? state : "";
  std::string message = r ? PQresultErrorMessage(r) : "";
  if (message.empty() && c) message = PQerrorMessage(c);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  std::string text = what + ": " + message;
  if (code == "23505") return Conflict(text);
  if (code == "40001" || code == "40P01" || code == "53100" || code == "57P01" ||
      code.rfind("08", 0) == 0 || (c && PQstatus(c) != CONNECTION_OK)) {
    return Unavailable(text);
  }
  return Internal(text);
}

Result<std::unique_ptr<PgConn>> PgConn::Connect(const std::string& url) {
  pg_conn* c = PQconnectdb(url.c_str());
  if (c == nullptr) return Unavailable("cannot connect to " + RedactDatabaseUrl(url));
  if (PQstatus(c) != CONNECTION_OK) {
    std::string message = PQerrorMessage(c);
    PQfinish(c);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    return Unavailable("cannot connect to " + RedactDatabaseUrl(url) + ": " + message);
  }
  std::unique_ptr<PgConn> conn(new PgConn(c));
  // Quiet NOTICEs (e.g. "relation already exists, skipping") and a fixed, UTC session.
  RELAY_RETURN_IF_ERROR(conn->Exec("SET client_min_messages = warning; SET TIME ZONE 'UTC'"));
  return conn;
}

PgConn::~PgConn() {
  if (c_) PQfinish(c_);
}

bool PgConn::broken() const { return cut_ || PQstatus(c_) != CONNECTION_OK; }

bool PgConn::in_transaction() const {
  PGTransactionStatusType st = PQtransactionStatus(c_);
  return st != PQTRANS_IDLE && st != PQTRANS_UNKNOWN;
}

void PgConn::Break() {
  cut_ = true;
  ::shutdown(PQsocket(c_), SHUT_RDWR);
}

bool PgConn::last_failure_retryable() const {
  return last_sqlstate_ == "40001" || last_sqlstate_ == "40P01" || last_sqlstate_ == "23505";
}

Status PgConn::Exec(const std::string& sql) {
  pg_result* raw = PQexec(c_, sql.c_str());
  PgResult owned(raw);  // frees it on return
  ExecStatusType st = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Failed(raw, "postgres");
  last_sqlstate_.clear();
  return Status::Ok();
}

// The store writes its SQL with '?' placeholders, as for SQLite; PostgreSQL numbers them. No
// statement of ours has a '?' inside a string literal.
std::string NumberPlaceholders(const std::string& sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  // As in SQLite: "?NNN" is parameter NNN, and a bare "?" the largest number so far plus one.
  int n = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    if (sql[i] != '?') {
      out += sql[i];
      continue;
    }
    size_t digits = i + 1;
    while (digits < sql.size() && sql[digits] >= '0' && sql[digits] <= '9') ++digits;
    int number = digits > i + 1 ? std::stoi(sql.substr(i + 1, digits - i - 1)) : n + 1;
    n = std::max(n, number);
    out += '$';
    out += std::to_string(number);
    i = digits - 1;
  }
  return out;
}

Status PgConn::Failed(pg_result* r, const std::string& what) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const char* constraint = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : nullptr;
  last_sqlstate_ = state ? state : "";
  last_constraint_ = constraint ? constraint : "";
  return PgError(r, c_, what);
}

Result<std::string> PgConn::Prepared(const std::string& sql) {
  auto it = prepared_.find(sql);
  if (it != prepared_.end()) return it->second;
  std::string name = "s";
  name += std::to_string(prepared_.size() + 1);
  std::string numbered = NumberPlaceholders(sql);
  pg_result* raw = PQprepare(c_, name.c_str(), numbered.c_str(), 0, nullptr);
  PgResult owned(raw);  // frees it on return
  if (!raw || PQresultStatus(raw) != PGRES_COMMAND_OK) return Failed(raw, "postgres prepare");
  prepared_.emplace(sql, name);
  return name;
}

namespace {
struct Encoded {
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  explicit Encoded(const std::vector<PgParam>& params)
      : values(params.size()), lengths(params.size()), formats(params.size()) {
    for (size_t i = 0; i < params.size(); ++i) {
      values[i] = params[i].value ? params[i].value->data() : nullptr;
      lengths[i] = params[i].value ? static_cast<int>(params[i].value->size()) : 0;
      formats[i] = params[i].binary ? 1 : 0;
    }
  }
};
}  // namespace

Result<PgResult> PgConn::Query(const std::string& sql, const std::vector<PgParam>& params) {
  RELAY_ASSIGN_OR_RETURN(std::string name, Prepared(sql));
  Encoded e(params);
  pg_result* raw = PQexecPrepared(c_, name.c_str(), static_cast<int>(params.size()),
                                  e.values.data(), e.lengths.data(), e.formats.data(), 0);
  PgResult result(raw);
  ExecStatusType st = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Failed(raw, "postgres");
  last_sqlstate_.clear();
  return result;
}

Status PgConn::Pipeline(const std::vector<Statement>& statements) {
  if (statements.empty()) return Status::Ok();
  if (statements.size() == 1) return Query(statements[0].sql, statements[0].params).status();
  std::vector<std::string> names;
  for (const auto& st : statements) {
    RELAY_ASSIGN_OR_RETURN(std::string name, Prepared(st.sql));
    names.push_back(std::move(name));
  }
  if (PQenterPipelineMode(c_) != 1) return Failed(nullptr, "postgres pipeline");
  Status first_error;
  bool sent_all = true;
  for (size_t i = 0; i < statements.size(); ++i) {
    Encoded e(statements[i].params);
    if (PQsendQueryPrepared(c_, names[i].c_str(), static_cast<int>(statements[i].params.size()),
                            e.values.data(), e.lengths.data(), e.formats.data(), 0) != 1) {
      sent_all = false;
      break;
    }
  }
  if (PQpipelineSync(c_) != 1) sent_all = false;
  if (!sent_all) first_error = Failed(nullptr, "postgres pipeline");
  // Each statement's result, then NULL; at the end the sync point.
  while (true) {
    pg_result* r = PQgetResult(c_);
    if (r == nullptr) {
      if (PQstatus(c_) != CONNECTION_OK) break;
      continue;  // the end of one statement's results
    }
    PgResult owned(r);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_PIPELINE_SYNC) break;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_PIPELINE_ABORTED &&
        first_error.ok()) {
      first_error = Failed(r, "postgres");
    }
  }
  PQexitPipelineMode(c_);
  if (first_error.ok()) last_sqlstate_.clear();
  return first_error;
}

}  // namespace relay::store
