// DestinationGuard: the SSRF rule for every outbound connection (webhook and token URLs).
//
// Policy: customer URLs may not reach this machine or its private networks. By default the guard
// refuses loopback (127/8, ::1), RFC 1918 private (10/8, 172.16/12, 192.168/16), carrier-grade
// NAT (100.64/10), link-local (169.254/16 — cloud metadata lives at 169.254.169.254 — and
// fe80::/10), multicast (224/4, ff00::/8), reserved and unspecified (0/8, 240/4, 255.255.255.255,
// ::), IETF protocol assignments (192.0.0/24), documentation and benchmarking ranges, IPv6 unique
// local (fc00::/7), and IPv4-mapped, IPv4-compatible, NAT64 and 6to4 forms of IPv4 addresses,
// judged by the IPv4 address they carry. The check runs on the address actually connected to,
// after DNS resolution, so a name that resolves (or re-resolves) inside is refused too.
// Operators open ranges with --allow-destination CIDR. Immutable after construction: thread-safe.
#pragma once

#include <netinet/in.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace relay {

// An IPv4 or IPv6 address as 16 bytes (IPv4 as ::ffff:a.b.c.d).
struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  bool operator==(const IpAddress&) const = default;
  bool IsV4() const;  // an IPv4-mapped address
  std::string ToString() const;
};

struct Cidr {
  IpAddress base;
  int prefix_bits = 0;  // over the 128-bit form
  bool Contains(const IpAddress& address) const;
};

// Parses "10.0.0.0/8", "fc00::/7" or a bare address (a /32 or /128).
std::optional<Cidr> ParseCidr(std::string_view text);

// A literal IP host as URLs and resolvers accept it: dotted quads, but also the decimal
// ("2130706433"), octal ("0177.0.0.1"), hexadecimal ("0x7f.1") and short ("127.1") IPv4 forms,
// and bracketed or bare IPv6. nullopt for a name.
std::optional<IpAddress> ParseIpLiteral(std::string_view host);

std::optional<IpAddress> FromSockaddr(const sockaddr* address);

class DestinationGuard {
 public:
  explicit DestinationGuard(std::vector<Cidr> allowed = {}) : allowed_(std::move(allowed)) {}

  // ok, or kPermissionDenied saying which rule refused the address.
  Status Check(const IpAddress& address) const;
  // For a URL host at configuration time: refuses literal addresses that Check refuses; names
  // pass (they are checked when connecting).
  Status CheckHost(std::string_view host) const;

 private:
  std::vector<Cidr> allowed_;
};

}  // namespace relay
