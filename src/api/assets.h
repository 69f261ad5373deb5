// The files the server serves as they are: the console (/console/...) and the OpenAPI document
// (/openapi.json). Built into the binary from src/api/assets by cmake/embed_assets.cmake.
#pragma once

#include <string_view>
#include <vector>

namespace relay::api {

struct Asset {
  std::string_view path;  // the URL path, e.g. "/console/console.js"
  std::string_view content_type;
  std::string_view body;
};

const std::vector<Asset>& Assets();

}  // namespace relay::api
