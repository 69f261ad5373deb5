// OpenSSL-backed implementations of common/crypto.h.
#include "common/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace relay::crypto {
namespace {

constexpr unsigned char kSealVersion = 0x01;
constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Encode(std::string_view data, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  size_t rest = data.size() - i;
  if (rest == 1) {
    uint32_t v = uint8_t(data[i]) << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    if (pad) out += "==";
  } else if (rest == 2) {
    uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    if (pad) out += '=';
  }
  return out;
}

int DecodeChar(char c, bool url) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (!url && c == '+') return 62;
  if (!url && c == '/') return 63;
  if (url && c == '-') return 62;
  if (url && c == '_') return 63;
  return -1;
}

// Decodes unpadded groups; `text` must not contain padding.
std::optional<std::string> DecodeUnpadded(std::string_view text, bool url) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = DecodeChar(c, url);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // Leftover bits must be zero, so that every input has exactly one decoding.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

}  // namespace

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    std::fputs("fatal: the system random number generator failed\n", stderr);
    std::abort();
  }
  return out;
}

std::string Sha256(std::string_view data) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(U(data), data.size(), reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), U(data), data.size(),
       reinterpret_cast<unsigned char*>(out.data()), &len);
  out.resize(len);
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Base64Encode(std::string_view data) { return Encode(data, kB64, true); }

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  return DecodeUnpadded(text.substr(0, text.size() - pad), false);
}

std::string Base64UrlEncode(std::string_view data) { return Encode(data, kB64Url, false); }

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  return DecodeUnpadded(text, true);
}

std::string HexEncode(std::string_view data) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (unsigned char c : data) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string AesGcmSeal(std::string_view key, std::string_view plaintext, std::string_view aad) {
  std::string nonce = RandomBytes(kNonceSize);
  std::string out;
  out.resize(1 + kNonceSize + plaintext.size() + kTagSize);
  out[0] = static_cast<char>(kSealVersion);
  std::copy(nonce.begin(), nonce.end(), out.begin() + 1);
  auto* ct = reinterpret_cast<unsigned char*>(out.data() + 1 + kNonceSize);
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok =
      ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) &&
      key.size() == 32 && EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, U(key), U(nonce)) &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, U(aad), static_cast<int>(aad.size())) &&
      EVP_EncryptUpdate(ctx.get(), ct, &len, U(plaintext), static_cast<int>(plaintext.size())) &&
      EVP_EncryptFinal_ex(ctx.get(), ct + len, &len) &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, ct + plaintext.size());
  if (!ok) {
    // Only a wrong key length or an OpenSSL failure gets here: both are programming errors.
    std::fputs("fatal: AES-256-GCM encryption failed\n", stderr);
    std::abort();
  }
  return out;
}

Result<std::string> AesGcmOpen(std::string_view key, std::string_view sealed,
                               std::string_view aad) {
  if (key.size() != 32 || sealed.size() < 1 + kNonceSize + kTagSize ||
      static_cast<unsigned char>(sealed[0]) != kSealVersion) {
    return Internal("encrypted value is malformed");
  }
  std::string_view nonce = sealed.substr(1, kNonceSize);
  std::string_view ct = sealed.substr(1 + kNonceSize, sealed.size() - 1 - kNonceSize - kTagSize);
  std::string tag(sealed.substr(sealed.size() - kTagSize));
  std::string out(ct.size(), '\0');
  auto* pt = reinterpret_cast<unsigned char*>(out.data());
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok = ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) &&
            EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, U(key), U(nonce)) &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len, U(aad), static_cast<int>(aad.size())) &&
            EVP_DecryptUpdate(ctx.get(), pt, &len, U(ct), static_cast<int>(ct.size())) &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, tag.data()) &&
            EVP_DecryptFinal_ex(ctx.get(), pt + len, &len) > 0;
  if (!ok) return Internal("encrypted value failed authentication (wrong master key?)");
  return out;
}

}  // namespace relay::crypto
