#include "common/crypto.h"

#include <gtest/gtest.h>

namespace relay::crypto {
namespace {

TEST(CryptoTest, Base64MatchesRfc4648Vectors) {
  const std::pair<std::string, std::string> kVectors[] = {{"", ""},
                                                          {"f", "Zg=="},
                                                          {"fo", "Zm8="},
                                                          {"foo", "Zm9v"},
                                                          {"foob", "Zm9vYg=="},
                                                          {"fooba", "Zm9vYmE="},
                                                          {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : kVectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(*decoded, plain);
  }
}

TEST(CryptoTest, Base64RejectsMalformedInput) {
  EXPECT_FALSE(Base64Decode("Zg=").has_value());
  EXPECT_FALSE(Base64Decode("Z!==").has_value());
  EXPECT_FALSE(Base64Decode("Zh==").has_value());  // non-zero leftover bits
  EXPECT_FALSE(Base64UrlDecode("a+b").has_value());
  EXPECT_FALSE(Base64UrlDecode("abcde").has_value());
}

TEST(CryptoTest, Base64UrlRoundTripsBinary) {
  std::string data = RandomBytes(100);
  std::string encoded = Base64UrlEncode(data);
  EXPECT_EQ(encoded.find_first_of("+/="), std::string::npos);
  EXPECT_EQ(*Base64UrlDecode(encoded), data);
}

TEST(CryptoTest, HmacSha256MatchesRfc4231Case2) {
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(CryptoTest, AesGcmOpensWhatItSealed) {
  std::string key = RandomBytes(32);
  std::string sealed = AesGcmSeal(key, "client secret", "ctx");
  EXPECT_EQ(sealed.find("client secret"), std::string::npos);
  auto opened = AesGcmOpen(key, sealed, "ctx");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, "client secret");
  EXPECT_NE(AesGcmSeal(key, "client secret", "ctx"), sealed) << "nonces must differ";
}

TEST(CryptoTest, AesGcmRefusesTamperingWrongKeyAndWrongContext) {
  std::string key = RandomBytes(32);
  std::string sealed = AesGcmSeal(key, "secret", "integration/a/client_secret");
  std::string tampered = sealed;
  tampered[20] ^= 1;
  EXPECT_FALSE(AesGcmOpen(key, tampered, "integration/a/client_secret").ok());
  EXPECT_FALSE(AesGcmOpen(RandomBytes(32), sealed, "integration/a/client_secret").ok());
  EXPECT_FALSE(AesGcmOpen(key, sealed, "integration/b/client_secret").ok());
  EXPECT_FALSE(AesGcmOpen(key, sealed.substr(0, 10), "integration/a/client_secret").ok());
}

TEST(CryptoTest, ConstantTimeEqualsComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

}  // namespace
}  // namespace relay::crypto
