// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` a consent API request
// may carry, kept with the webhook messages it produces, and continued by each webhook request.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace relay {

// A header value as the W3C grammar has it: version (2 hex, not "ff"), trace id (32 lowercase
// hex, not all zero), parent id (16 lowercase hex, not all zero), flags (2 hex); a future version
// may append "-..." fields. Returns it in version 00 form ("00-<trace id>-<parent id>-<flags>"),
// or nullopt for anything else (which the receiver of a request ignores, as the spec says).
std::optional<std::string> ParseTraceparent(std::string_view header);

// A new trace: random trace and parent ids, sampled.
std::string NewTraceparent();

// The traceparent of a request made within `parent`'s trace: the same trace id and flags, a new
// parent id (this hop's span). A `parent` that is not valid starts a new trace.
std::string ChildTraceparent(std::string_view parent);

// The 32-hex trace id of a valid traceparent, else "".
std::string TraceIdOf(std::string_view traceparent);

}  // namespace relay
