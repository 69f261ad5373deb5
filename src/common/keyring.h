// Keyring: the master key and the keys derived from it (secret encryption, session signing).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace relay {

// Holds the 32-byte master key in memory. Immutable after construction, so thread-safe.
// Derived keys are HMAC-SHA256(master, label), one label per use, so that no two uses share a key.
class Keyring {
 public:
  explicit Keyring(std::string master_key);

  // Reads the master key file (base64 of 32 bytes). When the file does not exist and `create` is
  // true, writes a new random key with mode 0600 (never overwriting a file created meanwhile).
  // Fails with a clear message when the file is unreadable or malformed.
  static Result<Keyring> LoadOrCreate(const std::string& path, bool create);

  // Encrypts a secret with AES-256-GCM under the encryption key, bound to `context` (e.g.
  // "integration/<id>/client_secret") so a sealed value cannot be moved to another row.
  std::string Seal(std::string_view plaintext, std::string_view context) const;
  Result<std::string> Open(std::string_view sealed, std::string_view context) const;

  // The HS256 key for session tokens.
  const std::string& session_signing_key() const { return session_key_; }
  // A non-secret value that identifies the master key (to refuse a database sealed with another).
  std::string Fingerprint() const;

 private:
  std::string master_;
  std::string encryption_key_;
  std::string session_key_;
};

}  // namespace relay
