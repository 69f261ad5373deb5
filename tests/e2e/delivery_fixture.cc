#include "e2e/delivery_fixture.h"

namespace relay::testing {
namespace json = boost::json;

void DeliveryFixture::StartRelay(std::vector<std::string> extra,
                                 const std::vector<std::string>& env) {
  ApiKey key = CreateKey({"org_a"});
  EnableFeature("org_a", "webhooks");
  std::vector<std::string> args = {"--allow-destination", "127.0.0.0/8"};
  args.insert(args.end(), extra.begin(), extra.end());
  StartServer(args, env);
  token_ = Token(key);
}

std::string DeliveryFixture::Path(const std::string& path) const {
  return path + (path.find('?') == std::string::npos ? "?" : "&") + "organization_id=org_a";
}

DeliveryFixture::Created DeliveryFixture::CreateIntegration(const std::string& url,
                                                            const std::string& properties,
                                                            const std::string& more) {
  std::string body = R"({"type_id":"webhook-http",)" + (more.empty() ? "" : more + ",") +
                     R"("properties":{"url":")" + url + "\"" +
                     (properties.empty() ? "" : "," + properties) + "}}";
  HttpResult r = Call("POST", Path("/v1/marketplace/integrations"), token_, body);
  EXPECT_EQ(r.status, 201) << body << " -> " << r.body;
  if (r.status != 201) return {};
  return Created{std::string(r.Json().at("id").as_string()),
                 std::string(r.Json().at("signing_secret").as_string())};
}

json::object DeliveryFixture::PostEvent(const std::string& user, const std::string& purpose) {
  std::string body = R"({"user":{"organization_user_id":")" + user +
                     R"("},"consents":{"purposes":[{"id":")" + purpose + R"(","enabled":true}]}})";
  HttpResult r = Call("POST", Path("/v1/consents/events"), token_, body);
  EXPECT_EQ(r.status, 201) << r.body;
  return r.Json().is_object() ? r.Json().as_object() : json::object();
}

std::vector<json::object> DeliveryFixture::Deliveries(const std::string& integration,
                                                      const std::string& query) {
  HttpResult r = Call("GET",
                      Path("/v1/marketplace/integrations/" + integration +
                           "/deliveries?$limit=1000" + (query.empty() ? "" : "&" + query)),
                      token_);
  EXPECT_EQ(r.status, 200) << r.body;
  std::vector<json::object> out;
  json::value page = r.Json();
  if (!page.is_object()) return out;
  for (const auto& d : page.at("data").as_array()) out.push_back(d.as_object());
  std::reverse(out.begin(), out.end());  // oldest first
  return out;
}

json::object DeliveryFixture::Delivery(const std::string& integration, const std::string& id) {
  HttpResult r = Call(
      "GET", Path("/v1/marketplace/integrations/" + integration + "/deliveries/" + id), token_);
  EXPECT_EQ(r.status, 200) << r.body;
  return r.Json().is_object() ? r.Json().as_object() : json::object();
}

bool DeliveryFixture::WaitForStatus(const std::string& integration, const std::string& status,
                                    size_t count, std::chrono::milliseconds timeout) {
  return WaitUntil(
      [&] {
        auto all = Deliveries(integration);
        if (all.size() != count) return false;
        for (const auto& d : all) {
          if (d.at("status") != status.c_str()) return false;
        }
        return true;
      },
      timeout);
}

}  // namespace relay::testing
