// Stored integration properties, parsed once per version.
#include "integrations/stored_properties.h"

#include <mutex>
#include <string>
#include <unordered_map>

#include "common/json.h"

namespace relay::integrations {
namespace {
constexpr size_t kMaxCached = 10'000;
}  // namespace

Result<std::shared_ptr<const IntegrationProperties>> StoredProperties(
    const store::IntegrationRow& row) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::shared_ptr<const IntegrationProperties>> cache;
  std::string key = row.id;
  key += '#';
  key += std::to_string(row.version);
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  auto json = ParseJson(row.properties_json);
  if (!json.ok()) return Internal("stored integration " + row.id + " has invalid properties");
  auto properties = ParseProperties(&*json);
  if (!properties.ok()) {
    return Internal("stored integration " + row.id +
                    " is invalid: " + properties.status().message());
  }
  auto parsed = std::make_shared<const IntegrationProperties>(std::move(properties).value());
  std::lock_guard<std::mutex> lock(mu);
  if (cache.size() >= kMaxCached) cache.clear();
  cache[key] = parsed;
  return parsed;
}

}  // namespace relay::integrations
