// Each family of routes adds itself to the Router. Internal to src/api.
#pragma once

#include "api/router.h"
#include "auth/auth_service.h"
#include "consent/consent_service.h"
#include "delivery/delivery_service.h"
#include "integrations/integration_service.h"

namespace relay::api {

void AddIntegrationRoutes(Router& router, auth::AuthService& auth,
                          integrations::IntegrationService& integrations);
void AddConsentRoutes(Router& router, auth::AuthService& auth, consent::ConsentService& consent);
void AddDeliveryRoutes(Router& router, auth::AuthService& auth,
                       delivery::DeliveryService& deliveries);

}  // namespace relay::api
