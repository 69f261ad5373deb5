// The operator's commands.
#include "app/operator.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "app/serve.h"
#include "common/clock.h"
#include "common/keyring.h"
#include "common/time_format.h"
#include "delivery/delivery_service.h"

namespace relay::app {
namespace json = boost::json;

namespace {

// The query's status and time window; false (having printed why) when one is malformed.
bool ParseQuery(const DeliveryQuery& q, std::optional<store::DeliveryStatus>* status,
                std::optional<int64_t>* since, std::optional<int64_t>* until) {
  if (!q.status.empty()) {
    *status = store::ParseDeliveryStatus(q.status);
    if (!*status) {
      Fail("--status must be pending, in_flight, succeeded, dead or cancelled");
      return false;
    }
  }
  for (auto [text, out, name] :
       {std::tuple{&q.since, since, "--since"}, std::tuple{&q.until, until, "--until"}}) {
    if (text->empty()) continue;
    *out = ParseTimestamp(*text);
    if (!*out) {
      Fail(std::string(name) + " must be an ISO 8601 date-time, such as 2026-11-30T12:00:00Z");
      return false;
    }
  }
  return true;
}

// "\r[#########-----------] 450/1000" on a terminal; nothing otherwise.
class ProgressBar {
 public:
  explicit ProgressBar(int64_t total) : total_(total), shown_(isatty(STDERR_FILENO) == 1) {}
  void Show(int64_t done) {
    if (!shown_) return;
    constexpr int kWidth = 30;
    int filled =
        total_ > 0 ? static_cast<int>(std::min<int64_t>(done, total_) * kWidth / total_) : kWidth;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(kWidth - filled), '-');
    std::fprintf(stderr, "\rre-queueing [%s] %lld/%lld", bar.c_str(), static_cast<long long>(done),
                 static_cast<long long>(total_));
    std::fflush(stderr);
  }
  void Done() {
    if (shown_) std::fprintf(stderr, "\n");
  }

 private:
  int64_t total_;
  bool shown_;
};

}  // namespace

int DeliveriesList(const StoreOptions& store_options, const DeliveryQuery& q) {
  store::DeliveryFilter filter;
  filter.integration_id = q.integration;
  if (!ParseQuery(q, &filter.status, &filter.since, &filter.until)) return 1;
  auto store = OpenStore(store_options);
  if (!store.ok()) return Fail(store.status().message());
  delivery::DeliveryService deliveries(**store, **store, SystemClock::Instance());
  // Newest first, a keyset page at a time: each costs its rows, however deep the listing.
  store::PageRequest page;
  page.limit = 500;
  page.keyset = true;
  while (true) {
    auto result = deliveries.List(q.organization, filter, page);
    if (!result.ok()) return Fail(result.status().message());
    for (const auto& d : result->items) {
      std::cout << json::serialize(delivery::DeliveryToJson(d)) << "\n";
    }
    if (!result->more || result->items.empty()) break;
    page.after = result->items.back().id;
  }
  return 0;
}

int DeliveriesRetry(const StoreOptions& store_options, const std::string& id) {
  auto store = OpenStore(store_options);
  if (!store.ok()) return Fail(store.status().message());
  auto scope = (*store)->LocateDelivery(id);
  if (!scope.ok()) return Fail(scope.status().message());
  if (!*scope) return Fail("delivery not found: " + id);
  delivery::DeliveryService deliveries(**store, **store, SystemClock::Instance());
  auto row = deliveries.Retry((*scope)->organization_id, (*scope)->integration_id, id);
  if (!row.ok()) return Fail(row.status().message());
  std::cout << json::serialize(delivery::DeliveryToJson(*row)) << "\n";
  return 0;
}

int DeliveriesReplay(const StoreOptions& store_options, const DeliveryQuery& q) {
  store::DeliveryFilter count_filter;
  count_filter.integration_id = q.integration;
  if (!ParseQuery(q, &count_filter.status, &count_filter.since, &count_filter.until)) return 1;
  store::ReplayFilter filter;
  filter.status = count_filter.status.value_or(store::DeliveryStatus::kDead);
  count_filter.status = filter.status;
  filter.since = count_filter.since;
  filter.until = count_filter.until;
  auto store = OpenStore(store_options);
  if (!store.ok()) return Fail(store.status().message());
  delivery::DeliveryService deliveries(**store, **store, SystemClock::Instance());
  // How many match now: the bar's end (what arrives meanwhile may take it past).
  store::PageRequest one;
  one.limit = 1;
  auto matching = deliveries.List(q.organization, count_filter, one);
  if (!matching.ok()) return Fail(matching.status().message());
  ProgressBar bar(matching->total);
  bar.Show(0);
  filter.on_batch = [&bar](int64_t done) { bar.Show(done); };
  auto requeued = deliveries.Replay(q.organization, q.integration, filter);
  bar.Done();
  if (!requeued.ok()) return Fail(requeued.status().message());
  std::cout << json::serialize(json::object{{"requeued", *requeued}}) << "\n";
  return 0;
}

namespace {

// One line per check; remembers whether any failed.
class Checks {
 public:
  void Ok(const std::string& what, const std::string& detail) { Line("ok  ", what, detail); }
  void Warn(const std::string& what, const std::string& detail) { Line("warn", what, detail); }
  void Failed(const std::string& what, const std::string& detail) {
    failed_ = true;
    Line("FAIL", what, detail);
  }
  bool failed() const { return failed_; }

 private:
  static void Line(const char* mark, const std::string& what, const std::string& detail) {
    std::printf("%s  %-12s %s\n", mark, what.c_str(), detail.c_str());
  }
  bool failed_ = false;
};

std::string Bytes(uint64_t n) {
  char out[32];
  if (n >= (1ULL << 30)) {
    std::snprintf(out, sizeof out, "%.1f GiB", static_cast<double>(n) / (1ULL << 30));
  } else {
    std::snprintf(out, sizeof out, "%.1f MiB", static_cast<double>(n) / (1ULL << 20));
  }
  return out;
}

// Binds the address as the server would (and lets go at once): whether `serve` could listen.
std::string ListenProblem(const std::string& address) {
  std::string host;
  uint16_t port = 0;
  if (!SplitHostPort(address, &host, &port)) return "not HOST:PORT";
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = AF_INET;
  if (auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
      inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
  } else if (auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
             inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
    family = AF_INET6;
  } else {
    return "the host must be an IP address";
  }
  int fd = socket(family, SOCK_STREAM, 0);
  if (fd < 0) return std::strerror(errno);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  std::string problem;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd, 1) != 0) {
    problem = errno == EADDRINUSE ? "in use (is a server already running there?)"
                                  : std::string(std::strerror(errno));
  }
  close(fd);
  return problem;
}

}  // namespace

int Doctor(const StoreOptions& store_options, const DoctorOptions& options) {
  Checks checks;
  const int64_t now = SystemClock::Instance().NowMillis();
  const bool postgres = IsPostgresUrl(store_options.database);

  // The clock: plausible, and not behind the embedded store's last write (read before this
  // command writes to it).
  if (now < ParseTimestamp("2024-01-01T00:00:00Z") ||
      now > ParseTimestamp("2100-01-01T00:00:00Z")) {
    checks.Failed("clock", "this machine's clock says " + FormatTimestamp(now));
  } else if (!postgres) {
    struct stat db_file {};
    std::string path = store_options.data_dir + "/relay.db";
    int64_t written_ms =
        stat(path.c_str(), &db_file) == 0
            ? int64_t{db_file.st_mtim.tv_sec} * 1000 + db_file.st_mtim.tv_nsec / 1'000'000
            : 0;
    if (written_ms > now + 60'000) {
      checks.Failed("clock", "the store was written at " + FormatTimestamp(written_ms) +
                                 ", after this machine's now (" + FormatTimestamp(now) + ")");
    } else {
      checks.Ok("clock", FormatTimestamp(now));
    }
  }

  // The store: reachable (it opens), its schema, writable (a small write).
  auto store = OpenStore(store_options);
  if (!store.ok()) {
    checks.Failed("store", DescribeStore(store_options) + ": " + store.status().message());
  } else {
    auto facts = (*store)->Facts();
    if (!facts.ok()) {
      checks.Failed("store", facts.status().message());
    } else {
      checks.Ok("store", DescribeStore(store_options) + " reachable");
      std::string versions = "version " + std::to_string(facts->schema_version) +
                             " (this build's: " + std::to_string(facts->supported_schema_version) +
                             ")";
      if (facts->schema_version == facts->supported_schema_version) {
        checks.Ok("schema", versions);
      } else {
        checks.Failed("schema", versions);
      }
      if (Status s = (*store)->CheckWritable(); s.ok()) {
        checks.Ok("writable", "a test write committed");
      } else {
        checks.Failed("writable", s.message());
      }
      if (facts->server_clock_millis) {
        int64_t skew = *facts->server_clock_millis - now;
        std::string detail =
            "the database server's clock is " + std::to_string(skew) + " ms from this machine's";
        if (std::llabs(skew) > 5000) {
          checks.Failed("clock", detail + " (leases and retries need them within 5 s)");
        } else {
          checks.Ok("clock", detail);
        }
      }
    }
  }

  // The master key: the one the database was created with.
  bool default_key_file = options.master_key_file.empty();
  std::string key_file =
      default_key_file ? store_options.data_dir + "/master.key" : options.master_key_file;
  if (store.ok()) {
    auto recorded = (*store)->GetSetting(kMasterKeySetting);
    if (!std::filesystem::exists(key_file)) {
      if (recorded.ok() && !*recorded && default_key_file) {
        checks.Ok("master key", "none yet: serve creates " + key_file);
      } else {
        checks.Failed("master key", key_file + " does not exist");
      }
    } else if (auto keyring = Keyring::LoadOrCreate(key_file, false); !keyring.ok()) {
      checks.Failed("master key", keyring.status().message());
    } else if (!recorded.ok()) {
      checks.Failed("master key", recorded.status().message());
    } else if (!*recorded) {
      checks.Ok("master key", key_file + " (the database has none recorded yet)");
    } else if (**recorded != keyring->Fingerprint()) {
      checks.Failed("master key", key_file + " is not the key this database was created with");
    } else {
      checks.Ok("master key", key_file + " matches the database");
    }
  }

  // Free space where the data lives (the SQLite file, the key).
  std::filesystem::path dir = store_options.data_dir;
  if (!std::filesystem::exists(dir)) dir = dir.parent_path().empty() ? "." : dir.parent_path();
  struct statvfs fs {};
  if (statvfs(dir.c_str(), &fs) != 0) {
    checks.Failed("disk", dir.string() + ": " + std::strerror(errno));
  } else {
    uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
    std::string detail = Bytes(free_bytes) + " free in " + dir.string();
    if (free_bytes < static_cast<uint64_t>(options.min_free_mib) << 20) {
      (postgres ? checks.Warn("disk", detail + " (low)")
                : checks.Failed("disk", detail + " (low)"));
    } else {
      checks.Ok("disk", detail);
    }
  }

  std::string problem = ListenProblem(options.listen);
  if (problem.empty()) {
    checks.Ok("listen", options.listen + " is free");
  } else {
    checks.Failed("listen", options.listen + ": " + problem);
  }
  std::printf(checks.failed() ? "some checks failed\n" : "all is well\n");
  return checks.failed() ? 1 : 0;
}

}  // namespace relay::app
