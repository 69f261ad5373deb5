// Status -> HTTP mapping.
#include "api/errors.h"

#include <boost/json.hpp>

#include "common/log.h"

namespace relay::api {

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kConflict:
      return 409;
    case StatusCode::kFailedPrecondition:
      return 422;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kInternal:
      return 500;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
  }
  return 500;
}

const char* ErrorName(int s) {
  switch (s) {
    case 400:
      return "BadRequest";
    case 401:
      return "NotAuthenticated";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 413:
      return "PayloadTooLarge";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Unprocessable";
    case 429:
      return "TooManyRequests";
    case 431:
      return "RequestHeaderFieldsTooLarge";
    case 503:
      return "Unavailable";
    case 504:
      return "Timeout";
    default:
      return "GeneralError";
  }
}

namespace {
HttpResponse Build(int http_status, const std::string& message, boost::json::object errors) {
  HttpResponse r;
  r.status = http_status;
  boost::json::object body{{"code", http_status},
                           {"name", ErrorName(http_status)},
                           {"message", message},
                           {"errors", std::move(errors)}};
  r.body = boost::json::serialize(body);
  if (http_status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}
}  // namespace

HttpResponse ErrorResponse(int http_status, const std::string& message) {
  return Build(http_status, message, {});
}

HttpResponse ErrorResponse(const Status& status, const std::string& request_id) {
  int http_status = HttpStatusFor(status.code());
  if (http_status >= 500) {
    log::Error("request failed", {{"request_id", request_id},
                                  {"code", StatusCodeName(status.code())},
                                  {"error", status.message()}});
    if (http_status == 500) {
      return Build(500, "internal error (request id " + request_id + ")", {});
    }
  }
  boost::json::object errors;
  for (const auto& [field, reason] : status.field_errors()) errors[field] = reason;
  HttpResponse r = Build(http_status, status.message(), std::move(errors));
  if (status.retry_after_seconds()) {
    r.headers.emplace_back("Retry-After", std::to_string(*status.retry_after_seconds()));
  }
  return r;
}

}  // namespace relay::api
