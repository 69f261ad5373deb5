// The operator's commands against the database of a running server, on both stores:
// `deliveries list|retry|replay` and `doctor`.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "e2e/delivery_fixture.h"
#include "support/test_crypto.h"

namespace relay::testing {
namespace {
namespace json = boost::json;
using std::chrono::seconds;

class OperatorTest : public DeliveryFixture {
 protected:
  // Each line of stdout as JSON.
  static std::vector<json::object> Lines(const std::string& out) {
    std::vector<json::object> lines;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) lines.push_back(json::parse(line).as_object());
    }
    return lines;
  }
  CommandResult Deliveries(std::vector<std::string> args) {
    args.insert(args.begin(), "deliveries");
    args.insert(args.end(), {"--data-dir", DataDir()});
    return RunRelay(args);
  }
  TestReceiver receiver_;
};

TEST_F(OperatorTest, DeliveriesAreListedRetriedAndReplayedBesideTheRunningServer) {
  StartRelay({"--retry-schedule", "100ms", "--breaker-failures", "0"});
  receiver_.SetHandler([](const ReceivedRequest&) { return ReplyWith(503, "down"); });
  auto integration = CreateIntegration(receiver_.Url());
  PostEvent("u-1");
  PostEvent("u-2");  // 4 deliveries: event.created and user.created for each user
  ASSERT_TRUE(WaitForStatus(integration.id, "dead", 4));
  const std::vector<std::string> scope = {"--organization", "org_a", "--integration",
                                          integration.id};
  auto with = [&](std::vector<std::string> head, std::vector<std::string> tail = {}) {
    head.insert(head.end(), scope.begin(), scope.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };

  CommandResult dead = Deliveries(with({"list"}, {"--status", "dead"}));
  ASSERT_EQ(dead.exit_code, 0) << dead.err;
  auto lines = Lines(dead.out);
  ASSERT_EQ(lines.size(), 4u) << dead.out;
  for (const auto& d : lines) {
    EXPECT_EQ(d.at("status"), "dead");
    EXPECT_EQ(d.at("integration_id"), integration.id.c_str());
    ASSERT_EQ(d.at("attempts").as_array().size(), 2u);
    EXPECT_EQ(d.at("attempts").as_array()[1].at("response_body"), "down");
  }
  EXPECT_EQ(Lines(Deliveries(with({"list"}, {"--status", "succeeded"})).out).size(), 0u);
  EXPECT_EQ(Lines(Deliveries(with({"list"}, {"--since", "2999-01-01T00:00:00Z"})).out).size(), 0u);
  EXPECT_EQ(Lines(Deliveries(with({"list"}, {"--until", "2999-01-01T00:00:00Z"})).out).size(), 4u);
  CommandResult bad = Deliveries(with({"list"}, {"--status", "lost"}));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("--status must be"), std::string::npos) << bad.err;
  CommandResult other =
      Deliveries({"list", "--organization", "org_b", "--integration", integration.id});
  EXPECT_EQ(other.exit_code, 1) << "another organization's integration is not found";
  EXPECT_EQ(other.out, "");

  // The endpoint recovers: one delivery retried by id alone, the rest replayed.
  receiver_.SetHandler([](const ReceivedRequest&) { return ReplyWith(200); });
  const std::string first = std::string(lines[0].at("id").as_string());
  CommandResult retried = Deliveries({"retry", first});
  ASSERT_EQ(retried.exit_code, 0) << retried.err;
  EXPECT_EQ(Lines(retried.out).at(0).at("status"), "pending");
  EXPECT_EQ(Deliveries({"retry", "dlv_none"}).exit_code, 1);
  for (int i = 0; i < 400 && Delivery(integration.id, first).at("status") != "succeeded"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(Delivery(integration.id, first).at("status"), "succeeded");

  CommandResult replayed = Deliveries(with({"replay"}, {"--status", "dead"}));
  ASSERT_EQ(replayed.exit_code, 0) << replayed.err;
  EXPECT_EQ(Lines(replayed.out).back(), (json::object{{"requeued", 3}}));
  EXPECT_EQ(replayed.err, "") << "no progress bar when stderr is not a terminal";
  ASSERT_TRUE(WaitForStatus(integration.id, "succeeded", 4));
  EXPECT_NE(Deliveries(with({"replay"}, {"--status", "pending"})).exit_code, 0)
      << "only dead or succeeded deliveries are replayed";

  // On a terminal, a progress bar on stderr; the answer on stdout all the same.
  std::string command = "script -qec '" + RelayBinary() + " deliveries replay --organization " +
                        "org_a --integration " + integration.id + " --status succeeded " +
                        "--data-dir " + DataDir() + "' /dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string tty;
  char buffer[512];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) tty.append(buffer, n);
  EXPECT_EQ(pclose(pipe), 0) << tty;
  EXPECT_NE(tty.find("re-queueing [##############################] 4/4"), std::string::npos) << tty;
  EXPECT_NE(tty.find(R"({"requeued":4})"), std::string::npos) << tty;
  EXPECT_TRUE(receiver_.WaitForCount(2 * 4 + 4 + 4, seconds(20)))
      << "the running server sent the replayed deliveries: " << receiver_.Count();
}

TEST_F(OperatorTest, DoctorSaysAllIsWellAndNamesEachProblem) {
  StartRelay();
  auto doctor = [&](std::vector<std::string> extra = {}, std::string listen = "127.0.0.1:0") {
    std::vector<std::string> args = {"doctor", "--data-dir", DataDir(), "--listen", listen};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunRelay(args);
  };
  CommandResult well = doctor();
  EXPECT_EQ(well.exit_code, 0) << well.out << well.err;
  for (const char* line : {"ok    store", "ok    schema", "ok    writable", "ok    master key",
                           "ok    disk", "ok    clock", "ok    listen", "all is well"}) {
    EXPECT_NE(well.out.find(line), std::string::npos) << line << " in\n" << well.out;
  }
  EXPECT_NE(well.out.find("matches the database"), std::string::npos) << well.out;

  CommandResult busy = doctor({}, "127.0.0.1:" + std::to_string(server_.port()));
  EXPECT_EQ(busy.exit_code, 1);
  EXPECT_NE(busy.out.find("FAIL  listen"), std::string::npos) << busy.out;
  EXPECT_NE(busy.out.find("in use"), std::string::npos) << busy.out;

  std::string other = dir_.path() + "/other.key";
  std::ofstream(other) << Base64(std::string(32, 'x')) << "\n";
  CommandResult wrong_key = doctor({"--master-key-file", other});
  EXPECT_EQ(wrong_key.exit_code, 1);
  EXPECT_NE(wrong_key.out.find("FAIL  master key"), std::string::npos) << wrong_key.out;
  CommandResult no_key = doctor({"--master-key-file", dir_.path() + "/missing.key"});
  EXPECT_EQ(no_key.exit_code, 1);
  EXPECT_NE(no_key.out.find("does not exist"), std::string::npos) << no_key.out;

  CommandResult full = doctor({"--min-free-mib", "1099511627776"});
  EXPECT_EQ(full.exit_code, UsingPostgres() ? 0 : 1) << "PostgreSQL's data is elsewhere: a warning";
  EXPECT_NE(full.out.find(UsingPostgres() ? "warn  disk" : "FAIL  disk"), std::string::npos)
      << full.out;

  Sql(UsingPostgres() ? "UPDATE relay_schema SET version = 4242" : "PRAGMA user_version = 4242");
  CommandResult newer = doctor();
  EXPECT_EQ(newer.exit_code, 1);
  EXPECT_NE(newer.out.find("FAIL  store"), std::string::npos) << newer.out;
  EXPECT_NE(newer.out.find("newer than this consent-relay supports"), std::string::npos)
      << newer.out;
  EXPECT_NE(newer.out.find("some checks failed"), std::string::npos) << newer.out;
}

}  // namespace
}  // namespace relay::testing
