// The OpenAPI document the server serves (/openapi.json, built in from src/api/assets) against
// the router itself: every route is documented, and every documented operation is a route.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>

#include "api/api.h"
#include "api/assets.h"
#include "common/keyring.h"
#include "store/sqlite/sqlite_store.h"
#include "support/process.h"

namespace relay::api {
namespace {
namespace json = boost::json;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

json::object Document() {
  for (const auto& asset : Assets()) {
    if (asset.path == "/openapi.json") return json::parse(asset.body).as_object();
  }
  ADD_FAILURE() << "no /openapi.json among the assets";
  return {};
}

TEST(OpenApiTest, EveryRouteIsDocumentedAndEveryDocumentedOperationIsARoute) {
  relay::testing::TempDir dir;
  auto store = std::move(store::SqliteStore::Open(dir.path() + "/relay.db")).value();
  Keyring keyring(std::string(32, 'k'));
  const Clock& clock = SystemClock::Instance();
  DestinationGuard guard;
  MetricsRegistry metrics;
  auth::AuthService auth(*store, keyring, clock);
  integrations::IntegrationService integrations(*store, keyring, clock, guard);
  consent::ConsentService consent(*store, clock);
  delivery::DeliveryService deliveries(*store, *store, clock);
  Api api(ApiServices{auth, integrations, consent, deliveries, metrics, nullptr});

  json::object doc = Document();
  ASSERT_EQ(doc.at("openapi"), "3.1.0");
  const json::object& paths = doc.at("paths").as_object();
  std::set<std::pair<std::string, std::string>> routes;
  for (const auto& [method, pattern] : api.router().Routes()) {
    routes.emplace(Lower(method), pattern);
    const json::value* path = paths.if_contains(pattern);
    EXPECT_TRUE(path && path->as_object().contains(Lower(method)))
        << method << " " << pattern << " is a route the document lacks";
  }
  EXPECT_GE(routes.size(), 25u);
  for (const auto& [pattern, item] : paths) {
    for (const auto& [method, operation] : item.as_object()) {
      EXPECT_TRUE(routes.count({std::string(method), std::string(pattern)}))
          << method << " " << pattern << " is documented but not a route";
      // Each operation answers errors in the one documented shape.
      EXPECT_TRUE(operation.as_object().at("responses").as_object().contains("default"))
          << method << " " << pattern;
    }
  }
}

}  // namespace
}  // namespace relay::api
