// Erasure (DELETE user, the right to erasure) end to end: what was waiting is still sent, with
// user.deleted; then every finished delivery of the user loses its payload and response bodies,
// dead ones become cancelled, stored idempotent answers go, and after a clean stop no file of the
// embedded store holds the user's organization_user_id or metadata.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "e2e/delivery_fixture.h"

namespace relay::testing {
namespace {
namespace json = boost::json;
using std::chrono::seconds;

constexpr char kErasedUser[] = "erase-me-4f2a";
constexpr char kErasedMetadata[] = "meta-9b1c";
constexpr char kKeptUser[] = "keep-me-77aa";

// The files under `dir` that contain `needle`, byte for byte.
std::vector<std::string> FilesContaining(const std::string& dir, const std::string& needle) {
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    if (bytes.str().find(needle) != std::string::npos) found.push_back(entry.path().string());
  }
  return found;
}

class ErasureTest : public DeliveryFixture {
 protected:
  TestReceiver echo_;  // answers with the request's own body: response bodies hold user data
  TestReceiver dead_;  // always fails: its deliveries die
};

TEST_F(ErasureTest, ADeletedUsersBytesAreGoneEverywhere) {
  echo_.SetHandler([](const ReceivedRequest& r) { return ReplyWith(200, r.body); });
  dead_.SetHandler([](const ReceivedRequest&) { return ReplyWith(500, "no"); });
  // No breaker: the failing endpoint's deliveries must die, not wait for it to come back.
  StartRelay({"--retry-schedule", "100ms", "--breaker-failures", "0"});
  auto ok = CreateIntegration(echo_.Url());
  auto failing = CreateIntegration(dead_.Url());
  const std::string body = std::string(R"({"user":{"organization_user_id":")") + kErasedUser +
                           R"(","metadata":{"note":")" + kErasedMetadata +
                           R"("}},"consents":{"purposes":[{"id":"p1","enabled":true}]}})";
  HttpResult created =
      Call("POST", Path("/v1/consents/events"), token_, body, {"Idempotency-Key: erase-key"});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string user_id(created.Json().at("user").at("id").as_string());
  PostEvent(kKeptUser);
  // event.created and user.created of each user: delivered to one, dead at the other.
  ASSERT_TRUE(WaitForStatus(ok.id, "succeeded", 4));
  ASSERT_TRUE(WaitForStatus(failing.id, "dead", 4));

  HttpResult deleted = Call("DELETE", Path("/v1/consents/users/" + user_id), token_);
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  // user.deleted is still sent (the receiver learns of the erasure), then everything of the
  // user is erased: 3 deliveries at each integration.
  auto erased = [&](const std::string& integration) {
    size_t n = 0;
    for (const auto& d : Deliveries(integration)) {
      if (d.at("erased").as_bool()) ++n;
    }
    return n;
  };
  ASSERT_TRUE(
      WaitUntil([&] { return erased(ok.id) == 3 && erased(failing.id) == 3; }, seconds(20)));
  bool saw_user_deleted = false;
  for (const auto& r : echo_.Requests()) {
    saw_user_deleted |= r.body.find("\"user.deleted\"") != std::string::npos;
  }
  EXPECT_TRUE(saw_user_deleted);
  for (const auto& d : Deliveries(ok.id)) {
    if (!d.at("erased").as_bool()) {
      EXPECT_NE(json::serialize(d.at("payload")).find(kKeptUser), std::string::npos);
      continue;
    }
    EXPECT_TRUE(d.at("payload").is_null()) << json::serialize(d);
    EXPECT_EQ(d.at("status"), "succeeded");
    for (const auto& a : d.at("attempts").as_array()) {
      EXPECT_TRUE(a.at("response_body").is_null()) << json::serialize(d);
    }
  }
  for (const auto& d : Deliveries(failing.id)) {
    if (d.at("erased").as_bool()) {
      EXPECT_EQ(d.at("status"), "cancelled") << "nothing is left to replay";
    } else {
      EXPECT_EQ(d.at("status"), "dead");
    }
  }
  EXPECT_EQ(Sql("SELECT count(*) FROM idempotency_keys")[0][0], "0")
      << "the user's stored idempotent answer is gone";

  ASSERT_EQ(server_.Stop(), 0);
  if (UsingPostgres()) return;  // the database server's files are its own (see SECURITY.md)
  EXPECT_EQ(FilesContaining(DataDir(), kErasedUser), std::vector<std::string>{});
  EXPECT_EQ(FilesContaining(DataDir(), kErasedMetadata), std::vector<std::string>{});
  EXPECT_FALSE(FilesContaining(DataDir(), kKeptUser).empty()) << "the search finds what stays";
}

}  // namespace
}  // namespace relay::testing
