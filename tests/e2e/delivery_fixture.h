// A fixture for delivery tests: the real server allowed to reach loopback, real receivers, and
// helpers to post events and watch deliveries through the API.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "e2e/api_fixture.h"
#include "support/test_receiver.h"

namespace relay::testing {

class DeliveryFixture : public ApiFixture {
 protected:
  // Starts the server with loopback allowed and `extra` flags; creates the key and the token.
  void StartRelay(std::vector<std::string> extra = {}, const std::vector<std::string>& env = {});

  struct Created {
    std::string id;
    std::string signing_secret;
  };
  // Creates a webhook-http integration; `more` is extra JSON members of the body (e.g.
  // R"("authentication":{...})"), `properties` extra members of properties.
  Created CreateIntegration(const std::string& url, const std::string& properties = "",
                            const std::string& more = "");
  // Posts one consent event for `user`; returns the 201 body.
  boost::json::object PostEvent(const std::string& user, const std::string& purpose = "p1");

  std::vector<boost::json::object> Deliveries(const std::string& integration,
                                              const std::string& query = "");
  boost::json::object Delivery(const std::string& integration, const std::string& id);
  // Waits until every delivery of the integration has `status` (and there are `count`).
  bool WaitForStatus(const std::string& integration, const std::string& status, size_t count,
                     std::chrono::milliseconds timeout = std::chrono::seconds(20));

  std::string Path(const std::string& path) const;

  std::string token_;
};

}  // namespace relay::testing
