// The Api: every route, wired onto one Router.
#include "api/api.h"

#include <boost/json.hpp>

#include "api/handler_support.h"
#include "api/routes.h"

namespace relay::api {

Api::Api(ApiServices services) {
  router_.Add("GET", "/healthz", [](const HttpRequest&, const PathParams&) {
    return JsonResponse(200, boost::json::object{{"status", "ok"}});
  });
  AddIntegrationRoutes(router_, services.auth, services.integrations);
  AddConsentRoutes(router_, services.auth, services.consent);
  AddDeliveryRoutes(router_, services.auth, services.deliveries);
}

}  // namespace relay::api
