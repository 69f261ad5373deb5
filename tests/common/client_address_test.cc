#include "common/client_address.h"

#include <gtest/gtest.h>

namespace relay {
namespace {

std::vector<Cidr> Ranges(std::initializer_list<const char*> texts) {
  std::vector<Cidr> out;
  for (const char* t : texts) out.push_back(*ParseCidr(t));
  return out;
}

TEST(ClientAddressTest, WithoutTrustedProxiesTheHeaderIsIgnored) {
  EXPECT_EQ(ClientAddress("198.51.100.9", "203.0.113.7", {}), "198.51.100.9");
  EXPECT_EQ(ClientAddress("198.51.100.9", "203.0.113.7", Ranges({"10.0.0.0/8"})), "198.51.100.9")
      << "a peer that is not a trusted proxy is the client, whatever it claims";
}

TEST(ClientAddressTest, TheRightMostUntrustedEntryIsTheClient) {
  auto lb = Ranges({"10.0.0.0/8", "fd00::/8"});
  EXPECT_EQ(ClientAddress("10.0.0.2", "203.0.113.7", lb), "203.0.113.7");
  // A client that sends its own X-Forwarded-For cannot pick its address: the proxy appended the
  // real one on the right.
  EXPECT_EQ(ClientAddress("10.0.0.2", "1.2.3.4, 203.0.113.7", lb), "203.0.113.7");
  // Chained proxies are skipped.
  EXPECT_EQ(ClientAddress("10.0.0.2", "203.0.113.7, 10.0.0.3,10.1.1.1", lb), "203.0.113.7");
  EXPECT_EQ(ClientAddress("fd00::1", "2001:db8::5", lb), "2001:db8::5");
  // Not an address: it is the client as named (its own slot), never a trusted hop.
  EXPECT_EQ(ClientAddress("10.0.0.2", "unknown", lb), "unknown");
  // Only proxies: the left-most; no header: the peer.
  EXPECT_EQ(ClientAddress("10.0.0.2", "10.0.0.9, 10.0.0.3", lb), "10.0.0.9");
  EXPECT_EQ(ClientAddress("10.0.0.2", "", lb), "10.0.0.2");
  EXPECT_EQ(ClientAddress("10.0.0.2", std::string(200, 'x'), lb).size(), 64u);
}

}  // namespace
}  // namespace relay
