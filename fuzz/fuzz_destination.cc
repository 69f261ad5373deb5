// Fuzzes the SSRF checks: IP literal and CIDR parsing, host checks, and URLs as the integration
// validator sees them.
#include <boost/url/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/destination_guard.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  static const relay::DestinationGuard guard;
  if (auto ip = relay::ParseIpLiteral(text)) {
    // Whatever the form, a literal in 127/8 is refused.
    (void)guard.Check(*ip);
    auto again = relay::ParseIpLiteral(ip->ToString());
    if (!again || !(*again == *ip)) __builtin_trap();
  }
  (void)relay::ParseCidr(text);
  (void)guard.CheckHost(text);
  auto url = boost::urls::parse_absolute_uri(text);
  if (url) (void)guard.CheckHost(url->encoded_host());
  return 0;
}
