// The binary's start-up, configuration and shutdown, and tokens forged outside the product.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "e2e/api_fixture.h"
#include "support/raw_socket.h"
#include "support/test_crypto.h"

namespace relay::testing {
namespace {
namespace json = boost::json;

class ServerCliTest : public ApiFixture {};

TEST_F(ServerCliTest, ExpiredTokenSignedWithTheRightKeyIsRefused) {
  ApiKey key = CreateKey({"org_a"});
  StartServer();
  std::string fresh = Token(key);  // also proves the server made its master key
  std::ifstream in(DataDir() + "/master.key");
  std::string line;
  std::getline(in, line);
  std::string session_key = HmacSha256(UnBase64(line), "consent-relay/v1/session-signing");
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  auto forge = [&](int64_t exp) {
    json::object payload{
        {"iss", "consent-relay"}, {"sub", key.key}, {"iat", now - 7200}, {"exp", exp}};
    std::string input =
        Base64Url(R"({"alg":"HS256","typ":"JWT"})") + "." + Base64Url(json::serialize(payload));
    return input + "." + Base64Url(HmacSha256(session_key, input));
  };
  std::string path = "/v1/marketplace/integrations?organization_id=org_a";
  // The forgery is valid in form: with a future expiry it is accepted...
  EXPECT_EQ(Call("GET", path, forge(now + 600)).status, 200);
  // ...and refused once expired.
  HttpResult expired = Call("GET", path, forge(now - 1));
  EXPECT_EQ(expired.status, 401);
  EXPECT_NE(expired.body.find("expired"), std::string::npos);
  EXPECT_EQ(Call("GET", path, fresh).status, 200);
}

TEST_F(ServerCliTest, AnUnreachablePostgresIsAClearErrorWithoutThePassword) {
  // Port 1 on loopback: nothing listens there.
  CommandResult r = RunRelay({"serve", "--listen", "127.0.0.1:0", "--data-dir", DataDir(),
                              "--database", "postgres://relay:hunter2-secret@127.0.0.1:1/relay"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot connect to postgres://relay:***@127.0.0.1:1/relay"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("hunter2"), std::string::npos) << r.err;
}

TEST_F(ServerCliTest, DatabaseFromANewerBinaryIsRefusedAtStart) {
  CreateKey({"org_a"});
  Sql(UsingPostgres() ? "UPDATE relay_schema SET version = 4242" : "PRAGMA user_version = 4242");
  CommandResult r = RunRelay({"serve", "--listen", "127.0.0.1:0", "--data-dir", DataDir()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("newer than this consent-relay supports"), std::string::npos) << r.err;
}

TEST_F(ServerCliTest, AnotherMasterKeyIsRefused) {
  CreateKey({"org_a"});
  StartServer();
  ASSERT_EQ(server_.Stop(), 0);
  std::string other = dir_.path() + "/other.key";
  std::ofstream(other) << Base64(std::string(32, 'x')) << "\n";
  CommandResult r = RunRelay(
      {"serve", "--listen", "127.0.0.1:0", "--data-dir", DataDir(), "--master-key-file", other});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not the one this database was created with"), std::string::npos) << r.err;
  CommandResult missing = RunRelay({"serve", "--listen", "127.0.0.1:0", "--data-dir", DataDir(),
                                    "--master-key-file", dir_.path() + "/absent.key"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("cannot read the master key file"), std::string::npos);
}

// The embedded store serves one process: a second serve on the same file refuses to start (it
// would release the first one's claims and send its deliveries twice).
TEST_F(ServerCliTest, ASecondServeOnOneSqliteFileRefusesToStart) {
  if (UsingPostgres()) GTEST_SKIP() << "several nodes share a PostgreSQL database by design";
  StartServer();
  ServerProcess second;
  EXPECT_FALSE(second.Start({"--data-dir", DataDir()}));
  EXPECT_NE(second.error().find("already using"), std::string::npos) << second.error();
  EXPECT_EQ(HttpRequest("GET", Url("/healthz")).status, 200) << "the first one serves on";
  // The CLI still works beside the server; and after the first stops, a new one starts.
  CreateKey({"org_b"});
  ASSERT_EQ(server_.Stop(), 0);
  EXPECT_TRUE(second.Start({"--data-dir", DataDir()})) << second.error();
}

// SIGTERM is taken by the main thread's sigwait, for a graceful stop: every thread must block it,
// or the kernel may hand it to one that does not, whose default action kills the process (exit
// 143, nothing drained). The dispatcher's store thread once started before the mask was set.
TEST_F(ServerCliTest, EveryThreadBlocksTheStopSignalsSoAStopIsAlwaysGraceful) {
  StartServer();
  const std::string tasks = "/proc/" + std::to_string(server_.pid()) + "/task";
  size_t threads = 0;
  for (const auto& task : std::filesystem::directory_iterator(tasks)) {
    // The main thread is the one in sigwait, which unblocks the awaited signals while it waits.
    if (task.path().filename() == std::to_string(server_.pid())) continue;
    std::ifstream status(task.path() / "status");
    std::string line;
    uint64_t blocked = 0;
    std::string name;
    while (std::getline(status, line)) {
      if (line.rfind("SigBlk:", 0) == 0) blocked = std::stoull(line.substr(7), nullptr, 16);
      if (line.rfind("Name:", 0) == 0) name = line.substr(5);
    }
    ++threads;
    EXPECT_TRUE(blocked & (uint64_t{1} << (SIGTERM - 1))) << "thread" << name << " " << task.path();
    EXPECT_TRUE(blocked & (uint64_t{1} << (SIGINT - 1))) << "thread" << name << " " << task.path();
  }
  EXPECT_GT(threads, 3u) << "the server's threads were all seen";
  EXPECT_EQ(server_.Stop(), 0);
}

TEST_F(ServerCliTest, MasterKeyFileIsCreatedPrivate) {
  StartServer();
  auto perms = std::filesystem::status(DataDir() + "/master.key").permissions();
  EXPECT_EQ(perms & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST_F(ServerCliTest, EnvironmentVariablesConfigureServe) {
  StartServer({}, {"CONSENT_RELAY_LOG_FORMAT=json", "CONSENT_RELAY_LOG_LEVEL=debug"});
  ASSERT_EQ(server_.Stop(), 0);
  std::istringstream logs(server_.Logs());
  std::string line;
  int lines = 0;
  while (std::getline(logs, line)) {
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    ASSERT_FALSE(ec) << "not a JSON log line: " << line;
    EXPECT_TRUE(v.as_object().contains("level"));
    ++lines;
  }
  EXPECT_GE(lines, 2);
}

TEST_F(ServerCliTest, RefusesBadFlags) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"serve", "--listen", "nonsense", "--data-dir", DataDir()},
        std::vector<std::string>{"serve", "--listen", "127.0.0.1:0", "--log-format", "xml",
                                 "--data-dir", DataDir()},
        std::vector<std::string>{"serve", "--listen", "127.0.0.1:0", "--log-level", "loud",
                                 "--data-dir", DataDir()},
        std::vector<std::string>{"orgs", "enable", "org_a", "--feature", "teleport", "--data-dir",
                                 DataDir()},
        std::vector<std::string>{"keys", "create", "--organization", "bad org", "--data-dir",
                                 DataDir()}}) {
    CommandResult r = RunRelay(args);
    EXPECT_NE(r.exit_code, 0) << args[0] << " " << args[1];
    EXPECT_FALSE(r.err.empty());
  }
}

TEST_F(ServerCliTest, AKeyForTenThousandOrganizationsWorksForEachOfThem) {
  // 64-character ids: once every one rode in the session token, and 300 of them made every
  // request 431 (issue 11, item 7).
  std::vector<std::string> orgs;
  for (int i = 0; i < 10'000; ++i) {
    std::string n = std::to_string(i);
    orgs.push_back("org_" + std::string(60 - n.size(), 'm') + n);
  }
  ApiKey key = CreateKey(orgs);
  StartServer();
  std::string token = Token(key);
  ASSERT_FALSE(token.empty());
  EXPECT_LT(token.size(), 300u);
  for (const auto& org : {orgs.front(), orgs[4'321], orgs.back()}) {
    EXPECT_EQ(Call("GET", "/v1/marketplace/integrations?organization_id=" + org, token).status, 200)
        << org;
  }
  ApiKey other = CreateKey({"org_other"});
  EXPECT_EQ(Call("GET", "/v1/marketplace/integrations?organization_id=org_other", token).status,
            403);
  EXPECT_EQ(
      Call("GET", "/v1/marketplace/integrations?organization_id=" + orgs[7], Token(other)).status,
      403);
}

TEST_F(ServerCliTest, OrgsListShowsFeatures) {
  CreateKey({"org_a"});
  EnableFeature("org_b", "webhooks");
  EnableFeature("org_b", "multi-regulation");
  CommandResult disable = RunRelay(
      {"orgs", "disable", "org_b", "--feature", "multi-regulation", "--data-dir", DataDir()});
  ASSERT_EQ(disable.exit_code, 0);
  CommandResult list = RunRelay({"orgs", "list", "--data-dir", DataDir()});
  ASSERT_EQ(list.exit_code, 0);
  EXPECT_NE(list.out.find(R"({"organization_id":"org_a","features":[])"), std::string::npos)
      << list.out;
  EXPECT_NE(list.out.find(R"({"organization_id":"org_b","features":["webhooks"])"),
            std::string::npos)
      << list.out;
}

}  // namespace
}  // namespace relay::testing

namespace relay::testing {
namespace {

TEST_F(ServerCliTest, KeepsTheConnectionAliveAcrossRequests) {
  StartServer();
  std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string got = RawExchange(server_.port(), req + req, 2);
  size_t first = got.find("HTTP/1.1 200");
  ASSERT_NE(first, std::string::npos) << got;
  EXPECT_NE(got.find("HTTP/1.1 200", first + 1), std::string::npos) << got;
}

TEST_F(ServerCliTest, MalformedHttpGetsA400AndTheServerLivesOn) {
  StartServer();
  std::string got = RawExchange(server_.port(), "NOT HTTP AT ALL\r\n\r\n", 1);
  EXPECT_NE(got.find("HTTP/1.1 400"), std::string::npos) << got;
  std::string big_header =
      "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n";
  EXPECT_NE(RawExchange(server_.port(), big_header, 1).find("HTTP/1.1 431"), std::string::npos);
  EXPECT_EQ(HttpRequest("GET", Url("/healthz")).status, 200);
}

}  // namespace
}  // namespace relay::testing
