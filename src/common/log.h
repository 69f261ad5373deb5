// Structured logging to stderr, as text or one JSON object a line. Thread-safe.
// Never pass secrets (client secrets, tokens, API secrets) as messages or fields.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace relay::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kText, kJson };

using Field = std::pair<std::string_view, std::string>;

// Set once at start, before other threads log. Unknown names are rejected by the caller (app/).
void Configure(Level level, Format format);
bool ParseLevel(std::string_view name, Level* out);
bool Enabled(Level level);

void Write(Level level, std::string_view message, std::initializer_list<Field> fields = {});
inline void Debug(std::string_view m, std::initializer_list<Field> f = {}) {
  Write(Level::kDebug, m, f);
}
inline void Info(std::string_view m, std::initializer_list<Field> f = {}) {
  Write(Level::kInfo, m, f);
}
inline void Warn(std::string_view m, std::initializer_list<Field> f = {}) {
  Write(Level::kWarn, m, f);
}
inline void Error(std::string_view m, std::initializer_list<Field> f = {}) {
  Write(Level::kError, m, f);
}

}  // namespace relay::log
