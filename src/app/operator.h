// The operator's commands: deliveries (list, retry, replay) and doctor. Like `keys` and `orgs`,
// they work on the same database as a running server, on either store; their answers are JSON
// lines on stdout (doctor's are lines for people), and they return the process's exit code.
#pragma once

#include <cstdint>
#include <string>

#include "app/store_options.h"

namespace relay::app {

struct DeliveryQuery {
  std::string organization;
  std::string integration;
  std::string status;  // list: any status when empty; replay: dead (default) or succeeded
  std::string since;   // ISO 8601, on the delivery's creation time
  std::string until;
};

int DeliveriesList(const StoreOptions& store_options, const DeliveryQuery& query);
int DeliveriesRetry(const StoreOptions& store_options, const std::string& id);
// Re-queues the matching deliveries; a terminal on stderr sees a progress bar. The running
// server sends them.
int DeliveriesReplay(const StoreOptions& store_options, const DeliveryQuery& query);

struct DoctorOptions {
  std::string master_key_file;  // default <data_dir>/master.key
  std::string listen = "127.0.0.1:8080";
  int64_t min_free_mib = 1024;  // less free space where the data lives fails the check
};
// Checks the store (reachable, writable, schema version), the master key, free disk space, the
// clock and the listen address. Prints one line per check ("ok", "warn" or "FAIL"); returns 0
// when none failed.
int Doctor(const StoreOptions& store_options, const DoctorOptions& options);

}  // namespace relay::app
