// Address parsing and the blocked ranges.
#include "common/destination_guard.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace relay {
namespace {

IpAddress V4(uint32_t host_order) {
  IpAddress a;
  a.bytes[10] = a.bytes[11] = 0xff;
  a.bytes[12] = static_cast<uint8_t>(host_order >> 24);
  a.bytes[13] = static_cast<uint8_t>(host_order >> 16);
  a.bytes[14] = static_cast<uint8_t>(host_order >> 8);
  a.bytes[15] = static_cast<uint8_t>(host_order);
  return a;
}

struct Blocked {
  const char* cidr;
  const char* reason;
};

// Ranges over IPv4 (as mapped addresses) and IPv6.
constexpr Blocked kBlocked[] = {
    {"0.0.0.0/8", "an unspecified or 'this network' address"},
    {"10.0.0.0/8", "a private (RFC 1918) address"},
    {"100.64.0.0/10", "a carrier-grade NAT address"},
    {"127.0.0.0/8", "a loopback address"},
    {"169.254.0.0/16", "a link-local address (cloud metadata lives here)"},
    {"172.16.0.0/12", "a private (RFC 1918) address"},
    {"192.0.0.0/24", "an IETF protocol assignment address"},
    {"192.0.2.0/24", "a documentation address"},
    {"192.88.99.0/24", "a 6to4 relay anycast address"},
    {"192.168.0.0/16", "a private (RFC 1918) address"},
    {"198.18.0.0/15", "a benchmarking address"},
    {"198.51.100.0/24", "a documentation address"},
    {"203.0.113.0/24", "a documentation address"},
    {"224.0.0.0/4", "a multicast address"},
    {"240.0.0.0/4", "a reserved address"},
    {"::/128", "the unspecified address"},
    {"::1/128", "a loopback address"},
    {"fc00::/7", "a unique local address"},
    {"fe80::/10", "a link-local address"},
    {"fec0::/10", "a site-local address"},
    {"ff00::/8", "a multicast address"},
    {"2001:db8::/32", "a documentation address"},
    {"100::/64", "a discard-only address"},
};

// The IPv4 address an IPv6 address carries in its compatible (::a.b.c.d), NAT64
// (64:ff9b::a.b.c.d) or 6to4 (2002:aabb:ccdd::) form, if any.
std::optional<IpAddress> EmbeddedV4(const IpAddress& a) {
  const auto& b = a.bytes;
  bool compatible = std::all_of(b.begin(), b.begin() + 12, [](uint8_t x) { return x == 0; }) &&
                    !(b[12] == 0 && b[13] == 0 && b[14] == 0 && b[15] <= 1);
  static const uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (compatible || std::memcmp(b.data(), kNat64, 12) == 0) {
    return V4((uint32_t(b[12]) << 24) | (uint32_t(b[13]) << 16) | (uint32_t(b[14]) << 8) | b[15]);
  }
  if (b[0] == 0x20 && b[1] == 0x02) {
    return V4((uint32_t(b[2]) << 24) | (uint32_t(b[3]) << 16) | (uint32_t(b[4]) << 8) | b[5]);
  }
  return std::nullopt;
}

}  // namespace

bool IpAddress::IsV4() const {
  static const uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(bytes.data(), kPrefix, 12) == 0;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (IsV4()) {
    inet_ntop(AF_INET, bytes.data() + 12, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
  }
  return buf;
}

bool Cidr::Contains(const IpAddress& address) const {
  int bits = prefix_bits;
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((address.bytes[i] & mask) != (base.bytes[i] & mask)) return false;
  }
  return true;
}

std::optional<IpAddress> ParseIpLiteral(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host.size() > 64) return std::nullopt;
  std::string text(host);
  if (text.find(':') != std::string::npos) {
    size_t zone = text.find('%');
    if (zone != std::string::npos) text.resize(zone);
    IpAddress a;
    if (inet_pton(AF_INET6, text.c_str(), a.bytes.data()) == 1) return a;
    return std::nullopt;
  }
  // inet_aton accepts every legacy IPv4 form a resolver does (decimal, octal, hex, short).
  in_addr v4{};
  if (inet_aton(text.c_str(), &v4) == 1) return V4(ntohl(v4.s_addr));
  return std::nullopt;
}

std::optional<Cidr> ParseCidr(std::string_view text) {
  size_t slash = text.find('/');
  std::string_view addr = text.substr(0, slash);
  std::string a(addr);
  Cidr cidr;
  bool v4 = a.find(':') == std::string::npos;
  if (v4) {
    in_addr v{};
    if (inet_pton(AF_INET, a.c_str(), &v) != 1) return std::nullopt;
    cidr.base = V4(ntohl(v.s_addr));
  } else if (inet_pton(AF_INET6, a.c_str(), cidr.base.bytes.data()) != 1) {
    return std::nullopt;
  }
  int max_bits = v4 ? 32 : 128;
  int bits = max_bits;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string_view::npos) {
      return std::nullopt;
    }
    bits = std::stoi(std::string(p));
    if (bits > max_bits) return std::nullopt;
  }
  cidr.prefix_bits = v4 ? bits + 96 : bits;
  return cidr;
}

std::optional<IpAddress> FromSockaddr(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    return V4(ntohl(in->sin_addr.s_addr));
  }
  if (address->sa_family == AF_INET6) {
    IpAddress a;
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    std::memcpy(a.bytes.data(), &in6->sin6_addr, 16);
    return a;
  }
  return std::nullopt;
}

Status DestinationGuard::Check(const IpAddress& address) const {
  for (const auto& allowed : allowed_) {
    if (allowed.Contains(address)) return Status::Ok();
  }
  static const std::vector<std::pair<Cidr, const char*>> kRanges = [] {
    std::vector<std::pair<Cidr, const char*>> out;
    for (const auto& b : kBlocked) out.emplace_back(*ParseCidr(b.cidr), b.reason);
    return out;
  }();
  for (const auto& [range, reason] : kRanges) {
    if (range.Contains(address)) {
      return PermissionDenied("destination " + address.ToString() + " refused: it is " + reason +
                              " (see --allow-destination)");
    }
  }
  if (!address.IsV4()) {
    if (auto embedded = EmbeddedV4(address)) {
      Status s = Check(*embedded);
      if (!s.ok()) {
        return PermissionDenied("destination " + address.ToString() + " refused: it embeds " +
                                embedded->ToString() + ", which is refused");
      }
    }
  }
  return Status::Ok();
}

Status DestinationGuard::CheckHost(std::string_view host) const {
  auto literal = ParseIpLiteral(host);
  if (!literal) return Status::Ok();
  return Check(*literal);
}

}  // namespace relay
