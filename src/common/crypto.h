// Cryptographic primitives over OpenSSL: hashing, MACs, authenticated encryption, encodings.
// Every function is thread-safe. Inputs and outputs are byte strings held in std::string.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace relay::crypto {

// `n` bytes from the operating system's CSPRNG (OpenSSL RAND_bytes). Aborts if the CSPRNG fails,
// since continuing without randomness would silently weaken every secret.
std::string RandomBytes(size_t n);

std::string Sha256(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);

// Compares in time that depends only on the lengths, never on where the inputs differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

std::string Base64Encode(std::string_view data);
// Strict standard base64 with padding; nullopt on any invalid character or length.
std::optional<std::string> Base64Decode(std::string_view text);
// URL-safe alphabet, no padding (JWT's base64url).
std::string Base64UrlEncode(std::string_view data);
std::optional<std::string> Base64UrlDecode(std::string_view text);
std::string HexEncode(std::string_view data);

// AES-256-GCM with a fresh random 96-bit nonce. Output: 0x01 || nonce(12) || ciphertext || tag(16).
// `aad` binds the ciphertext to its context (e.g. the row and column it belongs in): decrypting
// with another aad fails. `key` must be 32 bytes.
std::string AesGcmSeal(std::string_view key, std::string_view plaintext, std::string_view aad);
// Fails with kInternal when the blob is malformed, the key is wrong or the data was tampered with.
Result<std::string> AesGcmOpen(std::string_view key, std::string_view sealed, std::string_view aad);

}  // namespace relay::crypto
