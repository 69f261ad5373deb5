// ClientAddress implementation.
#include "common/client_address.h"

namespace relay {
namespace {

constexpr size_t kMaxEntry = 64;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool Trusted(std::string_view address, const std::vector<Cidr>& trusted) {
  auto cidr = ParseCidr(address);
  if (!cidr || (cidr->prefix_bits != 32 && cidr->prefix_bits != 128)) return false;
  for (const auto& range : trusted) {
    if (range.Contains(cidr->base)) return true;
  }
  return false;
}

}  // namespace

std::string ClientAddress(std::string_view peer, std::string_view forwarded_for,
                          const std::vector<Cidr>& trusted_proxies) {
  if (trusted_proxies.empty() || !Trusted(peer, trusted_proxies)) return std::string(peer);
  std::string_view rest = forwarded_for;
  std::string_view leftmost;
  while (!rest.empty()) {
    size_t comma = rest.rfind(',');
    std::string_view entry = Trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    if (entry.empty()) continue;
    leftmost = entry;
    if (!Trusted(entry, trusted_proxies)) return std::string(entry.substr(0, kMaxEntry));
  }
  if (!leftmost.empty()) return std::string(leftmost.substr(0, kMaxEntry));
  return std::string(peer);
}

}  // namespace relay
