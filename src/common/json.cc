// JSON parsing with positions.
#include "common/json.h"

#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>

namespace relay {
namespace {

std::string Position(std::string_view text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

}  // namespace

Result<boost::json::value> ParseJson(std::string_view text) {
  boost::json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  boost::json::parser parser({}, options);
  boost::system::error_code ec;
  size_t consumed = parser.write_some(text.data(), text.size(), ec);
  if (ec) {
    if (ec == boost::json::error::too_deep) {
      return InvalidArgument("invalid JSON at " + Position(text, consumed) +
                             ": nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    return InvalidArgument("invalid JSON at " + Position(text, consumed) + ": " + ec.message());
  }
  for (size_t i = consumed; i < text.size(); ++i) {
    char c = text[i];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      return InvalidArgument("invalid JSON at " + Position(text, i) +
                             ": unexpected data after the JSON value");
    }
  }
  return parser.release();
}

void ApplyMergePatch(boost::json::value& target, const boost::json::value& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = boost::json::object();
  boost::json::object& t = target.as_object();
  for (const auto& kv : patch.as_object()) {
    if (kv.value().is_null()) {
      t.erase(kv.key());
    } else {
      ApplyMergePatch(t[kv.key()], kv.value());
    }
  }
}

std::string ToJsonString(const boost::json::value& value) { return boost::json::serialize(value); }
std::string ToJsonString(const boost::json::object& object) {
  return boost::json::serialize(object);
}
std::string ToJsonString(const boost::json::array& array) { return boost::json::serialize(array); }

std::string SanitizeText(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 0;
    bool ok = len > 0 && i + len <= in.size() && c != 0;
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(in[i + k]) >> 6) == 0x2;
    }
    if (ok && len > 1) {  // no overlong forms or surrogates
      unsigned cp = len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
      for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (in[i + k] & 0x3f);
      ok = (len == 2 && cp >= 0x80) || (len == 3 && cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff)) ||
           (len == 4 && cp >= 0x10000 && cp <= 0x10ffff);
    }
    if (ok) {
      out.append(in, i, len);
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  return out;
}

}  // namespace relay
