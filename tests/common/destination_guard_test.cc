#include "common/destination_guard.h"

#include <gtest/gtest.h>

namespace relay {
namespace {

IpAddress Ip(const char* text) {
  auto a = ParseIpLiteral(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddress{});
}

TEST(DestinationGuardTest, RefusesInternalAddressesInEveryForm) {
  DestinationGuard guard;
  for (const char* host : {"127.0.0.1",
                           "127.1",
                           "2130706433",
                           "0177.0.0.1",
                           "0x7f.0.0.1",
                           "0x7f000001",
                           "10.1.2.3",
                           "172.16.0.1",
                           "172.31.255.255",
                           "192.168.1.1",
                           "100.64.0.1",
                           "169.254.169.254",
                           "0.0.0.0",
                           "224.0.0.1",
                           "255.255.255.255",
                           "[::1]",
                           "::",
                           "[::ffff:127.0.0.1]",
                           "::ffff:169.254.169.254",
                           "[fe80::1]",
                           "fd00::1",
                           "ff02::1",
                           "::127.0.0.1",
                           "64:ff9b::a9fe:a9fe",
                           "2002:7f00:1::",
                           "192.0.2.1"}) {
    Status s = guard.Check(Ip(host));
    EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << host;
    EXPECT_NE(s.message().find("refused"), std::string::npos) << host;
  }
}

TEST(DestinationGuardTest, AllowsPublicAddresses) {
  DestinationGuard guard;
  for (const char* host :
       {"93.184.216.34", "8.8.8.8", "172.32.0.1", "[2606:4700::1111]", "::ffff:8.8.8.8"}) {
    EXPECT_TRUE(guard.Check(Ip(host)).ok()) << host;
  }
}

TEST(DestinationGuardTest, AllowListOpensARange) {
  DestinationGuard guard({*ParseCidr("127.0.0.0/8"), *ParseCidr("::1")});
  EXPECT_TRUE(guard.Check(Ip("127.0.0.1")).ok());
  EXPECT_TRUE(guard.Check(Ip("127.1")).ok());
  EXPECT_TRUE(guard.Check(Ip("::1")).ok());
  EXPECT_TRUE(guard.Check(Ip("::ffff:127.0.0.1")).ok());
  EXPECT_FALSE(guard.Check(Ip("10.0.0.1")).ok());
}

TEST(DestinationGuardTest, NamesPassTheHostCheckButLiteralsDoNot) {
  DestinationGuard guard;
  EXPECT_TRUE(guard.CheckHost("api.example.com").ok());
  EXPECT_TRUE(guard.CheckHost("localhost").ok()) << "names are checked after resolution";
  EXPECT_FALSE(guard.CheckHost("127.0.0.1").ok());
  EXPECT_FALSE(guard.CheckHost("[::1]").ok());
  EXPECT_FALSE(guard.CheckHost("2130706433").ok());
}

TEST(CidrTest, ParsesAndRejects) {
  EXPECT_TRUE(ParseCidr("10.0.0.0/8").has_value());
  EXPECT_TRUE(ParseCidr("fc00::/7").has_value());
  EXPECT_FALSE(ParseCidr("10.0.0.0/33").has_value());
  EXPECT_FALSE(ParseCidr("10.0.0/8").has_value());
  EXPECT_FALSE(ParseCidr("nonsense").has_value());
  EXPECT_FALSE(ParseCidr("10.0.0.0/").has_value());
}

}  // namespace
}  // namespace relay
