// What every command shares: where the store is, how to open it, and how a command fails.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "store/store.h"

namespace relay::app {

struct StoreOptions {
  std::string data_dir = "./data";
  std::string database;  // default sqlite:<data_dir>/relay.db
  // PostgreSQL: connections per node shared by requests (the dispatcher has two of its own).
  // Few, by measurement: on a database that shares its cores, more concurrent transactions only
  // queue inside the server, and starve the dispatcher (bench/README.md).
  int db_connections = 4;
};

// The setting that records the master key's fingerprint (serve refuses another key; doctor
// checks it).
inline constexpr char kMasterKeySetting[] = "master_key_fingerprint";

// Prints "consent-relay: MESSAGE" on stderr; returns the exit code 1.
int Fail(const std::string& message);

// Creates the directory (and its parents) when missing.
Status EnsureDataDir(const std::string& dir);

// Whether the --database URL names PostgreSQL (shared by every node).
bool IsPostgresUrl(const std::string& url);

// Where the data lives, for people: the data directory, or the database URL without its password.
std::string DescribeStore(const StoreOptions& options);

// Opens the store the --database URL names: sqlite:PATH (the default, in the data directory) or
// postgres://user:password@host:port/db. `serving`: the SQLite file is locked for this process.
Result<std::unique_ptr<store::Store>> OpenStore(const StoreOptions& options, bool serving = false);

}  // namespace relay::app
