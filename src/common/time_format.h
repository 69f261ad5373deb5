// RFC 3339 / ISO 8601 timestamps as the API shows them: "2026-11-29T00:02:51.123Z" (UTC, ms).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relay {

// Formats milliseconds since the epoch as UTC with millisecond precision and a "Z" suffix.
std::string FormatTimestamp(int64_t unix_millis);

// Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)"; nullopt when malformed or out of range.
std::optional<int64_t> ParseTimestamp(std::string_view text);

// A duration: a non-negative integer and a unit (ms, s, m, h, d), e.g. "90s", "30d". nullopt when
// malformed or longer than 100 years.
std::optional<int64_t> ParseDurationMillis(std::string_view text);

}  // namespace relay
