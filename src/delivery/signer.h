// Standard Webhooks signatures: webhook-signature = "v1,<base64 HMAC-SHA256>" over
// "<webhook-id>.<webhook-timestamp>.<body>", keyed with the bytes of the "whsec_" secret.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace relay::delivery {

// The key bytes of a "whsec_<base64>" secret; kInvalidArgument when malformed.
Result<std::string> DecodeSigningSecret(std::string_view secret);

// One "v1,<base64>" signature.
std::string Sign(std::string_view key, std::string_view message_id, int64_t timestamp,
                 std::string_view body);

// The header value: one signature per key, space-separated (several during a rotation).
std::string SignatureHeader(const std::vector<std::string>& keys, std::string_view message_id,
                            int64_t timestamp, std::string_view body);

}  // namespace relay::delivery
