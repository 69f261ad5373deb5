// Master key file handling and key derivation.
#include "common/keyring.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/crypto.h"

namespace relay {
namespace {
constexpr size_t kMasterKeySize = 32;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}
}  // namespace

Keyring::Keyring(std::string master_key)
    : master_(std::move(master_key)),
      encryption_key_(crypto::HmacSha256(master_, "consent-relay/v1/secret-encryption")),
      session_key_(crypto::HmacSha256(master_, "consent-relay/v1/session-signing")) {}

Result<Keyring> Keyring::LoadOrCreate(const std::string& path, bool create) {
  if (create) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      std::string line = crypto::Base64Encode(crypto::RandomBytes(kMasterKeySize)) + "\n";
      bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                ::fsync(fd) == 0;
      ::close(fd);
      if (!ok) {
        ::unlink(path.c_str());
        return Unavailable("cannot write the master key file " + path + ": " +
                           std::strerror(errno));
      }
    } else if (errno != EEXIST) {
      return Unavailable("cannot create the master key file " + path + ": " + std::strerror(errno));
    }
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return FailedPrecondition("cannot read the master key file " + path + ": " +
                              std::strerror(errno));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  auto key = crypto::Base64Decode(Trim(buf.str()));
  if (!key || key->size() != kMasterKeySize) {
    return FailedPrecondition("the master key file " + path +
                              " must hold the base64 encoding of 32 bytes");
  }
  return Keyring(std::move(*key));
}

std::string Keyring::Seal(std::string_view plaintext, std::string_view context) const {
  return crypto::AesGcmSeal(encryption_key_, plaintext, context);
}

Result<std::string> Keyring::Open(std::string_view sealed, std::string_view context) const {
  return crypto::AesGcmOpen(encryption_key_, sealed, context);
}

std::string Keyring::Fingerprint() const {
  return crypto::HexEncode(crypto::HmacSha256(master_, "consent-relay/v1/key-check")).substr(0, 32);
}

}  // namespace relay
