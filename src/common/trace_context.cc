// W3C Trace Context.
#include "common/trace_context.h"

#include "common/crypto.h"
#include "common/ids.h"

namespace relay {
namespace {

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllZero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

// A random id of `bytes` (at most 16) bytes in hex, never all zero. From the ids' pooled
// randomness: a CSPRNG call per trace cost ingest several percent (bench/README.md).
std::string RandomId(size_t bytes) {
  unsigned char raw[16];
  std::string id;
  do {
    FillRandom(raw, bytes);
    id = crypto::HexEncode(std::string_view(reinterpret_cast<const char*>(raw), bytes));
  } while (AllZero(id));
  return id;
}

}  // namespace

std::optional<std::string> ParseTraceparent(std::string_view h) {
  // version-traceid-parentid-flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55 characters.
  if (h.size() < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-') return std::nullopt;
  std::string_view version = h.substr(0, 2), trace = h.substr(3, 32), parent = h.substr(36, 16),
                   flags = h.substr(53, 2);
  if (!IsLowerHex(version) || version == "ff" || !IsLowerHex(trace) || AllZero(trace) ||
      !IsLowerHex(parent) || AllZero(parent) || !IsLowerHex(flags)) {
    return std::nullopt;
  }
  // Version 00 is exactly 55 characters; a later version may carry more after a dash.
  if (h.size() > 55 && (version == "00" || h[55] != '-')) return std::nullopt;
  std::string out = "00-";
  out += trace;
  out += '-';
  out += parent;
  out += '-';
  out += flags;
  return out;
}

std::string NewTraceparent() {
  std::string out = "00-";
  out += RandomId(16);
  out += '-';
  out += RandomId(8);
  out += "-01";
  return out;
}

std::string ChildTraceparent(std::string_view parent) {
  auto valid = ParseTraceparent(parent);
  if (!valid) return NewTraceparent();
  std::string out = valid->substr(0, 36);
  out += RandomId(8);
  out += valid->substr(52);
  return out;
}

std::string TraceIdOf(std::string_view traceparent) {
  auto valid = ParseTraceparent(traceparent);
  return valid ? valid->substr(3, 32) : std::string();
}

}  // namespace relay
