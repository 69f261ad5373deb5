// ClientAddress: who a request came from, for limits and logs. Behind a load balancer every
// connection comes from the balancer; the balancer names the client in X-Forwarded-For. That
// header is believed only as far as it was written by proxies the operator trusts.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/destination_guard.h"

namespace relay {

// `peer` is the connection's address; `forwarded_for` the X-Forwarded-For header ("" if none;
// several headers joined with ", "). When `peer` is not in `trusted_proxies`, it is the client,
// whatever the header says. Otherwise the header is read from the right: each entry a trusted
// proxy appended is skipped, and the first entry that is not a trusted proxy is the client (an
// entry that is not an address counts as untrusted: it is the client as named). When every entry
// is a trusted proxy, the left-most one is. Entries are at most 64 characters (longer are cut).
std::string ClientAddress(std::string_view peer, std::string_view forwarded_for,
                          const std::vector<Cidr>& trusted_proxies);

}  // namespace relay
