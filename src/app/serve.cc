// `consent-relay serve`: the wiring of every part in one place, and a bounded stop.
#include "app/serve.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include "api/api.h"
#include "api/http_server.h"
#include "auth/auth_service.h"
#include "common/clock.h"
#include "common/destination_guard.h"
#include "common/keyring.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/random.h"
#include "common/time_format.h"
#include "consent/consent_service.h"
#include "delivery/delivery_counts.h"
#include "delivery/delivery_service.h"
#include "delivery/dispatcher.h"
#include "delivery/retention.h"
#include "delivery/retry_policy.h"
#include "integrations/integration_service.h"

namespace relay::app {
namespace {

// Past both grace periods (requests, then deliveries), how long a stop may still take.
constexpr int kStopWatchdogMarginSeconds = 10;

// Lets the process open as many descriptors as the hard limit allows (connections and the
// dispatcher's sockets).
void RaiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}
// A repeatable CIDR flag's values; an invalid one names the flag and an example.
Result<std::vector<Cidr>> ParseCidrs(const std::vector<std::string>& texts, const char* flag,
                                     const char* example) {
  std::vector<Cidr> out;
  for (const auto& text : texts) {
    auto cidr = ParseCidr(text);
    if (!cidr) {
      return InvalidArgument(std::string(flag) + " must be a CIDR such as " + example + ": " +
                             text);
    }
    out.push_back(*cidr);
  }
  return out;
}

}  // namespace

bool SplitHostPort(const std::string& listen, std::string* host, uint16_t* port) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return false;
  std::string h = listen.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty()) return false;
  std::string p = listen.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  int v = std::stoi(p);
  if (v > 65535) return false;
  *host = h;
  *port = static_cast<uint16_t>(v);
  return true;
}

int Serve(const std::string& program, const StoreOptions& store_options,
          const ServeOptions& options) {
  log::Level level;
  if (!log::ParseLevel(options.log_level, &level)) {
    return Fail("--log-level must be debug, info, warn or error");
  }
  if (options.log_format != "text" && options.log_format != "json") {
    return Fail("--log-format must be text or json");
  }
  log::Configure(level, options.log_format == "json" ? log::Format::kJson : log::Format::kText);
  // Block the stop signals before any thread starts (the dispatcher's store thread starts with
  // it), so every thread inherits the mask: a SIGTERM at any moment waits for the main thread's
  // sigwait below and a graceful stop, instead of killing the process in another thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::string host;
  uint16_t port = 0;
  if (!SplitHostPort(options.listen, &host, &port)) {
    return Fail("--listen must be HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080");
  }
  if (Status s = EnsureDataDir(store_options.data_dir); !s.ok()) return Fail(s.message());
  ::chmod(store_options.data_dir.c_str(), 0700);

  auto allowed = ParseCidrs(options.allow_destinations, "--allow-destination", "127.0.0.0/8");
  if (!allowed.ok()) return Fail(allowed.status().message());
  auto trusted_proxies = ParseCidrs(options.trusted_proxies, "--trusted-proxy", "10.0.0.0/8");
  if (!trusted_proxies.ok()) return Fail(trusted_proxies.status().message());
  auto schedule = delivery::ParseRetrySchedule(options.retry_schedule);
  if (!schedule.ok()) return Fail("--retry-schedule: " + schedule.status().message());
  auto retention = ParseDurationMillis(options.retention);
  if (!retention) return Fail("--retention must be a duration such as 30d or 12h");
  std::optional<int64_t> dead_retention;
  if (!options.dead_retention.empty()) {
    dead_retention = ParseDurationMillis(options.dead_retention);
    if (!dead_retention) return Fail("--dead-retention must be a duration such as 365d");
  }
  auto cooldown = ParseDurationMillis(options.breaker_cooldown);
  if (!cooldown || *cooldown < 100 || *cooldown > 600'000) {
    return Fail("--breaker-cooldown must be a duration from 100ms to 10m, such as 30s");
  }
  auto auto_disable = ParseDurationMillis(options.auto_disable_after);
  if (!auto_disable) return Fail("--auto-disable-after must be a duration such as 5d (0s: never)");
  std::optional<api::OrgRateLimit> org_rate_limit;
  if (!options.org_rate_limit.empty()) {
    auto parsed = api::ParseOrgRateLimit(options.org_rate_limit);
    if (!parsed.ok()) return Fail(parsed.status().message());
    org_rate_limit = *parsed;
  }
  auto lease = ParseDurationMillis(options.lease);
  if (!lease || *lease < 1000) return Fail("--lease must be a duration of at least 1s, such as 2m");
  if (!options.ca_file.empty() && !std::filesystem::exists(options.ca_file)) {
    return Fail("--ca-file " + options.ca_file + " does not exist");
  }

  bool default_key_file = options.master_key_file.empty();
  std::string key_file =
      default_key_file ? store_options.data_dir + "/master.key" : options.master_key_file;
  auto keyring = Keyring::LoadOrCreate(key_file, default_key_file);
  if (!keyring.ok()) return Fail(keyring.status().message());

  auto store = OpenStore(store_options, /*serving=*/true);
  if (!store.ok()) return Fail(store.status().message());
  auto fingerprint = (*store)->PutSettingIfAbsent(kMasterKeySetting, keyring->Fingerprint());
  if (!fingerprint.ok()) return Fail(fingerprint.status().message());
  if (*fingerprint != keyring->Fingerprint()) {
    return Fail("the master key in " + key_file +
                " is not the one this database was created with; start with the original "
                "--master-key-file (secrets sealed under another key cannot be read)");
  }
  const Clock& clock = SystemClock::Instance();
  // The embedded store has one dispatching process: any claim left in it belongs to one that
  // died. (An API-only process leaves claims alone.)
  if (options.dispatch) {
    if (Status s = (*store)->ReleaseAllClaims(clock.NowMillis()); !s.ok()) {
      return Fail(s.message());
    }
  }

  SystemRandom random;
  MetricsRegistry metrics;
  DestinationGuard guard(*allowed);
  auth::AuthService auth(**store, *keyring, clock);
  integrations::StateChanges state_changes(metrics);
  integrations::IntegrationService integrations(**store, *keyring, clock, guard, &state_changes);
  consent::ConsentService consent(**store, clock);
  delivery::DeliveryService deliveries(**store, **store, clock);

  delivery::DispatcherOptions dispatch;
  dispatch.max_in_flight = options.max_in_flight;
  dispatch.max_in_flight_per_integration = options.max_in_flight_per_integration;
  dispatch.retry_schedule = *schedule;
  dispatch.lease_millis = *lease;
  dispatch.health.breaker_failures = options.breaker_failures;
  dispatch.health.breaker_cooldown_ms = *cooldown;
  dispatch.health.auto_disable_after_ms = *auto_disable;
  dispatch.user_agent = std::string("consent-relay/") + RELAY_VERSION;
  dispatch.ca_file = options.ca_file;
  delivery::Dispatcher dispatcher(dispatch, **store, integrations, guard, clock, random, metrics);
  delivery::RetentionOptions retention_options;
  retention_options.retention_millis = *retention;
  retention_options.dead_retention_millis = dead_retention;
  retention_options.idempotency_window_millis = consent::kIdempotencyWindowMillis;
  delivery::RetentionWorker retention_worker(retention_options, **store, clock);

  store::Store& store_ref = **store;
  // Counted at most once a second, however often /metrics is scraped.
  delivery::DeliveryCounts counts([&store_ref] { return store_ref.CountDeliveries(); }, clock,
                                  1000);
  metrics.AddGauge("relay_deliveries_pending",
                   "Deliveries waiting to be sent (refreshed each second)", [&counts] {
                     auto c = counts.Get();
                     return c.ok() ? static_cast<double>(c->pending) : -1.0;
                   });
  metrics.AddGauge("relay_deliveries_dead",
                   "Deliveries in permanent storage (refreshed each second)", [&counts] {
                     auto c = counts.Get();
                     return c.ok() ? static_cast<double>(c->dead) : -1.0;
                   });
  metrics.AddGauge("relay_deliveries_in_flight", "Deliveries being sent by this process",
                   [&dispatcher] { return static_cast<double>(dispatcher.in_flight()); });
  auto health = [&dispatcher, &store_ref, enabled = options.dispatch](boost::json::object& body) {
    body["dispatcher"] = boost::json::object{{"enabled", enabled},
                                             {"running", dispatcher.running()},
                                             {"in_flight", dispatcher.in_flight()}};
    // A store that cannot write makes the node unhealthy: it can acknowledge nothing.
    Status writable = store_ref.CheckWritable();
    boost::json::object store_health{{"writable", writable.ok()}};
    if (!writable.ok()) store_health["error"] = writable.message();
    body["store"] = std::move(store_health);
    return writable.ok() && (!enabled || dispatcher.running());
  };
  std::optional<api::OrgRateLimiter> org_limiter;
  if (org_rate_limit) org_limiter.emplace(*org_rate_limit, clock);
  api::Api api(api::ApiServices{auth, integrations, consent, deliveries, metrics, health,
                                org_limiter ? &*org_limiter : nullptr});

  api::HttpServerOptions http;
  http.host = host;
  http.port = port;
  http.io_threads = options.http_threads;
  http.worker_threads = options.worker_threads;
  http.header_timeout_seconds = options.header_timeout_seconds;
  http.idle_timeout_seconds = options.idle_timeout_seconds;
  http.max_connections = static_cast<size_t>(options.max_connections);
  http.trusted_proxies = std::move(*trusted_proxies);
  RaiseDescriptorLimit();
  if (options.dispatch) dispatcher.Start();
  retention_worker.Start();
  auto server = api::HttpServer::Start(http, [&api, &dispatcher](api::HttpRequest& request) {
    api::HttpResponse response = api.Handle(request);
    // A successful write may have put deliveries in the outbox: claim them without waiting.
    if (request.method != "GET" && response.status < 300) dispatcher.Wake();
    return response;
  });
  if (!server.ok()) return Fail(server.status().message());

  std::string shown_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  const bool shared = IsPostgresUrl(store_options.database);
  std::string where = DescribeStore(store_options);
  if (options.banner) {
    std::printf("consent-relay %s listening on http://%s:%u (data in %s)\n", RELAY_VERSION,
                shown_host.c_str(), (*server)->port(), where.c_str());
    std::printf("create the first API key with: %s keys create %s %s --organization YOUR_ORG_ID\n",
                program.c_str(), shared ? "--database" : "--data-dir",
                shared ? "YOUR_DATABASE_URL" : store_options.data_dir.c_str());
    std::fflush(stdout);
  }
  log::Info("listening", {{"address", shown_host + ":" + std::to_string((*server)->port())}});

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  log::Info("stopping", {{"signal", signal_number == SIGINT ? "SIGINT" : "SIGTERM"}});
  // The stop is bounded whatever the store does: a store call that hangs past the grace periods
  // and a margin ends the process here. Unrecorded outcomes are sent again (at-least-once).
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopped = false;
  std::thread watchdog([&, limit = std::chrono::seconds(2 * options.shutdown_grace_seconds +
                                                        kStopWatchdogMarginSeconds)] {
    std::unique_lock<std::mutex> lock(stop_mu);
    if (stop_cv.wait_for(lock, limit, [&] { return stopped; })) return;
    log::Error("the stop did not finish in time (the store does not answer); exiting now",
               {{"in_flight", std::to_string(dispatcher.in_flight())}});
    std::_Exit(1);
  });
  (*server)->Stop(options.shutdown_grace_seconds);
  server->reset();
  dispatcher.Stop(options.shutdown_grace_seconds);
  retention_worker.Stop();
  {
    std::lock_guard<std::mutex> lock(stop_mu);
    stopped = true;
  }
  stop_cv.notify_all();
  watchdog.join();
  log::Info("stopped");
  return 0;
}
}  // namespace relay::app
