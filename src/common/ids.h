// Typed, prefixed, time-sortable identifiers ("int_01JD...", "msg_01JD...").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace relay {

// A ULID (48-bit millisecond timestamp + 80 random bits, Crockford base32, 26 characters) behind a
// prefix such as "int_". Ids made later sort after ids made earlier (to the millisecond).
// Thread-safe. Contains no '.', so it is a valid Standard Webhooks webhook-id.
std::string NewId(std::string_view prefix, int64_t unix_millis);

// `n` (at most 1024) random bytes for identifiers: unguessable, not secret (never for keys or
// secrets: use crypto::RandomBytes). Cheap: the CSPRNG is read 1 KiB at a time per thread.
void FillRandom(unsigned char* out, size_t n);

// True when `id` is `prefix` followed by 26 Crockford base32 characters.
bool IsWellFormedId(std::string_view id, std::string_view prefix);

}  // namespace relay
