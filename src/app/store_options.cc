// Opening the store the command line names.
#include "app/store_options.h"

#include <cstdio>
#include <filesystem>

#include "store/postgres/pg_store.h"
#include "store/sqlite/sqlite_store.h"

namespace relay::app {

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

Result<std::unique_ptr<store::Store>> OpenStore(const StoreOptions& options, bool serving) {
  std::string url =
      options.database.empty() ? "sqlite:" + options.data_dir + "/relay.db" : options.database;
  if (IsPostgresUrl(url)) {
    auto store = store::PgStore::Open(url, options.db_connections);
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

std::string DescribeStore(const StoreOptions& options) {
  return IsPostgresUrl(options.database) ? store::RedactDatabaseUrl(options.database)
                                         : options.data_dir;
}

}  // namespace relay::app
