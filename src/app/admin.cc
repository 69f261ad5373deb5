// The administration commands.
#include "app/admin.h"

#include <boost/json.hpp>
#include <iostream>

#include "auth/auth_service.h"
#include "common/clock.h"
#include "common/keyring.h"
#include "common/time_format.h"
#include "integrations/features.h"

namespace relay::app {

namespace json = boost::json;

int KeysCreate(const StoreOptions& store_options, const std::vector<std::string>& orgs,
               const std::string& name) {
  auto store = OpenStore(store_options);
  if (!store.ok()) return Fail(store.status().message());
  // Creating a key needs no master key: its secret is stored as a hash only.
  Keyring unused(std::string(32, '\0'));
  auth::AuthService auth(**store, unused, SystemClock::Instance());
  auto key = auth.CreateApiKey(orgs, name);
  if (!key.ok()) return Fail(key.status().message());
  std::cout << json::serialize(json::object{{"key", key->key}, {"secret", key->secret}}) << "\n";
  return 0;
}

int KeysList(const StoreOptions& store_options) {
  auto store = OpenStore(store_options);
  if (!store.ok()) return Fail(store.status().message());
  auto keys = (*store)->ListApiKeys();
  if (!keys.ok()) return Fail(keys.status().message());
  for (const auto& k : *keys) {
    json::array orgs;
    for (const auto& o : k.organizations) orgs.emplace_back(o);
    json::object line{{"key", k.id},
                      {"name", k.name},
                      {"organizations", std::move(orgs)},
                      {"created_at", FormatTimestamp(k.created_at)},
                      {"revoked_at", k.revoked_at ? json::value(FormatTimestamp(*k.revoked_at))
                                                  : json::value(nullptr)}};
    std::cout << json::serialize(line) << "\n";
  }
  return 0;
}

int KeysRevoke(const StoreOptions& store_options, const std::string& key) {
  auto store = OpenStore(store_options);
  if (!store.ok()) return Fail(store.status().message());
  if (Status s = (*store)->RevokeApiKey(key, SystemClock::Instance().NowMillis()); !s.ok()) {
    return Fail(s.message());
  }
  std::cout << json::serialize(json::object{{"key", key}, {"revoked", true}}) << "\n";
  return 0;
}

int OrgsSetFeatures(const StoreOptions& store_options, const std::string& org,
                    const std::vector<std::string>& features, bool enabled) {
  if (!auth::IsValidOrganizationId(org)) {
    return Fail("invalid organization id '" + org + "': use 1 to 64 of A-Z a-z 0-9 _ -");
  }
  for (const auto& f : features) {
    if (!integrations::IsKnownFeature(f)) {
      return Fail("unknown feature '" + f + "' (known: webhooks, multi-regulation)");
    }
  }
  auto store = OpenStore(store_options);
  if (!store.ok()) return Fail(store.status().message());
  for (const auto& f : features) {
    Status s =
        (*store)->SetOrganizationFeature(org, f, enabled, SystemClock::Instance().NowMillis());
    if (!s.ok()) return Fail(s.message());
  }
  auto now = (*store)->GetOrganizationFeatures(org);
  if (!now.ok()) return Fail(now.status().message());
  json::array list;
  for (const auto& f : *now) list.emplace_back(f);
  std::cout << json::serialize(json::object{{"organization_id", org}, {"features", list}}) << "\n";
  return 0;
}

int OrgsList(const StoreOptions& store_options) {
  auto store = OpenStore(store_options);
  if (!store.ok()) return Fail(store.status().message());
  auto orgs = (*store)->ListOrganizations();
  if (!orgs.ok()) return Fail(orgs.status().message());
  for (const auto& o : *orgs) {
    json::array list;
    for (const auto& f : o.features) list.emplace_back(f);
    std::cout << json::serialize(json::object{{"organization_id", o.id},
                                              {"features", list},
                                              {"created_at", FormatTimestamp(o.created_at)}})
              << "\n";
  }
  return 0;
}
}  // namespace relay::app
