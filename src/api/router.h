// Router: matches method and path patterns ("/v1/things/{id}") to handlers; unknown paths are
// 404 and known paths with another method are 405 with an Allow header.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/http_types.h"

namespace relay::api {

using PathParams = std::map<std::string, std::string>;
using RouteHandler = std::function<HttpResponse(const HttpRequest&, const PathParams&)>;

// Routes are added at start-up, then only read: Dispatch is thread-safe.
class Router {
 public:
  void Add(const std::string& method, const std::string& pattern, RouteHandler handler);
  // Replaces the handler of every route whose pattern `which` selects with wrap(handler). At
  // start-up only, like Add.
  void Wrap(const std::function<bool(const std::string& pattern)>& which,
            const std::function<RouteHandler(RouteHandler)>& wrap);
  HttpResponse Dispatch(const HttpRequest& request) const;
  // Every route as (method, pattern), in the order added: for the test that holds the OpenAPI
  // document to the router.
  std::vector<std::pair<std::string, std::string>> Routes() const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;  // "{name}" segments capture
    RouteHandler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace relay::api
