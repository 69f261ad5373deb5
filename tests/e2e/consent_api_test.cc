// The Consents API and its outbox, end to end: the real binary over HTTP.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <set>
#include <thread>

#include "e2e/api_fixture.h"

namespace relay::testing {
namespace {
namespace json = boost::json;

class ConsentApiTest : public ApiFixture {
 protected:
  void SetUp() override {
    key_ = CreateKey({"org_a"});
    EnableFeature("org_a", "webhooks");
    // The outbox is observed at rest: this node only serves the API.
    StartServer({"--no-dispatch"});
    token_ = Token(key_);
  }

  std::string Q(const std::string& path, const std::string& org = "org_a") {
    return path + (path.find('?') == std::string::npos ? "?" : "&") + "organization_id=" + org;
  }

  std::string CreateIntegration(const std::string& properties_extra = "",
                                const std::string& org = "org_a", const std::string& token = "") {
    std::string body = R"({"type_id":"webhook-http","properties":{"url":"https://h.example/")" +
                       (properties_extra.empty() ? "" : "," + properties_extra) + "}}";
    HttpResult r =
        Call("POST", Q("/v1/marketplace/integrations", org), token.empty() ? token_ : token, body);
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(r.Json().at("id").as_string());
  }

  json::object PostEvent(const std::string& body, int expected = 201,
                         std::vector<std::string> headers = {}) {
    HttpResult r = Call("POST", Q("/v1/consents/events"), token_, body, headers);
    EXPECT_EQ(r.status, expected) << body << " -> " << r.body;
    return r.Json().is_object() ? r.Json().as_object() : json::object();
  }

  // All deliveries of an integration, oldest first.
  std::vector<json::object> Deliveries(const std::string& integration,
                                       const std::string& org = "org_a",
                                       const std::string& token = "") {
    HttpResult r = Call(
        "GET", Q("/v1/marketplace/integrations/" + integration + "/deliveries?$limit=1000", org),
        token.empty() ? token_ : token);
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<json::object> out;
    json::value page = r.Json();  // keep it alive: the loop refers into it
    for (const auto& d : page.at("data").as_array()) out.push_back(d.as_object());
    std::reverse(out.begin(), out.end());
    return out;
  }

  static std::vector<std::string> Types(const std::vector<json::object>& deliveries) {
    std::vector<std::string> out;
    for (const auto& d : deliveries) out.emplace_back(d.at("type").as_string());
    return out;
  }

  int64_t Count(const std::string& path) {
    HttpResult r = Call("GET", Q(path), token_);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.Json().at("total").as_int64();
  }

  ApiKey key_;
  std::string token_;
};

constexpr char kFirstEvent[] = R"({"user":{"organization_user_id":"u-1"},
  "consents":{"purposes":[{"id":"analytics","enabled":true}],"vendors":{"enabled":["v1"]}}})";

TEST_F(ConsentApiTest, NewUserProducesEventCreatedThenUserCreated) {
  std::string integration = CreateIntegration();
  json::object event = PostEvent(kFirstEvent);
  EXPECT_TRUE(event.at("id").as_string().starts_with("evt_"));
  EXPECT_EQ(event.at("status"), "confirmed");
  EXPECT_EQ(event.at("organization_id"), "org_a");
  EXPECT_EQ(event.at("regulation"), "gdpr");
  EXPECT_EQ(event.at("user").at("organization_user_id"), "u-1");
  std::string user_id(event.at("user").at("id").as_string());

  auto deliveries = Deliveries(integration);
  ASSERT_EQ(Types(deliveries), (std::vector<std::string>{"event.created", "user.created"}));
  for (const auto& d : deliveries) {
    EXPECT_EQ(d.at("status"), "pending");
    EXPECT_EQ(d.at("integration_id"), json::value(integration));
    EXPECT_TRUE(d.at("message_id").as_string().starts_with("msg_"));
    EXPECT_EQ(d.at("attempts"), json::array());
    const json::object& payload = d.at("payload").as_object();
    EXPECT_EQ(payload.size(), 3u) << "exactly Didomi's envelope";
    EXPECT_EQ(payload.at("type"), d.at("type"));
    EXPECT_EQ(payload.at("regulation"), "gdpr");
  }
  EXPECT_EQ(json::value(deliveries[0].at("payload").at("parameters").at("entity")),
            json::value(event));
  const auto& user = deliveries[1].at("payload").at("parameters").at("entity").as_object();
  EXPECT_EQ(user.at("id"), json::value(user_id));
  EXPECT_EQ(user.at("consents").at("purposes"),
            json::parse(R"([{"id":"analytics","enabled":true}])"));
  HttpResult got = Call("GET", Q("/v1/consents/users/" + user_id), token_);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.Json(), json::value(user));
}

TEST_F(ConsentApiTest, KnownUserProducesUserUpdatedOnlyWhenTheMergeChangesIt) {
  std::string integration = CreateIntegration();
  PostEvent(kFirstEvent);
  json::object second = PostEvent(R"({"user":{"organization_user_id":"u-1"},
    "consents":{"purposes":[{"id":"ads","enabled":false}],"vendors":{"disabled":["v1"]}}})");
  // The same choices again change nothing: no user.updated.
  PostEvent(R"({"user":{"organization_user_id":"u-1"},
    "consents":{"purposes":[{"id":"ads","enabled":false}]}})");
  auto deliveries = Deliveries(integration);
  ASSERT_EQ(Types(deliveries),
            (std::vector<std::string>{"event.created", "user.created", "event.created",
                                      "user.updated", "event.created"}));
  const json::object& params = deliveries[3].at("payload").at("parameters").as_object();
  EXPECT_EQ(params.at("source"), json::value(second));
  json::object old_entity = params.at("old_entity").as_object();
  json::object new_entity = params.at("new_entity").as_object();
  // Old and new differ exactly as the merge says.
  EXPECT_EQ(old_entity.at("consents"),
            json::parse(R"({"purposes":[{"id":"analytics","enabled":true}],
                           "vendors":{"enabled":["v1"],"disabled":[]},"tcfcs":null})"));
  EXPECT_EQ(new_entity.at("consents"),
            json::parse(R"({"purposes":[{"id":"analytics","enabled":true},
                                        {"id":"ads","enabled":false}],
                           "vendors":{"enabled":[],"disabled":["v1"]},"tcfcs":null})"));
  old_entity.erase("consents");
  new_entity.erase("consents");
  old_entity.erase("updated_at");
  new_entity.erase("updated_at");
  EXPECT_EQ(old_entity, new_entity);
}

// Events are planned against the user as read before the write transaction; an event whose user
// changed meanwhile is planned again inside it. Concurrent first events of one user must make
// one user, lose no consent, and announce user.created once.
TEST_F(ConsentApiTest, ConcurrentEventsOfOneUserMergeWithoutLosingAny) {
  std::string integration = CreateIntegration();
  constexpr int kWriters = 12;
  std::vector<int> statuses(kWriters, 0);
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      std::string body = R"({"user":{"organization_user_id":"u-race"},"consents":{"purposes":[)"
                         R"({"id":"p)" +
                         std::to_string(i) + R"(","enabled":true}]}})";
      statuses[i] = Call("POST", Q("/v1/consents/events"), token_, body).status;
    });
  }
  for (auto& t : writers) t.join();
  for (int i = 0; i < kWriters; ++i) EXPECT_EQ(statuses[i], 201) << "writer " << i;

  HttpResult users = Call("GET", Q("/v1/consents/users?organization_user_id=u-race"), token_);
  ASSERT_EQ(users.status, 200) << users.body;
  json::value page = users.Json();  // keep it alive: `purposes` refers into it
  ASSERT_EQ(page.at("total"), 1) << users.body;
  const json::array& purposes = page.at("data").at(0).at("consents").at("purposes").as_array();
  std::set<std::string> ids;
  for (const auto& p : purposes) ids.insert(std::string(p.at("id").as_string()));
  EXPECT_EQ(ids.size(), static_cast<size_t>(kWriters)) << users.body;

  std::map<std::string, int> by_type;
  for (const auto& t : Types(Deliveries(integration))) ++by_type[t];
  EXPECT_EQ(by_type["event.created"], kWriters);
  EXPECT_EQ(by_type["user.created"], 1);
  EXPECT_EQ(by_type["user.updated"], kWriters - 1);
}

TEST_F(ConsentApiTest, PatchAndDeleteProduceTheirMessages) {
  std::string integration = CreateIntegration();
  json::object event = PostEvent(kFirstEvent);
  std::string event_id(event.at("id").as_string());
  std::string user_id(event.at("user").at("id").as_string());

  HttpResult patched = Call("PATCH", Q("/v1/consents/events/" + event_id), token_,
                            R"({"status":"pending_approval","metadata":{"reviewed":true}})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.Json().at("status"), "pending_approval");
  EXPECT_EQ(patched.Json().at("metadata"), json::parse(R"({"reviewed":true})"));
  HttpResult choices = Call("PATCH", Q("/v1/consents/events/" + event_id), token_,
                            R"({"consents":{"purposes":[]}})");
  EXPECT_EQ(choices.status, 400);
  EXPECT_TRUE(choices.Json().at("errors").as_object().contains("consents"));

  HttpResult user_patch = Call("PATCH", Q("/v1/consents/users/" + user_id), token_,
                               R"({"metadata":{"tier":"gold"},"organization_user_id":"u-1b"})");
  ASSERT_EQ(user_patch.status, 200) << user_patch.body;
  EXPECT_EQ(user_patch.Json().at("organization_user_id"), "u-1b");
  EXPECT_EQ(Call("DELETE", Q("/v1/consents/events/" + event_id), token_).status, 200);
  EXPECT_EQ(Call("GET", Q("/v1/consents/events/" + event_id), token_).status, 404);
  EXPECT_EQ(Call("DELETE", Q("/v1/consents/users/" + user_id), token_).status, 200);
  EXPECT_EQ(Call("GET", Q("/v1/consents/users/" + user_id), token_).status, 404);

  // Moving the user's only confirmed event back to pending_approval un-merges its choices
  // (user.updated with the event as source); then the user's own PATCH, and the deletes.
  auto deliveries = Deliveries(integration);
  ASSERT_EQ(Types(deliveries), (std::vector<std::string>{
                                   "event.created", "user.created", "event.updated", "user.updated",
                                   "user.updated", "event.deleted", "user.deleted"}));
  const auto& updated = deliveries[2].at("payload").at("parameters").as_object();
  EXPECT_EQ(updated.at("source"),
            json::parse(R"({"status":"pending_approval","metadata":{"reviewed":true}})"));
  EXPECT_EQ(updated.at("old_entity").at("status"), "confirmed");
  EXPECT_EQ(updated.at("new_entity").at("status"), "pending_approval");
  const auto& unmerged = deliveries[3].at("payload").at("parameters").as_object();
  EXPECT_EQ(unmerged.at("source").at("id"), json::value(event_id));
  EXPECT_EQ(unmerged.at("new_entity").at("consents").at("purposes"), json::array());
  const auto& user_updated = deliveries[4].at("payload").at("parameters").as_object();
  EXPECT_TRUE(user_updated.at("source").is_null());
  EXPECT_EQ(user_updated.at("old_entity").at("organization_user_id"), "u-1");
  EXPECT_EQ(user_updated.at("new_entity").at("metadata"), json::parse(R"({"tier":"gold"})"));
  EXPECT_EQ(deliveries[5].at("payload").at("parameters").at("entity").at("id"),
            json::value(event_id));
  EXPECT_EQ(deliveries[6].at("payload").at("parameters").at("entity").at("id"),
            json::value(user_id));
}

// Didomi's `$disable_integrations=true`: every kind of write (an event created, patched and
// deleted; a user patched and deleted) is stored and changes the user, and produces no message
// and no delivery. Anything but true/false is refused and writes nothing. An Idempotency-Key
// tells a quiet request from a loud one with the same body.
TEST_F(ConsentApiTest, DisableIntegrationsStoresEveryChangeAndProducesNoWebhook) {
  std::string integration = CreateIntegration();
  const std::string quiet = "?$disable_integrations=true";
  HttpResult created = Call("POST", Q("/v1/consents/events" + quiet), token_, kFirstEvent,
                            {"Idempotency-Key: import-1"});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string event_id(created.Json().at("id").as_string());
  const std::string user_id(created.Json().at("user").at("id").as_string());
  HttpResult user = Call("GET", Q("/v1/consents/users/" + user_id), token_);
  ASSERT_EQ(user.status, 200);
  EXPECT_EQ(user.Json().at("consents").at("purposes"),
            json::parse(R"([{"id":"analytics","enabled":true}])"))
      << "the user's state is updated";
  EXPECT_EQ(Call("PATCH", Q("/v1/consents/events/" + event_id + quiet), token_,
                 R"({"metadata":{"source":"import"}})")
                .status,
            200);
  HttpResult patched = Call("PATCH", Q("/v1/consents/users/" + user_id + quiet), token_,
                            R"({"metadata":{"segment":"b"}})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.Json().at("metadata").at("segment"), "b");
  json::object other = PostEvent(R"({"user":{"organization_user_id":"u-2"},"consents":{}})");
  const size_t loud = Deliveries(integration).size();
  ASSERT_EQ(loud, 2u) << "a write without the flag produces its webhooks";
  const std::string other_event(other.at("id").as_string());
  const std::string other_user(other.at("user").at("id").as_string());
  EXPECT_EQ(Call("DELETE", Q("/v1/consents/events/" + other_event + quiet), token_).status, 200);
  EXPECT_EQ(Call("DELETE", Q("/v1/consents/users/" + other_user + quiet), token_).status, 200);
  EXPECT_EQ(Call("GET", Q("/v1/consents/users/" + other_user), token_).status, 404);

  HttpResult bad = Call("POST", Q("/v1/consents/events?$disable_integrations=yes"), token_,
                        R"({"user":{"organization_user_id":"u-3"},"consents":{}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("$disable_integrations"), std::string::npos) << bad.body;
  HttpResult replay_loud =
      Call("POST", Q("/v1/consents/events"), token_, kFirstEvent, {"Idempotency-Key: import-1"});
  EXPECT_NE(replay_loud.status, 201) << "the key was used for a quiet request";
  HttpResult replay_quiet = Call("POST", Q("/v1/consents/events" + quiet), token_, kFirstEvent,
                                 {"Idempotency-Key: import-1"});
  EXPECT_EQ(replay_quiet.status, 201);
  EXPECT_EQ(replay_quiet.Json().at("id"), json::value(event_id));

  EXPECT_EQ(Deliveries(integration).size(), loud) << "no quiet write produced a delivery";
  EXPECT_EQ(Count("/v1/consents/events"), 1) << "u-1's event; u-2's was deleted";
  EXPECT_EQ(Count("/v1/consents/users?organization_user_id=u-3"), 0);
}

// Didomi's batch import: an array of 1 to 100 events is one transaction, answered with the
// stored events in order; each event sees the user as the events before it left it.
TEST_F(ConsentApiTest, ABatchIsStoredInOrderInOneTransactionAndAnsweredWhole) {
  std::string integration = CreateIntegration();
  const std::string batch =
      R"([{"user":{"organization_user_id":"u-1"},"consents":{"purposes":[{"id":"p1","enabled":true}]}},
          {"user":{"organization_user_id":"u-1"},"consents":{"purposes":[{"id":"p2","enabled":false}]}},
          {"id":"evt-b3","user":{"organization_user_id":"u-2"},"consents":{}}])";
  HttpResult created =
      Call("POST", Q("/v1/consents/events"), token_, batch, {"Idempotency-Key: batch-1"});
  ASSERT_EQ(created.status, 201) << created.body;
  const json::value answer = created.Json();
  ASSERT_TRUE(answer.is_array());
  const json::array& events = answer.as_array();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].at("id"), "evt-b3");
  EXPECT_EQ(events[0].at("user").at("id"), events[1].at("user").at("id")) << "one user";
  EXPECT_EQ(Types(Deliveries(integration)),
            (std::vector<std::string>{"event.created", "user.created", "event.created",
                                      "user.updated", "event.created", "user.created"}));
  const std::string u1(events[0].at("user").at("id").as_string());
  HttpResult user = Call("GET", Q("/v1/consents/users/" + u1), token_);
  EXPECT_EQ(user.Json().at("consents").at("purposes"),
            json::parse(R"([{"id":"p1","enabled":true},{"id":"p2","enabled":false}])"));

  HttpResult replayed =
      Call("POST", Q("/v1/consents/events"), token_, batch, {"Idempotency-Key: batch-1"});
  EXPECT_EQ(replayed.status, 201);
  EXPECT_EQ(replayed.body, created.body);
  EXPECT_EQ(replayed.Header("idempotent-replayed"), "true");
  EXPECT_EQ(Count("/v1/consents/events"), 3);

  // Erasing one of its users erases the remembered answer too: the key is forgotten.
  const std::string u2(events[2].at("user").at("id").as_string());
  ASSERT_EQ(Call("DELETE", Q("/v1/consents/users/" + u2), token_).status, 200);
  HttpResult after = Call("POST", Q("/v1/consents/events?$disable_integrations=true"), token_,
                          R"([{"user":{"organization_user_id":"u-3"},"consents":{}}])",
                          {"Idempotency-Key: batch-1"});
  EXPECT_EQ(after.status, 201) << "a new request under the forgotten key: " << after.body;
  EXPECT_EQ(after.Header("idempotent-replayed"), "");
  EXPECT_EQ(Types(Deliveries(integration)).size(), 7u) << "six, then user.deleted; quiet: none";
}

// A bad batch writes nothing and names the event and the field; so do a repeated id, inside the
// batch or already stored, and a batch of the wrong size.
TEST_F(ConsentApiTest, ABadBatchIsRefusedWholeNamingTheEvent) {
  std::string integration = CreateIntegration();
  PostEvent(R"({"id":"evt-1","user":{"organization_user_id":"u-0"},"consents":{}})");
  const size_t deliveries = Deliveries(integration).size();
  auto refuse = [&](const std::string& body, long status, const std::string& field) {
    HttpResult r = Call("POST", Q("/v1/consents/events"), token_, body);
    EXPECT_EQ(r.status, status) << body << " -> " << r.body;
    EXPECT_NE(r.body.find(field), std::string::npos) << r.body;
    return r;
  };
  std::string good = R"({"user":{"organization_user_id":"u-9"},"consents":{}})";
  HttpResult bad = refuse(
      "[" + good + "," + good + "," + good +
          R"(,{"user":{"organization_user_id":"u-8"},"consents":{"purposes":[{"id":"p","enabled":"yes"}]}}])",
      400, "[3].consents.purposes[0].enabled");
  EXPECT_TRUE(bad.Json().at("errors").as_object().contains("[3].consents.purposes[0].enabled"))
      << bad.body;
  refuse("[" + good + R"(,{"id":"evt-1","user":{"organization_user_id":"u-7"},"consents":{}}])",
         409, "[1]");
  refuse(R"([{"id":"evt-2","user":{"organization_user_id":"u-7"},"consents":{}},)"
         R"({"id":"evt-2","user":{"organization_user_id":"u-6"},"consents":{}}])",
         409, "[1]");
  refuse("[]", 400, "1 to 100");
  std::string many = "[";
  for (int i = 0; i < 101; ++i) many += (i ? "," : "") + good;
  refuse(many + "]", 400, "1 to 100");
  refuse("[" + good + ",42]", 400, "[1]");
  EXPECT_EQ(Count("/v1/consents/events"), 1);
  EXPECT_EQ(Count("/v1/consents/users"), 1);
  EXPECT_EQ(Deliveries(integration).size(), deliveries);
  // 100 is allowed.
  std::string hundred = "[";
  for (int i = 0; i < 100; ++i) hundred += (i ? "," : "") + good;
  HttpResult ok = Call("POST", Q("/v1/consents/events"), token_, hundred + "]");
  EXPECT_EQ(ok.status, 201);
  EXPECT_EQ(Count("/v1/consents/events"), 101);
}

// History in order: a user's consents are its confirmed events merged by created_at (then id),
// so a backdated import never overwrites a later choice; ties go to the greater id.
TEST_F(ConsentApiTest, ABackdatedEventNeverOverwritesALaterChoiceAndTiesGoByEventId) {
  std::string integration = CreateIntegration();
  auto post = [&](const std::string& id, const std::string& at, bool enabled,
                  const std::string& extra = "") {
    return PostEvent(
        R"({"id":")" + id + R"(","created_at":")" + at +
        R"(","user":{"organization_user_id":"u-h"},"consents":{"purposes":[{"id":"p","enabled":)" +
        (enabled ? "true" : "false") + "}]" + extra + "}}");
  };
  auto purposes = [&](const std::string& user) {
    HttpResult r = Call("GET", Q("/v1/consents/users/" + user), token_);
    EXPECT_EQ(r.status, 200) << r.body;
    return json::value(r.Json().at("consents"));
  };
  json::object later = post("evt-b", "2026-03-01T00:00:00Z", false);
  const std::string user(later.at("user").at("id").as_string());
  post("evt-a", "2025-01-01T00:00:00Z", true, R"(,"vendors":{"enabled":["v9"]})");
  json::value c = purposes(user);
  EXPECT_EQ(c.at("purposes"), json::parse(R"([{"id":"p","enabled":false}])"))
      << "the import of an older opt-in does not overwrite the opt-out";
  EXPECT_EQ(c.at("vendors").at("enabled"), json::parse(R"(["v9"])")) << "its own choice is kept";
  post("evt-c", "2026-03-01T00:00:00Z", true);  // same time as evt-b, greater id: wins
  EXPECT_EQ(purposes(user).at("purposes"), json::parse(R"([{"id":"p","enabled":true}])"));
  post("evt-0", "2026-03-01T00:00:00Z", false);  // same time, smaller id: sorts before both
  EXPECT_EQ(purposes(user).at("purposes"), json::parse(R"([{"id":"p","enabled":true}])"));
  // The webhooks tell the same story: user.updated only when the merge changed the user.
  EXPECT_EQ(
      Types(Deliveries(integration)),
      (std::vector<std::string>{"event.created", "user.created", "event.created", "user.updated",
                                "event.created", "user.updated", "event.created"}));
}

// Approvals: an event created pending_approval is stored and announced but leaves the user's
// consents alone; confirming it merges the user's confirmed events again (user.updated), and so
// does moving it back to pending_approval.
TEST_F(ConsentApiTest, APendingEventChangesTheUserOnlyOnceConfirmedAndUndoesOnReturn) {
  std::string integration = CreateIntegration();
  json::object first = PostEvent(
      R"({"created_at":"2026-01-01T00:00:00Z","user":{"organization_user_id":"u-ap"},"consents":{"purposes":[{"id":"p","enabled":true}]}})");
  const std::string user(first.at("user").at("id").as_string());
  json::object pending = PostEvent(
      R"({"status":"pending_approval","created_at":"2026-02-01T00:00:00Z","user":{"organization_user_id":"u-ap"},"consents":{"purposes":[{"id":"p","enabled":false}]}})");
  EXPECT_EQ(pending.at("status"), "pending_approval");
  const std::string event(pending.at("id").as_string());
  auto consents = [&] {
    return json::value(Call("GET", Q("/v1/consents/users/" + user), token_).Json().at("consents"));
  };
  EXPECT_EQ(consents().at("purposes"), json::parse(R"([{"id":"p","enabled":true}])"));
  EXPECT_EQ(Types(Deliveries(integration)),
            (std::vector<std::string>{"event.created", "user.created", "event.created"}))
      << "announced, and the user unchanged";

  HttpResult confirmed =
      Call("PATCH", Q("/v1/consents/events/" + event), token_, R"({"status":"confirmed"})");
  ASSERT_EQ(confirmed.status, 200) << confirmed.body;
  EXPECT_EQ(consents().at("purposes"), json::parse(R"([{"id":"p","enabled":false}])"));
  auto deliveries = Deliveries(integration);
  ASSERT_EQ(Types(deliveries),
            (std::vector<std::string>{"event.created", "user.created", "event.created",
                                      "event.updated", "user.updated"}));
  const json::value& update = deliveries.back().at("payload").at("parameters");
  EXPECT_EQ(update.at("source").at("id"), json::value(event));
  EXPECT_EQ(update.at("old_entity").at("consents").at("purposes"),
            json::parse(R"([{"id":"p","enabled":true}])"));
  EXPECT_EQ(update.at("new_entity").at("consents").at("purposes"),
            json::parse(R"([{"id":"p","enabled":false}])"));

  ASSERT_EQ(
      Call("PATCH", Q("/v1/consents/events/" + event), token_, R"({"status":"pending_approval"})")
          .status,
      200);
  EXPECT_EQ(consents().at("purposes"), json::parse(R"([{"id":"p","enabled":true}])"));
  EXPECT_EQ(Types(Deliveries(integration)).size(), 7u) << "event.updated and user.updated again";
  EXPECT_EQ(
      PostEvent(R"({"status":"approved","user":{"organization_user_id":"u-ap"},"consents":{}})",
                400)
          .at("errors")
          .as_object()
          .contains("status"),
      true);
}

TEST_F(ConsentApiTest, FiltersByEventTypeAndRegulation) {
  EnableFeature("org_a", "multi-regulation");
  std::string all = CreateIntegration();
  std::string users_only = CreateIntegration(R"("events":["user.created","user.updated"])");
  std::string ccpa = CreateIntegration(R"("regulations":["ccpa"])");
  std::string every_regulation = CreateIntegration(R"("regulations":["*"])");
  PostEvent(kFirstEvent);
  PostEvent(R"({"user":{"organization_user_id":"u-1"},"regulation":"ccpa",
    "consents":{"purposes":[{"id":"sale","enabled":false}]}})");
  EXPECT_EQ(Types(Deliveries(all)), (std::vector<std::string>{"event.created", "user.created"}));
  EXPECT_EQ(Types(Deliveries(users_only)), (std::vector<std::string>{"user.created"}));
  auto ccpa_deliveries = Deliveries(ccpa);
  ASSERT_EQ(Types(ccpa_deliveries), (std::vector<std::string>{"event.created", "user.updated"}));
  for (const auto& d : ccpa_deliveries) EXPECT_EQ(d.at("regulation"), "ccpa");
  EXPECT_EQ(Deliveries(every_regulation).size(), 4u);
}

TEST_F(ConsentApiTest, NonGdprEventsNeedMultiRegulationAtFanOut) {
  EnableFeature("org_a", "multi-regulation");
  std::string every_regulation = CreateIntegration(R"("regulations":["*"])");
  CommandResult off = RunRelay(
      {"orgs", "disable", "org_a", "--feature", "multi-regulation", "--data-dir", DataDir()});
  ASSERT_EQ(off.exit_code, 0);
  PostEvent(R"({"user":{"organization_user_id":"u-9"},"regulation":"cpra","consents":{}})");
  EXPECT_TRUE(Deliveries(every_regulation).empty());
  // The user exists (made by the cpra event); its first gdpr event changes it.
  PostEvent(R"({"user":{"organization_user_id":"u-9"},"consents":{}})");
  auto deliveries = Deliveries(every_regulation);
  EXPECT_EQ(Types(deliveries), (std::vector<std::string>{"event.created", "user.updated"}));
  for (const auto& d : deliveries) EXPECT_EQ(d.at("regulation"), "gdpr");
}

TEST_F(ConsentApiTest, FlattenedPayloadIsCheckedKeyByKey) {
  std::string flat = CreateIntegration(R"("flatten":true)");
  json::object event = PostEvent(R"({"user":{"organization_user_id":"u-f"},
    "metadata":{"source":{"page":"home"}},
    "consents":{"purposes":[{"id":"p1","enabled":true,"values":{"freq":{"value":"daily,weekly"}}}],
                "vendors":{"enabled":["v1"]},"tcfcs":"CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"}})");
  auto deliveries = Deliveries(flat);
  ASSERT_EQ(deliveries.size(), 2u);
  const json::object& entity =
      deliveries[0].at("payload").at("parameters").at("entity").as_object();
  json::object expected{{"id", event.at("id")},
                        {"organization_id", "org_a"},
                        {"created_at", event.at("created_at")},
                        {"updated_at", event.at("updated_at")},
                        {"regulation", "gdpr"},
                        {"status", "confirmed"},
                        {"metadata__source__page", "home"},
                        {"user__id", event.at("user").at("id")},
                        {"user__organization_user_id", "u-f"},
                        {"consents__purposes__0__id", "p1"},
                        {"consents__purposes__0__enabled", true},
                        {"consents__purposes__0__values__freq__value", "daily,weekly"},
                        {"consents__vendors__enabled__0", "v1"},
                        {"consents__vendors__disabled", json::array()},
                        {"consents__tcfcs", "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"}};
  EXPECT_EQ(entity.size(), expected.size());
  for (const auto& kv : expected) {
    ASSERT_TRUE(entity.contains(kv.key())) << kv.key();
    EXPECT_EQ(entity.at(kv.key()), kv.value()) << kv.key();
  }
}

TEST_F(ConsentApiTest, DisabledIntegrationGetsNoDeliveries) {
  std::string off = CreateIntegration();
  ASSERT_EQ(Call("PATCH", Q("/v1/marketplace/integrations/" + off), token_, R"({"enabled":false})")
                .status,
            200);
  std::string on = CreateIntegration();
  PostEvent(kFirstEvent);
  EXPECT_TRUE(Deliveries(off).empty());
  EXPECT_EQ(Deliveries(on).size(), 2u);
}

TEST_F(ConsentApiTest, DisablingWebhooksStopsNewDeliveriesButKeepsEvents) {
  std::string integration = CreateIntegration();
  ASSERT_EQ(RunRelay({"orgs", "disable", "org_a", "--feature", "webhooks", "--data-dir", DataDir()})
                .exit_code,
            0);
  PostEvent(kFirstEvent);
  EXPECT_TRUE(Deliveries(integration).empty());
  EXPECT_EQ(Count("/v1/consents/events"), 1);
}

TEST_F(ConsentApiTest, OrganizationsNeverReachEachOther) {
  ApiKey key_b = CreateKey({"org_b"});
  EnableFeature("org_b", "webhooks");
  std::string token_b = Token(key_b);
  std::string integration_a = CreateIntegration();
  std::string integration_b = CreateIntegration("", "org_b", token_b);
  json::object event = PostEvent(kFirstEvent);
  EXPECT_EQ(Deliveries(integration_a).size(), 2u);
  EXPECT_TRUE(Deliveries(integration_b, "org_b", token_b).empty());
  std::string event_id(event.at("id").as_string());
  std::string user_id(event.at("user").at("id").as_string());
  for (const std::string& path :
       {"/v1/consents/events/" + event_id, "/v1/consents/users/" + user_id}) {
    EXPECT_EQ(Call("GET", Q(path, "org_b"), token_b).status, 404) << path;
    EXPECT_EQ(Call("DELETE", Q(path, "org_b"), token_b).status, 404) << path;
    EXPECT_EQ(Call("GET", Q(path, "org_a"), token_b).status, 403) << path;
  }
  EXPECT_EQ(Call("GET", Q("/v1/marketplace/integrations/" + integration_a + "/deliveries", "org_b"),
                 token_b)
                .status,
            404);
  std::string dlv(Deliveries(integration_a)[0].at("id").as_string());
  EXPECT_EQ(Call("GET",
                 Q("/v1/marketplace/integrations/" + integration_a + "/deliveries/" + dlv, "org_b"),
                 token_b)
                .status,
            404);
  // The same client event id in another organization is another event.
  HttpResult b_event =
      Call("POST", Q("/v1/consents/events", "org_b"), token_b,
           R"({"id":"shared-id","user":{"organization_user_id":"u-1"},"consents":{}})");
  EXPECT_EQ(b_event.status, 201);
  PostEvent(R"({"id":"shared-id","user":{"organization_user_id":"u-1"},"consents":{}})");
  EXPECT_EQ(Deliveries(integration_b, "org_b", token_b).size(), 2u);
}

TEST_F(ConsentApiTest, RepeatedEventIdIsAConflictAndProducesNothing) {
  std::string integration = CreateIntegration();
  PostEvent(R"({"id":"evt-42","user":{"organization_user_id":"u-1"},"consents":{}})");
  size_t before = Deliveries(integration).size();
  json::object conflict =
      PostEvent(R"({"id":"evt-42","user":{"organization_user_id":"u-2"},"consents":{}})", 409);
  EXPECT_EQ(conflict.at("name"), "Conflict");
  EXPECT_EQ(Deliveries(integration).size(), before);
  EXPECT_EQ(Count("/v1/consents/users"), 1);
}

TEST_F(ConsentApiTest, IdempotencyKeyReplaysAndRefusesAnotherBody) {
  std::string integration = CreateIntegration();
  HttpResult first =
      Call("POST", Q("/v1/consents/events"), token_, kFirstEvent, {"Idempotency-Key: order-7"});
  ASSERT_EQ(first.status, 201);
  HttpResult again =
      Call("POST", Q("/v1/consents/events"), token_, kFirstEvent, {"Idempotency-Key: order-7"});
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.Header("idempotent-replayed"), "true");
  EXPECT_EQ(Deliveries(integration).size(), 2u);
  HttpResult other = Call("POST", Q("/v1/consents/events"), token_,
                          R"({"user":{"organization_user_id":"u-2"},"consents":{}})",
                          {"Idempotency-Key: order-7"});
  EXPECT_EQ(other.status, 422);
  EXPECT_EQ(other.Json().at("name"), "Unprocessable");
  EXPECT_EQ(Deliveries(integration).size(), 2u);
  EXPECT_EQ(Count("/v1/consents/events"), 1);
  // Another key is another request.
  Call("POST", Q("/v1/consents/events"), token_, kFirstEvent, {"Idempotency-Key: order-8"});
  EXPECT_EQ(Count("/v1/consents/events"), 2);
}

TEST_F(ConsentApiTest, BadInputWritesNothing) {
  std::string integration = CreateIntegration();
  const std::pair<std::string, std::string> kBad[] = {
      {R"({"user":{},"consents":{}})", "user"},
      {R"({"user":{"organization_user_id":"u"},"consents":{"purposes":[{"enabled":true}]}})",
       "consents.purposes[0].id"},
      {R"({"user":{"organization_user_id":"u"},"consents":{"purposes":[{"id":"a","enabled":1}]}})",
       "consents.purposes[0].enabled"},
      {R"({"user":{"organization_user_id":"u"},"consents":{"vendors":{"enabled":[true]}}})",
       "consents.vendors.enabled"},
      {R"({"user":{"organization_user_id":"u"},"consents":{},"extra":1})", "extra"},
      {R"({"user":{"organization_user_id":"u"},"consents":{},"regulation":"G D P R"})",
       "regulation"},
  };
  for (const auto& [body, field] : kBad) {
    json::object error = PostEvent(body, 400);
    EXPECT_TRUE(error.at("errors").as_object().contains(field)) << body;
  }
  PostEvent(R"({"user":{"id":"usr_unknown"},"consents":{}})", 404);
  PostEvent("{\"user\":", 400);
  EXPECT_EQ(Count("/v1/consents/events"), 0);
  EXPECT_EQ(Count("/v1/consents/users"), 0);
  EXPECT_TRUE(Deliveries(integration).empty());
}

TEST_F(ConsentApiTest, AnEventPassingAPerUserLimitAnswers400NamingItAndWritesNothing) {
  std::string integration = CreateIntegration();
  auto vendors = [](int from, int count) {
    json::array ids;
    for (int i = from; i < from + count; ++i) {
      std::string id = "vendor-";
      id += std::to_string(i);
      ids.emplace_back(id);
    }
    return ids;
  };
  auto event = [](const json::array& enabled) {
    return json::serialize(
        json::object{{"user", json::object{{"organization_user_id", "u-big"}}},
                     {"consents", json::object{{"vendors", json::object{{"enabled", enabled}}}}}});
  };
  PostEvent(event(vendors(0, 10'000)));
  PostEvent(event(vendors(10'000, 10'000)));
  const size_t deliveries_before = Deliveries(integration).size();
  json::object error = PostEvent(event(vendors(19'990, 11)), 400);
  ASSERT_TRUE(error.at("errors").as_object().contains("consents.vendors")) << error;
  EXPECT_NE(json::serialize(error).find("20000"), std::string::npos) << error;
  EXPECT_EQ(Count("/v1/consents/events"), 2);
  EXPECT_EQ(Deliveries(integration).size(), deliveries_before);
  HttpResult users = Call("GET", Q("/v1/consents/users"), token_);
  ASSERT_EQ(users.status, 200);
  EXPECT_EQ(json::serialize(users.Json()).find("vendor-20000"), std::string::npos);
  // Changing vendors already held never passes the limit.
  PostEvent(event(vendors(19'990, 10)));
}

TEST_F(ConsentApiTest, ListsEventsNewestFirstWithFilters) {
  PostEvent(R"({"user":{"organization_user_id":"u-1"},"consents":{},
               "created_at":"2026-01-01T00:00:00Z","id":"old"})");
  PostEvent(R"({"user":{"organization_user_id":"u-1"},"consents":{},
               "created_at":"2026-02-01T00:00:00Z","id":"new"})");
  PostEvent(R"({"user":{"organization_user_id":"u-2"},"consents":{},"id":"other"})");
  HttpResult r = Call("GET", Q("/v1/consents/events?organization_user_id=u-1"), token_);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Json().at("total"), 2);
  EXPECT_EQ(r.Json().at("data").as_array()[0].at("id"), "new");
  EXPECT_EQ(r.Json().at("data").as_array()[1].at("id"), "old");
  EXPECT_EQ(r.Json().at("data").as_array()[1].at("created_at"), "2026-01-01T00:00:00.000Z");
  std::string uid(r.Json().at("data").as_array()[0].at("user").at("id").as_string());
  EXPECT_EQ(Count("/v1/consents/events?user_id=" + uid), 2);
  EXPECT_EQ(Count("/v1/consents/events?organization_user_id=nobody"), 0);
  EXPECT_EQ(Count("/v1/consents/events?regulation=ccpa"), 0);
  EXPECT_EQ(Count("/v1/consents/events"), 3);
  HttpResult users = Call("GET", Q("/v1/consents/users?organization_user_id=u-2"), token_);
  ASSERT_EQ(users.Json().at("total"), 1);
  EXPECT_EQ(users.Json().at("data").as_array()[0].at("organization_user_id"), "u-2");
}

TEST_F(ConsentApiTest, DeliveriesFilterByStatusTypeAndTime) {
  std::string integration = CreateIntegration();
  PostEvent(kFirstEvent);
  std::string base = "/v1/marketplace/integrations/" + integration + "/deliveries";
  // Offset paging ($skip) counts the matches.
  auto count = [&](const std::string& filter) {
    return Count(base + "?$skip=0" + (filter.empty() ? "" : "&" + filter));
  };
  EXPECT_EQ(count(""), 2);
  EXPECT_EQ(count("type=user.created"), 1);
  EXPECT_EQ(count("status=pending"), 2);
  EXPECT_EQ(count("status=dead"), 0);
  EXPECT_EQ(count("since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z"), 2);
  EXPECT_EQ(count("until=2000-01-01T00:00:00Z"), 0);
  EXPECT_EQ(Call("GET", Q(base + "?status=lost"), token_).status, 400);
  EXPECT_EQ(Call("GET", Q(base + "?since=yesterday"), token_).status, 400);
  auto deliveries = Deliveries(integration);
  std::string id(deliveries[0].at("id").as_string());
  HttpResult one = Call("GET", Q(base + "/" + id), token_);
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(one.Json(), json::value(deliveries[0]));
  EXPECT_EQ(Call("GET", Q(base + "/dlv_nope"), token_).status, 404);
}

// Keyset pages: each names the next with `cursor` (null on the last), counts nothing, and takes
// the filters; a cursor of another integration, or with $skip, is a clear 400.
TEST_F(ConsentApiTest, DeliveriesArePagedByCursorNewestFirst) {
  std::string integration = CreateIntegration();
  std::string other = CreateIntegration();
  for (const char* user : {"u-1", "u-2", "u-3", "u-4"}) {
    PostEvent(std::string(R"({"user":{"organization_user_id":")") + user +
              R"("},"consents":{"purposes":[{"id":"analytics","enabled":true}]}})");
  }
  std::string base = "/v1/marketplace/integrations/" + integration + "/deliveries";
  std::vector<std::string> paged;
  json::value cursor = nullptr;
  int pages = 0;
  do {
    std::string path = base + "?$limit=3";
    if (cursor.is_string()) path += "&$cursor=" + std::string(cursor.as_string());
    HttpResult r = Call("GET", Q(path), token_);
    ASSERT_EQ(r.status, 200) << r.body;
    const json::value body = r.Json();
    const json::object& page = body.as_object();
    EXPECT_FALSE(page.contains("total")) << "a keyset page counts nothing";
    for (const auto& d : page.at("data").as_array()) paged.emplace_back(d.at("id").as_string());
    cursor = page.at("cursor");
    ASSERT_LT(++pages, 10);
  } while (!cursor.is_null());
  EXPECT_EQ(pages, 3) << "8 deliveries: 3, 3, 2";
  std::vector<std::string> all;
  for (const auto& d : Deliveries(integration)) all.emplace_back(d.at("id").as_string());
  std::reverse(all.begin(), all.end());  // newest first
  EXPECT_EQ(paged, all);
  // With a filter, and a page that ends exactly at the last match.
  HttpResult created = Call("GET", Q(base + "?$limit=4&type=user.created"), token_);
  ASSERT_EQ(created.status, 200);
  EXPECT_EQ(created.Json().at("data").as_array().size(), 4u);
  EXPECT_TRUE(created.Json().at("cursor").is_null());
  HttpResult wrong = Call("GET", Q(base + "?$cursor=" + all[0] + "&$skip=0"), token_);
  EXPECT_EQ(wrong.status, 400) << wrong.body;
  HttpResult foreign = Call(
      "GET", Q("/v1/marketplace/integrations/" + other + "/deliveries?$cursor=" + all[0]), token_);
  EXPECT_EQ(foreign.status, 400) << foreign.body;
  EXPECT_NE(foreign.body.find("$cursor"), std::string::npos) << foreign.body;
}

}  // namespace
}  // namespace relay::testing
