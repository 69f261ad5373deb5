// consent-relay: the command line. `serve` is in serve.cc, the administration commands in admin.cc.
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <map>
#include <string>
#include <vector>

#include "app/admin.h"
#include "app/demo.h"
#include "app/operator.h"
#include "app/serve.h"
#include "app/store_options.h"

namespace relay::app {
namespace {

void AddStoreOptions(CLI::App* cmd, StoreOptions* options) {
  cmd->add_option("--data-dir", options->data_dir, "Directory for the embedded store and keys")
      ->envname("CONSENT_RELAY_DATA_DIR")
      ->capture_default_str();
  cmd->add_option("--database", options->database,
                  "Database URL (default sqlite:<data-dir>/relay.db)")
      ->envname("CONSENT_RELAY_DATABASE");
  cmd->add_option("--db-connections", options->db_connections,
                  "PostgreSQL: connections per node for requests (the dispatcher has 2 more)")
      ->envname("CONSENT_RELAY_DB_CONNECTIONS")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
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
      ->add_option("--breaker-failures", serve_options.breaker_failures,
                   "Consecutive failed attempts that open an integration's circuit breaker (0: "
                   "never): while open, nothing is sent to it and its deliveries wait")
      ->envname("CONSENT_RELAY_BREAKER_FAILURES")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  serve
      ->add_option("--breaker-cooldown", serve_options.breaker_cooldown,
                   "How long an open breaker waits before one probe (doubling after each failed "
                   "probe, up to 10 min)")
      ->envname("CONSENT_RELAY_BREAKER_COOLDOWN")
      ->capture_default_str();
  serve
      ->add_option("--auto-disable-after", serve_options.auto_disable_after,
                   "Disable an integration whose attempts only failed for this long (0s: never)")
      ->envname("CONSENT_RELAY_AUTO_DISABLE_AFTER")
      ->capture_default_str();
  serve
      ->add_option("--org-rate-limit", serve_options.org_rate_limit,
                   "Requests per organization per window on every /v1 route but /v1/consents/* "
                   "and /v1/sessions, e.g. 100/15s as Didomi (default: none)")
      ->envname("CONSENT_RELAY_ORG_RATE_LIMIT");
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

  auto* deliveries =
      app.add_subcommand("deliveries", "See, retry and replay deliveries")->require_subcommand(1);
  DeliveryQuery query;
  std::string delivery_id;
  auto* deliveries_list =
      deliveries->add_subcommand("list", "Print an integration's deliveries as JSON lines");
  auto* deliveries_replay = deliveries->add_subcommand(
      "replay",
      "Re-queue an integration's dead (or succeeded) deliveries; prints {\"requeued\": N}");
  for (auto* cmd : {deliveries_list, deliveries_replay}) {
    AddStoreOptions(cmd, &store_options[cmd]);
    cmd->add_option("--organization", query.organization, "Organization id")->required();
    cmd->add_option("--integration", query.integration, "Integration id")->required();
    cmd->add_option("--since", query.since, "Created at or after (ISO 8601)");
    cmd->add_option("--until", query.until, "Created before (ISO 8601)");
  }
  deliveries_list->add_option("--status", query.status,
                              "pending, in_flight, succeeded, dead or cancelled");
  deliveries_replay->add_option("--status", query.status, "dead or succeeded")
      ->check(CLI::IsMember({"dead", "succeeded"}))
      ->required();
  auto* deliveries_retry =
      deliveries->add_subcommand("retry", "Re-queue one delivery now, with a fresh schedule");
  AddStoreOptions(deliveries_retry, &store_options[deliveries_retry]);
  deliveries_retry->add_option("id", delivery_id, "The delivery id (dlv_...)")->required();

  DoctorOptions doctor_options;
  auto* doctor = app.add_subcommand(
      "doctor",
      "Check the store, master key, disk, clock and listen address; exit 0 when all is well");
  AddStoreOptions(doctor, &store_options[doctor]);
  doctor
      ->add_option("--master-key-file", doctor_options.master_key_file,
                   "Master key file (default <data-dir>/master.key)")
      ->envname("CONSENT_RELAY_MASTER_KEY_FILE");
  doctor->add_option("--listen", doctor_options.listen, "HOST:PORT serve would listen on")
      ->envname("CONSENT_RELAY_LISTEN")
      ->capture_default_str();
  doctor
      ->add_option("--min-free-mib", doctor_options.min_free_mib,
                   "Free space (MiB) the data directory needs")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40))
      ->capture_default_str();

  DemoOptions demo_options;
  auto* demo = app.add_subcommand(
      "demo",
      "A first look: a temporary server, a receiver that verifies and prints webhooks, an "
      "integration, synthetic consent changes, and the console's URL with a key; Ctrl-C ends it");
  demo->add_option("--listen", demo_options.listen, "HOST:PORT for the server and console")
      ->capture_default_str();
  demo->add_option("--interval-ms", demo_options.interval_ms,
                   "Milliseconds between two synthetic consent changes")
      ->check(CLI::Range(50, 600000))
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);

  if (*serve) return Serve(argv[0], store_options[serve], serve_options);
  if (*keys_create) return KeysCreate(store_options[keys_create], key_orgs, key_name);
  if (*keys_list) return KeysList(store_options[keys_list]);
  if (*keys_revoke) return KeysRevoke(store_options[keys_revoke], key_id);
  if (*orgs_enable) return OrgsSetFeatures(store_options[orgs_enable], org_id, features, true);
  if (*orgs_disable) return OrgsSetFeatures(store_options[orgs_disable], org_id, features, false);
  if (*orgs_list) return OrgsList(store_options[orgs_list]);
  if (*deliveries_list) return DeliveriesList(store_options[deliveries_list], query);
  if (*deliveries_retry) return DeliveriesRetry(store_options[deliveries_retry], delivery_id);
  if (*deliveries_replay) return DeliveriesReplay(store_options[deliveries_replay], query);
  if (*doctor) return Doctor(store_options[doctor], doctor_options);
  if (*demo) return Demo(argv[0], demo_options);
  return 1;
}
}  // namespace
}  // namespace relay::app

int main(int argc, char** argv) {
  // glibc gives freed memory back to the kernel as soon as an arena's free top passes a threshold
  // that adapts to each large block. Every thread's arena then shrinks and grows again many times a
  // second under load, and each shrink is an madvise with a TLB flush on every core: it cost the
  // dispatcher 40% of its time in `make bench`. A fixed 64 MiB trim threshold keeps freed memory
  // for reuse; peak RSS is still what the process actually used.
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  return relay::app::Main(argc, argv);
}
