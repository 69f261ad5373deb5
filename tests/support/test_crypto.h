// Crypto for tests, written against OpenSSL directly so that tests check the product's
// signatures and tokens with code that is not the product's.
#pragma once

#include <string>

namespace relay::testing {

std::string Base64(const std::string& data);
std::string Base64Url(const std::string& data);  // no padding
std::string UnBase64(const std::string& text);
std::string HmacSha256(const std::string& key, const std::string& data);

}  // namespace relay::testing
