// A blocking HTTP client for tests (libcurl easy interface).
#pragma once

#include <boost/json/value.hpp>
#include <map>
#include <string>
#include <vector>

namespace relay::testing {

struct HttpResult {
  long status = 0;                             // 0 when no response arrived
  std::string error;                           // curl's error when status is 0
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
  // The body parsed as JSON; a null value when it is not JSON.
  boost::json::value Json() const;
  std::string Header(const std::string& lower_name) const;
};

// `headers` are "Name: value" lines. A body without an explicit Content-Type is sent as
// application/json. Times out after 30 s.
HttpResult HttpRequest(const std::string& method, const std::string& url,
                       const std::string& body = "", std::vector<std::string> headers = {});

}  // namespace relay::testing
