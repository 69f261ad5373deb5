// consent-relay: the command line (serve, keys, orgs) and the wiring of every part in one place.
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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
#include "delivery/delivery_service.h"
#include "delivery/dispatcher.h"
#include "delivery/retention.h"
#include "delivery/retry_policy.h"
#include "integrations/features.h"
#include "integrations/integration_service.h"
#include "store/postgres/pg_store.h"
#include "store/sqlite/sqlite_store.h"

namespace relay {
namespace {

namespace json = boost::json;

constexpr char kMasterKeySetting[] = "master_key_fingerprint";
// Past both grace periods (requests, then deliveries), how long a stop may still take.
constexpr int kStopWatchdogMarginSeconds = 10;

struct StoreOptions {
  std::string data_dir = "./data";
  std::string database;  // default sqlite:<data_dir>/relay.db
};

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  std::string master_key_file;  // default <data_dir>/master.key
  std::string log_level = "info";
  std::string log_format = "text";
  int http_threads = 2;
  int worker_threads = 16;
  int shutdown_grace_seconds = 10;
  std::vector<std::string> allow_destinations;  // CIDRs
  std::vector<std::string> trusted_proxies;     // CIDRs whose X-Forwarded-For is believed
  int max_in_flight = 512;
  int max_in_flight_per_integration = 32;
  std::string retry_schedule = "10s,30s,1m,90s,110s";
  std::string ca_file;
  std::string retention = "30d";
  std::string lease = "20s";   // how long a claim holds without its holder's heartbeat
  std::string dead_retention;  // empty: kept until replayed
  bool dispatch = true;        // false: an API-only node that leaves deliveries to others
  int header_timeout_seconds = 10;
  int idle_timeout_seconds = 60;
  int max_connections = 4096;
};

// Lets the process open as many descriptors as the hard limit allows (connections and the
// dispatcher's sockets).
void RaiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "consent-relay: %s\n", message.c_str());
  return 1;
}

Status EnsureDataDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Unavailable("cannot create the data directory " + dir + ": " + ec.message());
  return Status::Ok();
}

bool IsPostgresUrl(const std::string& url) {
  return url.rfind("postgres://", 0) == 0 || url.rfind("postgresql://", 0) == 0;
}

// Opens the store the --database URL names: sqlite:PATH (the default, in the data directory) or
// postgres://user:password@host:port/db (shared by every node).
Result<std::unique_ptr<store::Store>> OpenStore(const StoreOptions& options, bool serving = false) {
  std::string url =
      options.database.empty() ? "sqlite:" + options.data_dir + "/relay.db" : options.database;
  if (IsPostgresUrl(url)) {
    auto store = store::PgStore::Open(url);
    if (!store.ok()) return store.status();
    return std::unique_ptr<store::Store>(std::move(store).value());
  }
  if (url.rfind("sqlite:", 0) != 0) {
    return InvalidArgument("unsupported --database URL '" + store::RedactDatabaseUrl(url) +
                           "' (expected sqlite:PATH or postgres://...)");
  }
  std::string path = url.substr(7);
  if (path.rfind("//", 0) == 0) path = path.substr(2);
  if (path.empty()) return InvalidArgument("the sqlite: URL needs a file path");
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) RELAY_RETURN_IF_ERROR(EnsureDataDir(parent.string()));
  auto store = store::SqliteStore::Open(path, serving);
  if (!store.ok()) return store.status();
  return std::unique_ptr<store::Store>(std::move(store).value());
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

void AddStoreOptions(CLI::App* cmd, StoreOptions* options) {
  cmd->add_option("--data-dir", options->data_dir, "Directory for the embedded store and keys")
      ->envname("CONSENT_RELAY_DATA_DIR")
      ->capture_default_str();
  cmd->add_option("--database", options->database,
                  "Database URL (default sqlite:<data-dir>/relay.db)")
      ->envname("CONSENT_RELAY_DATABASE");
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
  integrations::IntegrationService integrations(**store, *keyring, clock, guard);
  consent::ConsentService consent(**store, clock);
  delivery::DeliveryService deliveries(**store, clock);

  delivery::DispatcherOptions dispatch;
  dispatch.max_in_flight = options.max_in_flight;
  dispatch.max_in_flight_per_integration = options.max_in_flight_per_integration;
  dispatch.retry_schedule = *schedule;
  dispatch.lease_millis = *lease;
  dispatch.user_agent = std::string("consent-relay/") + RELAY_VERSION;
  dispatch.ca_file = options.ca_file;
  delivery::Dispatcher dispatcher(dispatch, **store, integrations, guard, clock, random, metrics);
  delivery::RetentionOptions retention_options;
  retention_options.retention_millis = *retention;
  retention_options.dead_retention_millis = dead_retention;
  retention_options.idempotency_window_millis = consent::kIdempotencyWindowMillis;
  delivery::RetentionWorker retention_worker(retention_options, **store, clock);

  store::Store& store_ref = **store;
  metrics.AddGauge("relay_deliveries_pending", "Deliveries waiting to be sent", [&store_ref] {
    auto c = store_ref.CountDeliveries();
    return c.ok() ? static_cast<double>(c->pending) : -1.0;
  });
  metrics.AddGauge("relay_deliveries_dead", "Deliveries in permanent storage", [&store_ref] {
    auto c = store_ref.CountDeliveries();
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
  api::Api api(api::ApiServices{auth, integrations, consent, deliveries, metrics, health});

  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

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
  std::string where =
      shared ? store::RedactDatabaseUrl(store_options.database) : store_options.data_dir;
  std::printf("consent-relay %s listening on http://%s:%u (data in %s)\n", RELAY_VERSION,
              shown_host.c_str(), (*server)->port(), where.c_str());
  std::printf("create the first API key with: %s keys create %s %s --organization YOUR_ORG_ID\n",
              program.c_str(), shared ? "--database" : "--data-dir",
              shared ? "YOUR_DATABASE_URL" : store_options.data_dir.c_str());
  std::fflush(stdout);
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

int Main(int argc, char** argv) {
  CLI::App app{"consent-relay: a self-hosted, Didomi-compatible consent-event webhook service"};
  app.set_version_flag("--version", RELAY_VERSION);
  app.require_subcommand(1);

  // Each subcommand binds its own store options: CLI11 applies an option's environment variable
  // when that option was not given, also for subcommands that did not run, so one shared variable
  // let CONSENT_RELAY_DATABASE overwrite the --database of the command that did run.
  std::map<const CLI::App*, StoreOptions> store_options;
  ServeOptions serve_options;
  auto* serve = app.add_subcommand("serve", "Serve the HTTP API");
  AddStoreOptions(serve, &store_options[serve]);
  serve->add_option("--listen", serve_options.listen, "HOST:PORT to listen on")
      ->envname("CONSENT_RELAY_LISTEN")
      ->capture_default_str();
  serve
      ->add_option("--master-key-file", serve_options.master_key_file,
                   "Master key file (default <data-dir>/master.key, created on first start)")
      ->envname("CONSENT_RELAY_MASTER_KEY_FILE");
  serve->add_option("--log-level", serve_options.log_level, "debug, info, warn or error")
      ->envname("CONSENT_RELAY_LOG_LEVEL")
      ->capture_default_str();
  serve->add_option("--log-format", serve_options.log_format, "text or json")
      ->envname("CONSENT_RELAY_LOG_FORMAT")
      ->capture_default_str();
  serve->add_option("--http-threads", serve_options.http_threads, "Threads for HTTP I/O")
      ->envname("CONSENT_RELAY_HTTP_THREADS")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  serve
      ->add_option("--worker-threads", serve_options.worker_threads,
                   "Threads running request handlers")
      ->envname("CONSENT_RELAY_WORKER_THREADS")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  serve
      ->add_option("--allow-destination", serve_options.allow_destinations,
                   "CIDR that deliveries may reach although internal (repeatable)")
      ->envname("CONSENT_RELAY_ALLOW_DESTINATION")
      ->delimiter(',');
  serve
      ->add_option("--trusted-proxy", serve_options.trusted_proxies,
                   "CIDR of load balancers whose X-Forwarded-For names the client (repeatable); "
                   "without it the header is ignored")
      ->envname("CONSENT_RELAY_TRUSTED_PROXY")
      ->delimiter(',');
  serve
      ->add_option("--max-in-flight", serve_options.max_in_flight,
                   "Deliveries sent at once, overall")
      ->envname("CONSENT_RELAY_MAX_IN_FLIGHT")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  serve
      ->add_option("--max-in-flight-per-integration", serve_options.max_in_flight_per_integration,
                   "Deliveries sent at once to one integration")
      ->envname("CONSENT_RELAY_MAX_IN_FLIGHT_PER_INTEGRATION")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  serve
      ->add_option("--retry-schedule", serve_options.retry_schedule,
                   "Delays between attempts (each grows by up to 10 % jitter)")
      ->envname("CONSENT_RELAY_RETRY_SCHEDULE")
      ->capture_default_str();
  serve
      ->add_option("--ca-file", serve_options.ca_file,
                   "PEM bundle of CAs to trust for endpoints (default: the system's)")
      ->envname("CONSENT_RELAY_CA_FILE");
  serve
      ->add_option("--lease", serve_options.lease,
                   "How long a claimed delivery stays with this node without a heartbeat (renewed "
                   "every quarter lease while held): a node that died leaves its deliveries this "
                   "long")
      ->envname("CONSENT_RELAY_LEASE")
      ->capture_default_str();
  serve
      ->add_option("--retention", serve_options.retention,
                   "How long succeeded and cancelled deliveries are kept")
      ->envname("CONSENT_RELAY_RETENTION")
      ->capture_default_str();
  serve
      ->add_option("--dead-retention", serve_options.dead_retention,
                   "How long dead deliveries are kept (default: until replayed)")
      ->envname("CONSENT_RELAY_DEAD_RETENTION");
  serve
      ->add_option("--header-timeout", serve_options.header_timeout_seconds,
                   "Seconds a request head may take from its first byte (slow clients are cut)")
      ->envname("CONSENT_RELAY_HEADER_TIMEOUT")
      ->check(CLI::Range(1, 600))
      ->capture_default_str();
  serve
      ->add_option("--idle-timeout", serve_options.idle_timeout_seconds,
                   "Seconds a kept-alive connection may wait for its next request")
      ->envname("CONSENT_RELAY_IDLE_TIMEOUT")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  serve
      ->add_option("--max-connections", serve_options.max_connections,
                   "Open connections at most (past it the longest-idle one is closed)")
      ->envname("CONSENT_RELAY_MAX_CONNECTIONS")
      ->check(CLI::Range(8, 1000000))
      ->capture_default_str();
  serve
      ->add_flag("!--no-dispatch", serve_options.dispatch,
                 "Serve the API only and leave deliveries to other processes")
      ->envname("CONSENT_RELAY_NO_DISPATCH");
  serve
      ->add_option("--shutdown-grace", serve_options.shutdown_grace_seconds,
                   "Seconds in-flight requests and deliveries get to finish on SIGTERM")
      ->envname("CONSENT_RELAY_SHUTDOWN_GRACE")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();

  auto* keys = app.add_subcommand("keys", "Manage API keys")->require_subcommand(1);
  std::vector<std::string> key_orgs;
  std::string key_name;
  std::string key_id;
  auto* keys_create = keys->add_subcommand("create", "Create an API key (prints key and secret)");
  AddStoreOptions(keys_create, &store_options[keys_create]);
  keys_create->add_option("--organization", key_orgs, "Organization the key may act for")
      ->required();
  keys_create->add_option("--name", key_name, "A name to recognize the key by");
  auto* keys_list = keys->add_subcommand("list", "List API keys (never their secrets)");
  AddStoreOptions(keys_list, &store_options[keys_list]);
  auto* keys_revoke = keys->add_subcommand("revoke", "Revoke an API key and its sessions");
  AddStoreOptions(keys_revoke, &store_options[keys_revoke]);
  keys_revoke->add_option("key", key_id, "The key id")->required();

  auto* orgs = app.add_subcommand("orgs", "Manage organizations' features")->require_subcommand(1);
  std::string org_id;
  std::vector<std::string> features;
  auto* orgs_enable = orgs->add_subcommand("enable", "Enable features for an organization");
  auto* orgs_disable = orgs->add_subcommand("disable", "Disable features for an organization");
  for (auto* cmd : {orgs_enable, orgs_disable}) {
    AddStoreOptions(cmd, &store_options[cmd]);
    cmd->add_option("organization", org_id, "Organization id")->required();
    cmd->add_option("--feature", features, "webhooks or multi-regulation")->required();
  }
  auto* orgs_list = orgs->add_subcommand("list", "List organizations and their features");
  AddStoreOptions(orgs_list, &store_options[orgs_list]);

  CLI11_PARSE(app, argc, argv);

  if (*serve) return Serve(argv[0], store_options[serve], serve_options);
  if (*keys_create) return KeysCreate(store_options[keys_create], key_orgs, key_name);
  if (*keys_list) return KeysList(store_options[keys_list]);
  if (*keys_revoke) return KeysRevoke(store_options[keys_revoke], key_id);
  if (*orgs_enable) return OrgsSetFeatures(store_options[orgs_enable], org_id, features, true);
  if (*orgs_disable) return OrgsSetFeatures(store_options[orgs_disable], org_id, features, false);
  if (*orgs_list) return OrgsList(store_options[orgs_list]);
  return 1;
}

}  // namespace
}  // namespace relay

int main(int argc, char** argv) {
  // glibc gives freed memory back to the kernel as soon as an arena's free top passes a threshold
  // that adapts to each large block. Every thread's arena then shrinks and grows again many times a
  // second under load, and each shrink is an madvise with a TLB flush on every core: it cost the
  // dispatcher 40% of its time in `make bench`. A fixed 64 MiB trim threshold keeps freed memory
  // for reuse; peak RSS is still what the process actually used.
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  return relay::Main(argc, argv);
}
