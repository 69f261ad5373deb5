// `consent-relay demo`.
#include "app/demo.h"

#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "api/http_server.h"
#include "app/serve.h"
#include "app/store_options.h"
#include "auth/auth_service.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/keyring.h"
#include "common/trace_context.h"
#include "delivery/http_client.h"
#include "delivery/signer.h"
#include "integrations/features.h"
#include "integrations/integration_service.h"

namespace relay::app {
namespace json = boost::json;

namespace {

constexpr char kOrganization[] = "demo";

// One POST to the demo's server through the delivery engine's client, waited for.
delivery::HttpCallResult Post(delivery::HttpClient& http, const std::string& url,
                              const std::string& body, std::vector<std::string> headers) {
  delivery::HttpCall call;
  call.url = url;
  call.body = body;
  call.headers = std::move(headers);
  call.headers.push_back("Content-Type: application/json");
  call.timeout_ms = 5000;
  std::optional<delivery::HttpCallResult> result;
  http.Start(std::move(call), [&result](delivery::HttpCallResult r) { result = std::move(r); });
  while (!result) http.Poll(100);
  return std::move(*result);
}

// A session token for the demo's key, or "" while the server does not answer yet.
std::string SignIn(delivery::HttpClient& http, const std::string& base,
                   const auth::NewApiKey& key) {
  json::object session{{"type", "api-key"}, {"key", key.key}, {"secret", key.secret}};
  auto answer = Post(http, base + "/v1/sessions", json::serialize(session), {});
  if (answer.status != 201) return "";
  auto parsed = ParseJson(answer.body);
  const json::value* token = parsed.ok() && parsed->is_object()
                                 ? parsed->as_object().if_contains("access_token")
                                 : nullptr;
  return token && token->is_string() ? std::string(token->as_string()) : "";
}

// Prints each webhook the receiver gets, with whether its Standard Webhooks signature verifies.
api::HttpResponse Receive(const api::HttpRequest& request, const std::string& key,
                          std::mutex& print_mu) {
  const std::string& id = request.Header("webhook-id");
  const std::string& timestamp = request.Header("webhook-timestamp");
  bool verified = false;
  try {
    std::string expected = delivery::Sign(key, id, std::stoll(timestamp), request.body);
    std::string header = request.Header("webhook-signature") + " ";
    verified = header.find(expected + " ") != std::string::npos;
  } catch (const std::exception&) {
    verified = false;
  }
  std::string type = "?", user = "?";
  auto body = ParseJson(request.body);
  if (body.ok() && body->is_object()) {
    const auto& o = body->as_object();
    if (auto* t = o.if_contains("type"); t && t->is_string()) type = std::string(t->as_string());
    if (auto* p = o.if_contains("parameters"); p && p->is_object()) {
      for (const char* name : {"entity", "new_entity", "source"}) {
        const json::value* e = p->as_object().if_contains(name);
        if (!e || !e->is_object()) continue;
        const json::value* u = e->as_object().if_contains("user");
        const json::object& who = u && u->is_object() ? u->as_object() : e->as_object();
        if (auto* n = who.if_contains("organization_user_id"); n && n->is_string()) {
          user = std::string(n->as_string());
          break;
        }
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(print_mu);
    std::printf("webhook  %-13s user %-12s signature %s  trace %s\n", type.c_str(), user.c_str(),
                verified ? "ok" : "INVALID", TraceIdOf(request.Header("traceparent")).c_str());
    std::fflush(stdout);
  }
  api::HttpResponse r;
  r.status = verified ? 200 : 401;
  r.body = verified ? "{\"received\":true}" : "{\"error\":\"bad signature\"}";
  return r;
}

// Sends a synthetic consent change every interval until `stop`, signing in again when `token`
// expires.
void StreamChanges(delivery::HttpClient& http, const std::string& base, const auth::NewApiKey& key,
                   std::string token, int interval_ms, const std::atomic<bool>& stop,
                   std::mutex& print_mu) {
  std::mt19937 random(std::random_device{}());
  const std::vector<std::string> purposes = {"analytics", "advertising", "personalization"};
  while (!stop.load()) {
    if (token.empty()) token = SignIn(http, base, key);
    if (!token.empty()) {
      json::array consents;
      for (const auto& p : purposes) {
        consents.emplace_back(json::object{{"id", p}, {"enabled", random() % 2 == 0}});
      }
      std::string user = "demo-user-" + std::to_string(random() % 5 + 1);
      json::object event{{"user", json::object{{"organization_user_id", user}}},
                         {"consents", json::object{{"purposes", std::move(consents)}}}};
      int status = Post(http, base + "/v1/consents/events?organization_id=" + kOrganization,
                        json::serialize(event),
                        {"Authorization: Bearer " + token, "traceparent: " + NewTraceparent()})
                       .status.value_or(0);
      if (status == 401) token.clear();
      std::lock_guard<std::mutex> lock(print_mu);
      std::printf("change   consent event for %s: HTTP %d\n", user.c_str(), status);
      std::fflush(stdout);
    }
    for (int waited = 0; waited < interval_ms && !stop.load(); waited += 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

}  // namespace

int Demo(const std::string& program, const DemoOptions& options) {
  std::string host;
  uint16_t port = 0;
  if (!SplitHostPort(options.listen, &host, &port) || port == 0) {
    return Fail("--listen must be HOST:PORT with a port, e.g. 127.0.0.1:8080");
  }
  // The stop signals are for Serve's sigwait: blocked before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::string pattern = (std::filesystem::temp_directory_path() / "consent-relay-demo-XXXXXX");
  if (!mkdtemp(pattern.data())) return Fail("cannot create a temporary directory");
  const std::string dir = pattern;
  auto cleanup = [&dir](int code) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return code;
  };

  StoreOptions store_options;
  store_options.data_dir = dir;
  auto keyring = Keyring::LoadOrCreate(dir + "/master.key", true);
  if (!keyring.ok()) return cleanup(Fail(keyring.status().message()));

  // The receiver, on a free loopback port.
  std::mutex print_mu;
  std::string signing_key;
  api::HttpServerOptions receiver_options;
  receiver_options.port = 0;
  receiver_options.io_threads = 1;
  receiver_options.worker_threads = 2;
  auto receiver = api::HttpServer::Start(receiver_options, [&](api::HttpRequest& request) {
    return Receive(request, signing_key, print_mu);
  });
  if (!receiver.ok()) return cleanup(Fail(receiver.status().message()));
  const std::string receiver_url =
      "http://127.0.0.1:" + std::to_string((*receiver)->port()) + "/webhooks";

  // The organization, its key and its integration, written before the server takes the store.
  auth::NewApiKey key;
  {
    auto store = OpenStore(store_options);
    if (!store.ok()) return cleanup(Fail(store.status().message()));
    const Clock& clock = SystemClock::Instance();
    if (Status s = (*store)->SetOrganizationFeature(kOrganization, integrations::kFeatureWebhooks,
                                                    true, clock.NowMillis());
        !s.ok()) {
      return cleanup(Fail(s.message()));
    }
    auth::AuthService auth(**store, *keyring, clock);
    auto created_key = auth.CreateApiKey({kOrganization}, "demo");
    if (!created_key.ok()) return cleanup(Fail(created_key.status().message()));
    key = *created_key;
    DestinationGuard guard({*ParseCidr("127.0.0.0/8")});
    integrations::IntegrationService integrations(**store, *keyring, clock, guard);
    json::object body{{"type_id", "webhook-http"},
                      {"authentication", json::object{}},
                      {"properties", json::object{{"url", receiver_url}}}};
    auto integration = integrations.Create(kOrganization, body);
    if (!integration.ok()) return cleanup(Fail(integration.status().message()));
    auto decoded = delivery::DecodeSigningSecret(integration->signing_secret);
    if (!decoded.ok()) return cleanup(Fail(decoded.status().message()));
    signing_key = *decoded;
  }

  std::string shown_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  const std::string base = "http://" + shown_host + ":" + std::to_string(port);
  std::atomic<bool> stop{false};
  std::thread stream([&] {
    // The server on loopback (or on the address it listens on) is this client's only destination.
    std::vector<Cidr> allowed = {*ParseCidr("127.0.0.0/8"), *ParseCidr("::1/128")};
    if (auto own = ParseCidr(host + (host.find(':') != std::string::npos ? "/128" : "/32"))) {
      allowed.push_back(*own);
    }
    DestinationGuard guard(std::move(allowed));
    delivery::HttpClient http(guard, {std::string("consent-relay-demo/") + RELAY_VERSION, ""});
    // Once the server answers (a session is the first thing signed in): the banner, then the
    // stream of changes.
    std::string token;
    for (int i = 0; i < 200 && !stop.load() && token.empty(); ++i) {
      token = SignIn(http, base, key);
      if (token.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (stop.load()) return;
    {
      std::lock_guard<std::mutex> lock(print_mu);
      std::printf(
          "\nConsent Relay demo\n"
          "  console:       %s/console\n"
          "  API key:       %s\n"
          "  secret:        %s\n"
          "  organization:  %s\n"
          "  receiver:      %s (verifies each signature, prints each webhook)\n"
          "  data:          %s (removed on exit)\n"
          "Sign in to the console with the key and secret. Press Ctrl-C to stop.\n\n",
          base.c_str(), key.key.c_str(), key.secret.c_str(), kOrganization, receiver_url.c_str(),
          dir.c_str());
      std::fflush(stdout);
    }
    StreamChanges(http, base, key, token, options.interval_ms, stop, print_mu);
  });

  ServeOptions serve;
  serve.listen = options.listen;
  serve.log_level = "warn";
  serve.banner = false;
  serve.allow_destinations = {"127.0.0.0/8"};
  serve.shutdown_grace_seconds = 2;
  int code = Serve(program, store_options, serve);  // until Ctrl-C (or SIGTERM)
  stop.store(true);
  stream.join();
  (*receiver)->Stop(1);
  std::printf("demo stopped; %s removed\n", dir.c_str());
  return cleanup(code);
}

}  // namespace relay::app
