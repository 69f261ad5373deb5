// HttpRequest / HttpResponse: plain values passed between the server and handlers, so that no
// handler or test needs Beast's headers.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace relay::api {

struct HttpRequest {
  std::string method;                             // "GET", "POST", ...
  std::string target;                             // as received, e.g. "/v1/x?organization_id=a"
  std::string path;                               // percent-decoded path, without the query
  std::multimap<std::string, std::string> query;  // decoded query parameters
  std::map<std::string, std::string> headers;     // names lower-cased; repeated ones joined ", "
  std::string body;
  std::string remote_address;
  std::string request_id;  // assigned by the server, echoed as X-Request-Id

  // The header's value, or "" when absent. `name` must be lower case.
  const std::string& Header(const std::string& name) const;
  // The first value of a query parameter.
  std::optional<std::string> Query(const std::string& name) const;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/json";
};

}  // namespace relay::api
