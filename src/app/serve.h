// `consent-relay serve`: every part wired together, serving until SIGTERM or SIGINT.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "app/store_options.h"

namespace relay::app {

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
  int breaker_failures = 10;             // 0: no breaker
  std::string breaker_cooldown = "30s";  // doubling after each failed probe, up to 10 min
  std::string auto_disable_after = "5d";
  std::string org_rate_limit;  // "N/WINDOW"; empty: none  // 0s: never
  std::string ca_file;
  std::string retention = "30d";
  std::string lease = "20s";   // how long a claim holds without its holder's heartbeat
  std::string dead_retention;  // empty: kept until replayed
  bool dispatch = true;        // false: an API-only node that leaves deliveries to others
  int header_timeout_seconds = 10;
  int idle_timeout_seconds = 60;
  int max_connections = 4096;
  bool banner = true;  // print where it listens and how to create a key (demo prints its own)
};

// "HOST:PORT" or "[V6]:PORT"; false when malformed.
bool SplitHostPort(const std::string& listen, std::string* host, uint16_t* port);

// Runs the server; returns the process's exit code.
int Serve(const std::string& program, const StoreOptions& store_options,
          const ServeOptions& options);

}  // namespace relay::app
