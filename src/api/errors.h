// The one mapping from Status to HTTP, and the error body every error answer uses:
// {"code": N, "name": "BadRequest", "message": "...", "errors": {field: reason}}.
#pragma once

#include <string>

#include "api/http_types.h"
#include "common/status.h"

namespace relay::api {

int HttpStatusFor(StatusCode code);
// Didomi's (Feathers) error name for an HTTP status, e.g. 400 -> "BadRequest".
const char* ErrorName(int http_status);

HttpResponse ErrorResponse(int http_status, const std::string& message);
// Internal errors are logged with the request id and answered without their details.
HttpResponse ErrorResponse(const Status& status, const std::string& request_id);

}  // namespace relay::api
