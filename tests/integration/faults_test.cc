// Faults of the machine: a full disk and a damaged database file.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "integration/delivery_fixture.h"

namespace relay::testing {
namespace {
namespace json = boost::json;

class FaultsTest : public DeliveryFixture {};

// The data directory on a 4 MiB tmpfs, nearly filled by a ballast file that the test removes to
// give the space back.
TEST_F(FaultsTest, AFullDiskAnswers503LosesNothingAndRecovers) {
  if (UsingPostgres()) GTEST_SKIP() << "faults of the embedded store's own files";
  std::string mount_point = dir_.path() + "/data";
  std::filesystem::create_directories(mount_point);
  if (mount("tmpfs", mount_point.c_str(), "tmpfs", 0, "size=4m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root): " << std::strerror(errno);
  }
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{mount_point};
  StartRelay({"--no-dispatch"});
  // Leave about 300 KiB free: some events fit, then the disk is full.
  std::string ballast = mount_point + "/ballast";
  {
    struct statvfs fs {};
    ASSERT_EQ(statvfs(mount_point.c_str(), &fs), 0);
    int64_t free_bytes = static_cast<int64_t>(fs.f_bavail) * static_cast<int64_t>(fs.f_frsize);
    std::ofstream out(ballast, std::ios::binary);
    std::string chunk(4096, 'b');
    for (int64_t left = free_bytes - 300 * 1024; left > 0; left -= 4096) {
      out.write(chunk.data(), chunk.size());
    }
  }
  std::vector<std::string> acknowledged;
  HttpResult refused;
  for (int i = 0; i < 2000; ++i) {
    std::string id = "full-" + std::to_string(i);
    HttpResult r =
        Call("POST", Path("/v1/consents/events"), token_,
             R"({"id":")" + id + R"(","user":{"organization_user_id":"u"},)" +
                 R"("consents":{},"metadata":{"pad":")" + std::string(2000, 'p') + R"("}})");
    if (r.status == 201) {
      acknowledged.push_back(id);
      continue;
    }
    refused = r;
    break;
  }
  ASSERT_EQ(refused.status, 503) << refused.body;
  EXPECT_GT(acknowledged.size(), 10u) << "events were accepted until the disk filled";
  EXPECT_EQ(refused.Json().at("name"), "Unavailable");
  EXPECT_NE(refused.body.find("full"), std::string::npos) << refused.body;
  // The store cannot write: the node says so (a probe write fails), and names why.
  HttpResult unhealthy = HttpRequest("GET", Url("/healthz"));
  EXPECT_EQ(unhealthy.status, 503) << unhealthy.body;
  EXPECT_EQ(unhealthy.Json().at("store").at("writable"), false) << unhealthy.body;
  for (const auto& id : acknowledged) {
    EXPECT_EQ(Call("GET", Path("/v1/consents/events/" + id), token_).status, 200) << id;
  }
  std::filesystem::remove(ballast);
  EXPECT_TRUE(WaitUntil([&] { return HttpRequest("GET", Url("/healthz")).status == 200; },
                        std::chrono::seconds(10)))
      << "healthy again once the disk has room";
  HttpResult after = Call("POST", Path("/v1/consents/events"), token_,
                          R"({"id":"after","user":{"organization_user_id":"u"},"consents":{}})");
  EXPECT_EQ(after.status, 201) << after.body;
  ASSERT_EQ(server_.Stop(), 0);
  StartServer({"--no-dispatch"});
  for (const auto& id : acknowledged) {
    EXPECT_EQ(Call("GET", Path("/v1/consents/events/" + id), token_).status, 200) << id;
  }
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
