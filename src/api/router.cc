// Router implementation: a linear scan, which is fast enough for a few dozen routes.
#include "api/router.h"

#include "api/errors.h"

namespace relay::api {
namespace {

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 1;
  if (path.empty() || path[0] != '/') return out;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool Match(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
           PathParams* params) {
  if (pattern.size() != path.size()) return false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const std::string& p = pattern[i];
    if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
      if (path[i].empty()) return false;
      (*params)[p.substr(1, p.size() - 2)] = path[i];
    } else if (p != path[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> Router::Routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : routes_) out.emplace_back(r.method, r.pattern);
  return out;
}

void Router::Add(const std::string& method, const std::string& pattern, RouteHandler handler) {
  routes_.push_back(Route{method, pattern, SplitPath(pattern), std::move(handler)});
}

void Router::Wrap(const std::function<bool(const std::string& pattern)>& which,
                  const std::function<RouteHandler(RouteHandler)>& wrap) {
  for (auto& route : routes_) {
    if (which(route.pattern)) route.handler = wrap(std::move(route.handler));
  }
}

HttpResponse Router::Dispatch(const HttpRequest& request) const {
  std::vector<std::string> path = SplitPath(request.path);
  std::string allowed;
  for (const auto& route : routes_) {
    PathParams params;
    if (!Match(route.segments, path, &params)) continue;
    if (route.method == request.method) return route.handler(request, params);
    if (!allowed.empty()) allowed += ", ";
    allowed += route.method;
  }
  if (!allowed.empty()) {
    HttpResponse r =
        ErrorResponse(405, "method " + request.method + " is not allowed on " + request.path);
    r.headers.emplace_back("Allow", allowed);
    return r;
  }
  return ErrorResponse(404, "no route for " + request.method + " " + request.path);
}

}  // namespace relay::api
