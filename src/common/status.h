// Status and Result<T>: the one error type that flows up from domain and store code to api/.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace relay {

// A small fixed set of outcomes. api/ maps each to exactly one HTTP status (see api/errors.h).
enum class StatusCode {
  kOk,
  kInvalidArgument,     // the caller's input is wrong: 400
  kUnauthenticated,     // no or bad credentials: 401
  kPermissionDenied,    // authenticated but not allowed: 403
  kNotFound,            // absent, or belongs to another organization: 404
  kConflict,            // already exists, or changed concurrently: 409
  kFailedPrecondition,  // well-formed but cannot be applied in this state: 422
  kResourceExhausted,   // rate limited: 429
  kInternal,            // a bug or an unexpected failure: 500
  kUnavailable,         // a dependency (disk, database) is unavailable: 503
  kDeadlineExceeded,    // took too long: 504
};

// Name used in logs (not the HTTP error name; api/ owns those).
const char* StatusCodeName(StatusCode code);

// An outcome: ok, or a code with a human-readable message and, for validation errors, the
// offending fields (field path -> reason). Cheap to move; copy only on error paths.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::map<std::string, std::string>& field_errors() const { return field_errors_; }
  // When to try again, for kResourceExhausted and kUnavailable (answered as Retry-After).
  std::optional<int64_t> retry_after_seconds() const { return retry_after_seconds_; }
  Status& WithRetryAfter(int64_t seconds) {
    retry_after_seconds_ = seconds;
    return *this;
  }

  // Adds a field error; returns *this so errors can be built in one expression.
  Status& WithField(std::string field, std::string reason) {
    field_errors_[std::move(field)] = std::move(reason);
    return *this;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::map<std::string, std::string> field_errors_;
  std::optional<int64_t> retry_after_seconds_;
};

Status InvalidArgument(std::string message);
// A validation error about one field: message "<field>: <reason>" and field_errors {field: reason}.
Status InvalidField(const std::string& field, const std::string& reason);
Status NotFound(std::string message);
Status Conflict(std::string message);
Status PermissionDenied(std::string message);
Status Unauthenticated(std::string message);
Status FailedPrecondition(std::string message);
Status ResourceExhausted(std::string message);
Status Internal(std::string message);
Status Unavailable(std::string message);

// Either a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(data_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(data_);
  }
  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace relay

// Returns early from the enclosing function when `expr` (a Status) is not ok.
#define RELAY_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::relay::Status relay_status_ = (expr);        \
    if (!relay_status_.ok()) return relay_status_; \
  } while (0)

#define RELAY_CONCAT_INNER(a, b) a##b
#define RELAY_CONCAT(a, b) RELAY_CONCAT_INNER(a, b)
// `RELAY_ASSIGN_OR_RETURN(auto x, ResultExpr)`: binds the value or returns the error.
#define RELAY_ASSIGN_OR_RETURN(lhs, expr) \
  RELAY_ASSIGN_OR_RETURN_IMPL(RELAY_CONCAT(relay_result_, __LINE__), lhs, expr)
#define RELAY_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
