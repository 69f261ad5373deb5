// Statements every backend runs as they are: both dialects read them alike ('?' placeholders,
// which the PostgreSQL connection numbers).
#pragma once

namespace relay::store {

// The write CheckWritable probes with: one small row in settings, replaced.
inline constexpr char kHealthProbeSql[] =
    "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = "
    "excluded.value";

// One delivery's lease extended, if its holder (the token) still holds it.
inline constexpr char kRenewLeaseSql[] =
    "UPDATE deliveries SET lease_until = ? WHERE seq = ? AND lease_token = ? AND status = "
    "'in_flight'";

}  // namespace relay::store
