// Faults of the machine: unsynced writes, a full disk and a damaged database file.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "e2e/delivery_fixture.h"
#include "support/test_receiver.h"

namespace relay::testing {
namespace {
namespace json = boost::json;

class FaultsTest : public DeliveryFixture {};

// The environment that loads support/io_shim.c into the server: it watches the data directory,
// logs each response with the WAL's sync state to `log`, and fails file writes with ENOSPC while
// `full_flag` exists.
std::vector<std::string> ShimEnv(const std::string& data_dir, const std::string& log,
                                 const std::string& full_flag) {
  const char* asan = std::getenv("ASAN_OPTIONS");
  // Under AddressSanitizer the shim comes after the runtime (which intercepts first, then calls
  // the shim as the "real" function): tell it that this order is intended.
  std::string asan_options = "ASAN_OPTIONS=";
  if (asan) {
    asan_options += asan;
    asan_options += ":";
  }
  asan_options += "verify_asan_link_order=0";
  return {std::string("LD_PRELOAD=") + RELAY_IO_SHIM_PATH, "RELAY_SHIM_DIR=" + data_dir,
          "RELAY_SHIM_LOG=" + log, "RELAY_SHIM_FULL_FLAG=" + full_flag, asan_options};
}

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// An acknowledged event is on disk before its answer leaves: the SIGKILL tests cannot see that
// (the page cache survives a killed process), so the shim watches the order itself. With
// synchronous=NORMAL or OFF, WAL writes are not synced at commit and this fails.
TEST_F(FaultsTest, EveryAcknowledgedWriteIsSyncedBeforeItsAnswerLeaves) {
  if (UsingPostgres()) GTEST_SKIP() << "the embedded store's own files";
  const std::string log = dir_.path() + "/shim.log";
  StartRelay({"--no-dispatch"}, ShimEnv(DataDir(), log, dir_.path() + "/no-such-flag"));
  std::filesystem::remove(log);
  constexpr int kEvents = 30;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_EQ(Call("POST", Path("/v1/consents/events"), token_,
                   R"({"user":{"organization_user_id":"u"},"consents":{}})")
                  .status,
              201);
  }
  std::vector<std::string> acknowledged;
  for (const auto& line : Lines(log)) {
    if (line.rfind("response 201 ", 0) == 0) acknowledged.push_back(line);
  }
  // Every answer was seen (so the shim is in the response path, not silently absent)...
  ASSERT_EQ(acknowledged.size(), static_cast<size_t>(kEvents));
  long last_syncs = -1;
  for (const auto& line : acknowledged) {
    // ...none left while a WAL write was unsynced, and each followed a sync of its own.
    EXPECT_NE(line.find("unsynced=0"), std::string::npos) << line;
    long syncs = std::stol(line.substr(line.find("syncs=") + 6));
    EXPECT_GT(syncs, last_syncs) << line;
    last_syncs = syncs;
  }
}

// With the dispatcher running, every 201 still leaves after its own sync, while the dispatcher's
// bookkeeping (claims, outcomes, lease renewals) commits without one: a power loss can forget its
// newest commits, which only sends those deliveries again. Each event here is delivered before
// the next is posted, so each brings at least one claim-and-record round trip of its own; with
// those synced, the WAL would see two syncs or more per event.
TEST_F(FaultsTest, AcknowledgedWritesAreSyncedAndTheDispatchersBookkeepingIsNot) {
  if (UsingPostgres()) GTEST_SKIP() << "the embedded store's own files";
  const std::string log = dir_.path() + "/shim.log";
  StartRelay({}, ShimEnv(DataDir(), log, dir_.path() + "/no-such-flag"));
  TestReceiver receiver;
  CreateIntegration(receiver.Url(), R"("events":["event.created"])");
  // The WAL syncs so far, as the shim logs them with the answer to a plain GET.
  auto syncs_now = [&]() -> long {
    EXPECT_EQ(HttpRequest("GET", Url("/metrics")).status, 200);
    std::string last;
    for (const auto& line : Lines(log)) {
      if (line.rfind("response 200 ", 0) == 0) last = line;
    }
    return last.empty() ? -1 : std::stol(last.substr(last.find("syncs=") + 6));
  };
  std::filesystem::remove(log);
  const long before = syncs_now();
  ASSERT_GE(before, 0);
  const auto start = std::chrono::steady_clock::now();
  constexpr int kEvents = 20;
  for (int i = 0; i < kEvents; ++i) {
    PostEvent("u-" + std::to_string(i));
    ASSERT_TRUE(WaitUntil([&] { return receiver.Count() == static_cast<size_t>(i + 1); },
                          std::chrono::seconds(10)));
  }
  const long after = syncs_now();
  const long elapsed_s =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
          .count() +
      1;
  // Each 201 followed a sync of its own. (The shim's unsynced flag is process-wide: a claim the
  // dispatcher commits while the answer is on its way shows there, so it is not checked here;
  // EveryAcknowledgedWriteIsSyncedBeforeItsAnswerLeaves checks it without the dispatcher.)
  long last_syncs = -1;
  int answered = 0;
  for (const auto& line : Lines(log)) {
    if (line.rfind("response 201 ", 0) != 0) continue;
    ++answered;
    long syncs = std::stol(line.substr(line.find("syncs=") + 6));
    EXPECT_GT(syncs, last_syncs) << line;
    last_syncs = syncs;
  }
  EXPECT_EQ(answered, kEvents);
  // One sync per event at least; beyond that only the once-a-second write probe and slack.
  EXPECT_GE(after - before, kEvents);
  EXPECT_LE(after - before, kEvents + 2 + 2 * elapsed_s)
      << "the dispatcher's round trips waited for fsync";
}

// Concurrent writers (so group commit's batches meet the failure) on a disk that fills up and
// frees again, unprivileged: the shim fails every write to the data directory with ENOSPC while
// its flag file exists.
TEST_F(FaultsTest, AFullDiskAnswers503LosesNothingAndRecovers) {
  if (UsingPostgres()) GTEST_SKIP() << "faults of the embedded store's own files";
  const std::string full_flag = dir_.path() + "/disk-full";
  StartRelay({"--no-dispatch"}, ShimEnv(DataDir(), dir_.path() + "/shim.log", full_flag));

  std::mutex mu;
  std::vector<std::string> acknowledged, refused, other;
  std::atomic<bool> stop{false};
  std::atomic<int> next{0};
  auto writer = [&] {
    while (!stop) {
      std::string id = "e-" + std::to_string(next++);
      HttpResult r =
          Call("POST", Path("/v1/consents/events"), token_,
               R"({"id":")" + id + R"(","user":{"organization_user_id":"u-)" + id +
                   R"("},"consents":{},"metadata":{"pad":")" + std::string(2000, 'p') + R"("}})");
      std::lock_guard<std::mutex> lock(mu);
      if (r.status == 201) {
        acknowledged.push_back(id);
      } else if (r.status == 503 && r.body.find("full") != std::string::npos) {
        refused.push_back(id);
      } else {
        other.push_back(id + " -> " + std::to_string(r.status) + " " + r.body);
      }
    }
  };
  auto counts = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return std::make_pair(acknowledged.size(), refused.size());
  };
  std::vector<std::thread> writers;
  for (int i = 0; i < 4; ++i) writers.emplace_back(writer);
  ASSERT_TRUE(WaitUntil([&] { return counts().first >= 40; }, std::chrono::seconds(30)));
  { std::ofstream(full_flag) << "full"; }
  ASSERT_TRUE(WaitUntil([&] { return counts().second >= 20; }, std::chrono::seconds(30)))
      << "writes were refused once the disk was full";
  // The store cannot write: the node says so (a probe write fails), and names why.
  HttpResult unhealthy = HttpRequest("GET", Url("/healthz"));
  EXPECT_EQ(unhealthy.status, 503) << unhealthy.body;
  EXPECT_EQ(unhealthy.Json().at("store").at("writable"), false) << unhealthy.body;
  const size_t acknowledged_while_full = counts().first;
  std::filesystem::remove(full_flag);
  EXPECT_TRUE(WaitUntil([&] { return HttpRequest("GET", Url("/healthz")).status == 200; },
                        std::chrono::seconds(10)))
      << "healthy again once the disk has room";
  EXPECT_TRUE(WaitUntil([&] { return counts().first >= acknowledged_while_full + 40; },
                        std::chrono::seconds(30)))
      << "writes go through again";
  stop = true;
  for (auto& t : writers) t.join();
  EXPECT_TRUE(other.empty()) << other.front();

  // After a restart: every acknowledged event is there, and no refused one is.
  ASSERT_EQ(server_.Stop(), 0);
  StartServer({"--no-dispatch"});
  for (const auto& id : acknowledged) {
    EXPECT_EQ(Call("GET", Path("/v1/consents/events/" + id), token_).status, 200) << id;
  }
  for (const auto& id : refused) {
    EXPECT_EQ(Call("GET", Path("/v1/consents/events/" + id), token_).status, 404) << id;
  }
}

// The dispatcher meets a store it cannot write (the shim's full disk) with outcomes waiting: it
// backs off, says so once, says once when the store answers again, and loses nothing.
TEST_F(FaultsTest, AStoreOutageIsLoggedOncePerChangeOfStateAndLosesNoOutcome) {
  if (UsingPostgres()) GTEST_SKIP() << "faults of the embedded store's own files";
  const std::string full_flag = dir_.path() + "/disk-full";
  TestReceiver receiver;
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  int held = 0;
  receiver.SetHandler([&](const ReceivedRequest&) {
    std::unique_lock<std::mutex> lock(mu);
    ++held;
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return released; });
    return ReplyWith(200);
  });
  StartRelay({}, ShimEnv(DataDir(), dir_.path() + "/shim.log", full_flag));
  auto integration = CreateIntegration(receiver.Url(), R"("events":["event.created"])");
  for (int i = 0; i < 5; ++i) PostEvent("u-" + std::to_string(i));
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return held == 5; }));
  }
  // The disk fills while the five attempts are out; their outcomes cannot be recorded.
  { std::ofstream(full_flag) << "full"; }
  {
    std::lock_guard<std::mutex> lock(mu);
    released = true;
  }
  cv.notify_all();
  auto count = [&](const std::string& text) {
    std::string logs = server_.Logs();
    size_t n = 0;
    for (size_t at = logs.find(text); at != std::string::npos; at = logs.find(text, at + 1)) ++n;
    return n;
  };
  ASSERT_TRUE(
      WaitUntil([&] { return count("the store is failing") == 1; }, std::chrono::seconds(10)));
  // Three seconds of outage: round trips back off (0.1, 0.2, 0.4, 0.8, 1.6 s...), each failing,
  // and the log still holds the one line.
  const auto outage_start = std::chrono::steady_clock::now();
  WaitUntil(
      [&] { return std::chrono::steady_clock::now() - outage_start > std::chrono::seconds(3); },
      std::chrono::seconds(4));
  EXPECT_EQ(count("the store is failing"), 1u) << server_.Logs();
  std::filesystem::remove(full_flag);
  EXPECT_TRUE(WaitForStatus(integration.id, "succeeded", 5));
  EXPECT_TRUE(
      WaitUntil([&] { return count("the store answers again") == 1; }, std::chrono::seconds(10)));
  EXPECT_EQ(count("the store is failing"), 1u);
  EXPECT_EQ(receiver.Count(), 5u) << "recorded once the store answered, not sent again";
}

TEST_F(FaultsTest, ATruncatedDatabaseIsAClearErrorAtStart) {
  if (UsingPostgres()) GTEST_SKIP() << "faults of the embedded store's own files";
  StartRelay({"--no-dispatch"});
  for (int i = 0; i < 20; ++i) PostEvent("u-" + std::to_string(i));
  ASSERT_EQ(server_.Stop(), 0);
  std::string db = DataDir() + "/relay.db";
  for (const char* f : {"/relay.db-wal", "/relay.db-shm"}) std::filesystem::remove(DataDir() + f);
  std::filesystem::resize_file(db, 1000);
  CommandResult r = RunRelay({"serve", "--listen", "127.0.0.1:0", "--data-dir", DataDir()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("cannot open the database"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("Sanitizer"), std::string::npos) << r.err;
}

TEST_F(FaultsTest, AGarbledDatabaseIsAClearErrorAtStart) {
  if (UsingPostgres()) GTEST_SKIP() << "faults of the embedded store's own files";
  StartRelay({"--no-dispatch"});
  ASSERT_EQ(server_.Stop(), 0);
  std::string db = DataDir() + "/relay.db";
  {
    std::fstream f(db, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f << std::string(100, '\x5a');
  }
  CommandResult r = RunRelay({"serve", "--listen", "127.0.0.1:0", "--data-dir", DataDir()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("cannot open the database"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace relay::testing
