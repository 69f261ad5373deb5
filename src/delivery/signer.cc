// Standard Webhooks signing.
#include "delivery/signer.h"

#include "common/crypto.h"

namespace relay::delivery {

Result<std::string> DecodeSigningSecret(std::string_view secret) {
  constexpr std::string_view kPrefix = "whsec_";
  if (secret.substr(0, kPrefix.size()) != kPrefix) {
    return InvalidArgument("a signing secret starts with whsec_");
  }
  auto key = crypto::Base64Decode(secret.substr(kPrefix.size()));
  if (!key || key->size() < 24 || key->size() > 64) {
    return InvalidArgument("a signing secret is whsec_ and the base64 of 24 to 64 bytes");
  }
  return std::move(*key);
}

std::string Sign(std::string_view key, std::string_view message_id, int64_t timestamp,
                 std::string_view body) {
  std::string content;
  content.reserve(message_id.size() + body.size() + 24);
  content.append(message_id).append(".").append(std::to_string(timestamp)).append(".");
  content.append(body);
  return "v1," + crypto::Base64Encode(crypto::HmacSha256(key, content));
}

std::string SignatureHeader(const std::vector<std::string>& keys, std::string_view message_id,
                            int64_t timestamp, std::string_view body) {
  std::string out;
  for (const auto& key : keys) {
    if (!out.empty()) out += ' ';
    out += Sign(key, message_id, timestamp, body);
  }
  return out;
}

}  // namespace relay::delivery
