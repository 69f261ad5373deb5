// JSON parsing with the errors an API client needs (line and column), over Boost.JSON, the one
// JSON library of the project.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "common/status.h"

namespace relay {

inline constexpr size_t kMaxJsonDepth = 64;

// Parses one complete JSON text. On malformed input returns kInvalidArgument whose message names
// the line and column (1-based) where the text stops being JSON; nesting deeper than kMaxJsonDepth
// is refused the same way. Trailing whitespace is allowed, anything else after the value is not.
Result<boost::json::value> ParseJson(std::string_view text);

// Applies an RFC 7396 JSON merge patch to `target`: objects merge, null removes, the rest replaces.
void ApplyMergePatch(boost::json::value& target, const boost::json::value& patch);

// Serializes compactly (the exact bytes the API returns). The object and array overloads spare
// the copy that converting them to a value would make.
std::string ToJsonString(const boost::json::value& value);
std::string ToJsonString(const boost::json::object& object);
std::string ToJsonString(const boost::json::array& array);

// Text from outside (an endpoint's response body, an error it caused) made fit to store and to
// show as a JSON string: invalid UTF-8 sequences and NUL bytes become U+FFFD. Valid text is
// returned unchanged.
std::string SanitizeText(const std::string& in);

}  // namespace relay
