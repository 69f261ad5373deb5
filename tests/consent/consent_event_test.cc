#include "consent/consent_event.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/json.h"

namespace relay::consent {
namespace {
namespace json = boost::json;

json::object Obj(const std::string& text) { return ParseJson(text)->as_object(); }

TEST(EventInputTest, NormalizesAMinimalEvent) {
  auto in = ParseEventInput(Obj(R"({"user":{"organization_user_id":"u1"},"consents":{}})"));
  ASSERT_TRUE(in.ok()) << in.status().message();
  EXPECT_EQ(in->regulation, "gdpr");
  EXPECT_EQ(in->organization_user_id, "u1");
  EXPECT_EQ(in->consents, EmptyConsents());
}

struct BadEvent {
  std::string body;
  std::string field;
};

class EventInputRejects : public ::testing::TestWithParam<BadEvent> {};

TEST_P(EventInputRejects, NamingTheField) {
  auto in = ParseEventInput(Obj(GetParam().body));
  ASSERT_FALSE(in.ok()) << GetParam().body;
  EXPECT_EQ(in.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(in.status().field_errors().count(GetParam().field), 1u) << in.status().message();
}

std::string ManyPurposes(size_t n) {
  std::string s = R"({"user":{"id":"u"},"consents":{"purposes":[)";
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) s.push_back(',');
    s.append(R"({"id":"p)").append(std::to_string(i)).append("\"}");
  }
  return s + "]}}";
}

std::string ManyVendors(size_t n) {
  std::string s = R"({"user":{"id":"u"},"consents":{"vendors":{"enabled":[)";
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) s.push_back(',');
    s.append("\"v").append(std::to_string(i)).append("\"");
  }
  return s + "]}}}";
}

INSTANTIATE_TEST_SUITE_P(
    EveryRule, EventInputRejects,
    ::testing::Values(
        BadEvent{R"({"consents":{}})", "user"}, BadEvent{R"({"user":{},"consents":{}})", "user"},
        BadEvent{R"({"user":{"metadata":{}},"consents":{}})", "user"},
        BadEvent{R"({"user":{"id":7},"consents":{}})", "user.id"},
        BadEvent{R"({"user":{"id":"u","name":"x"},"consents":{}})", "user.name"},
        BadEvent{R"({"user":{"id":"u"}})", "consents"},
        BadEvent{R"({"user":{"id":"u"},"consents":{"purposes":[{"enabled":true}]}})",
                 "consents.purposes[0].id"},
        BadEvent{R"({"user":{"id":"u"},"consents":{"purposes":[{"id":"a"},{"id":""}]}})",
                 "consents.purposes[1].id"},
        BadEvent{R"({"user":{"id":"u"},"consents":{"purposes":[{"id":"a","enabled":"yes"}]}})",
                 "consents.purposes[0].enabled"},
        BadEvent{R"({"user":{"id":"u"},"consents":{"purposes":[{"id":"a"},{"id":"a"}]}})",
                 "consents.purposes[1].id"},
        BadEvent{R"({"user":{"id":"u"},"consents":{"purposes":{"id":"a"}}})", "consents.purposes"},
        BadEvent{
            R"({"user":{"id":"u"},"consents":{"purposes":[{"id":"a","values":{"p":{"value":1}}}]}})",
            "consents.purposes[0].values.p.value"},
        BadEvent{R"({"user":{"id":"u"},"consents":{"vendors":{"enabled":"google"}}})",
                 "consents.vendors.enabled"},
        BadEvent{R"({"user":{"id":"u"},"consents":{"vendors":{"disabled":[1,2]}}})",
                 "consents.vendors.disabled"},
        BadEvent{R"({"user":{"id":"u"},"consents":{"vendors":{"maybe":[]}}})",
                 "consents.vendors.maybe"},
        BadEvent{R"({"user":{"id":"u"},"consents":{"tcfcs":5}})", "consents.tcfcs"},
        BadEvent{R"({"user":{"id":"u"},"consents":{},"regulation":"GDPR"})", "regulation"},
        BadEvent{R"({"user":{"id":"u"},"consents":{},"regulation":""})", "regulation"},
        BadEvent{
            R"({"user":{"id":"u"},"consents":{},"regulation":"a-very-long-regulation-id-over-32"})",
            "regulation"},
        BadEvent{R"({"user":{"id":"u"},"consents":{},"color":"blue"})", "color"},
        BadEvent{R"({"user":{"id":"u"},"consents":{},"status":"approved"})", "status"},
        BadEvent{R"({"user":{"id":"u"},"consents":{},"id":"has space"})", "id"},
        BadEvent{R"({"user":{"id":"u"},"consents":{},"created_at":"yesterday"})", "created_at"},
        BadEvent{R"({"user":{"id":"u"},"consents":{},"metadata":[]})", "metadata"},
        BadEvent{R"({"user":{"id":"u"},"consents":{},"delegate":{"role":"x"}})", "delegate.role"},
        BadEvent{ManyPurposes(1001), "consents.purposes"},
        BadEvent{ManyVendors(10001), "consents.vendors"}),
    [](const ::testing::TestParamInfo<BadEvent>& info) {
      std::string name = std::to_string(info.index) + "_";
      for (char c : info.param.field) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

TEST(EventInputTest, AcceptsTheLimits) {
  EXPECT_TRUE(ParseEventInput(Obj(ManyPurposes(1000))).ok());
  EXPECT_TRUE(ParseEventInput(Obj(ManyVendors(10000))).ok());
}

json::object Consents(const std::string& text) {
  auto in = ParseEventInput(Obj(R"({"user":{"id":"u"},"consents":)" + text + "}"));
  EXPECT_TRUE(in.ok()) << in.status().message();
  return in->consents;
}

// History in order (FoldConsents): a user's status is its confirmed events merged by created_at,
// then id, whatever order they arrived in.
HistoryEntry Choice(int64_t at, const std::string& id, const std::string& purpose, bool enabled,
                    const std::string& vendor = "") {
  std::string text = R"({"user":{"organization_user_id":"u"},"consents":{"purposes":[{"id":")" +
                     purpose + R"(","enabled":)" + (enabled ? "true" : "false") + "}]";
  if (!vendor.empty()) text += R"(,"vendors":{"enabled":[")" + vendor + R"("]})";
  text += "}}";
  auto in = ParseEventInput(Obj(text));
  EXPECT_TRUE(in.ok());
  return HistoryEntry{at, id, in.ok() ? in->consents : json::object()};
}

json::value Purposes(const Result<json::object>& status) {
  return status.ok() ? status->at("purposes") : json::value(nullptr);
}

TEST(HistoryOrderTest, ABackdatedEventDoesNotOverwriteALaterChoiceButAddsItsOwn) {
  // Arrival order: the opt-out at 200, then an import of an opt-in at 100 with a vendor.
  auto status =
      FoldConsents({Choice(200, "evt-2", "p", false), Choice(100, "evt-1", "p", true, "v9")});
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(Purposes(status), json::parse(R"([{"id":"p","enabled":false}])"));
  EXPECT_EQ(status->at("vendors").at("enabled"), json::parse(R"(["v9"])"))
      << "a choice only the backdated event made is kept";
  // In arrival order the opt-in would have won: the rule is order by time, not arrival.
  json::object arrival = EmptyConsents();
  ASSERT_TRUE(MergeConsents(arrival, Choice(200, "evt-2", "p", false).consents).ok());
  ASSERT_TRUE(MergeConsents(arrival, Choice(100, "evt-1", "p", true).consents).ok());
  EXPECT_EQ(arrival.at("purposes"), json::parse(R"([{"id":"p","enabled":true}])"));
}

TEST(HistoryOrderTest, EqualTimesBreakTiesByEventId) {
  for (auto order : {std::vector<int>{0, 1}, std::vector<int>{1, 0}}) {
    std::vector<HistoryEntry> both = {Choice(100, "evt-a", "p", true),
                                      Choice(100, "evt-b", "p", false)};
    std::vector<HistoryEntry> entries = {both[order[0]], both[order[1]]};
    EXPECT_EQ(Purposes(FoldConsents(entries)), json::parse(R"([{"id":"p","enabled":false}])"))
        << "evt-b sorts after evt-a, whichever came first";
  }
  EXPECT_TRUE(Before(HistoryEntry{100, "evt-a", {}}, HistoryEntry{100, "evt-b", {}}));
  EXPECT_TRUE(Before(HistoryEntry{99, "evt-z", {}}, HistoryEntry{100, "evt-a", {}}));
}

TEST(HistoryOrderTest, AnApprovalFlippingBackAndForthTogglesOnlyItsOwnChoice) {
  // The confirmed history without, with, and again without the event awaiting approval (the
  // service merges only confirmed events): the result comes back exactly.
  const std::vector<HistoryEntry> confirmed = {Choice(100, "evt-1", "p", true),
                                               Choice(300, "evt-3", "q", true)};
  const HistoryEntry pending = Choice(200, "evt-2", "p", false);
  auto without = FoldConsents(confirmed);
  std::vector<HistoryEntry> with = confirmed;
  with.push_back(pending);
  auto approved = FoldConsents(with);
  ASSERT_TRUE(without.ok() && approved.ok());
  EXPECT_EQ(Purposes(without),
            json::parse(R"([{"id":"p","enabled":true},{"id":"q","enabled":true}])"));
  EXPECT_EQ(Purposes(approved),
            json::parse(R"([{"id":"p","enabled":false},{"id":"q","enabled":true}])"));
  EXPECT_EQ(*FoldConsents(confirmed), *without) << "back to pending: as before";
  // Approved later than a newer choice on p, it does not overwrite that one.
  with.push_back(Choice(250, "evt-4", "p", true));
  EXPECT_EQ(Purposes(FoldConsents(with)),
            json::parse(R"([{"id":"p","enabled":true},{"id":"q","enabled":true}])"));
}

TEST(MergeConsentsTest, PurposesMergeById) {
  json::object status;
  ASSERT_TRUE(MergeConsents(status, Consents(R"({"purposes":[{"id":"a","enabled":true,
      "values":{"p1":{"value":"x"}}},{"id":"b","enabled":false}]})"))
                  .ok());
  ASSERT_TRUE(MergeConsents(status, Consents(R"({"purposes":[{"id":"a","enabled":null,
      "values":{"p2":{"value":"y,z"}}},{"id":"b","enabled":true},{"id":"c","enabled":null}]})"))
                  .ok());
  EXPECT_EQ(json::value(status.at("purposes")), ParseJson(R"([
      {"id":"a","enabled":true,"values":{"p1":{"value":"x"},"p2":{"value":"y,z"}}},
      {"id":"b","enabled":true},
      {"id":"c","enabled":null}])")
                                                    .value());
}

TEST(MergeConsentsTest, VendorsMoveBetweenSets) {
  json::object status;
  ASSERT_TRUE(
      MergeConsents(status, Consents(R"({"vendors":{"enabled":["v2","v1"],"disabled":["v3"]}})"))
          .ok());
  ASSERT_TRUE(
      MergeConsents(status, Consents(R"({"vendors":{"enabled":["v3"],"disabled":["v1"]}})")).ok());
  EXPECT_EQ(json::value(status.at("vendors")),
            ParseJson(R"({"enabled":["v2","v3"],"disabled":["v1"]})").value());
}

// prefix + i, built with += (GCC 12 warns falsely on "literal" + std::to_string(i)).
std::string Numbered(std::string prefix, int i) {
  prefix += std::to_string(i);
  return prefix;
}

json::object VendorEvent(const std::string& list, int from, int count) {
  json::array ids;
  for (int i = from; i < from + count; ++i) ids.emplace_back(Numbered("vendor-", i));
  json::object consents = EmptyConsents();
  consents["vendors"].as_object()[list] = std::move(ids);
  return consents;
}

TEST(MergeConsentsTest, AUserAtTheVendorLimitIsRefusedNamingItAndKeepsItsState) {
  json::object status;
  for (int from = 0; from < 20'000; from += 5'000) {
    ASSERT_TRUE(MergeConsents(status, VendorEvent("enabled", from, 5'000)).ok());
  }
  ASSERT_EQ(status.at("vendors").at("enabled").as_array().size(), 20'000u);
  const json::object before = status;
  Status refused = MergeConsents(status, VendorEvent("disabled", 20'000, 1));
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("consents.vendors"), std::string::npos) << refused.message();
  EXPECT_NE(refused.message().find(std::to_string(kMaxUserVendors)), std::string::npos);
  EXPECT_EQ(status, before);
  // Moving vendors between the lists never adds any: at the limit, that still works.
  ASSERT_TRUE(MergeConsents(status, VendorEvent("disabled", 0, 10'000)).ok());
  EXPECT_EQ(status.at("vendors").at("enabled").as_array().size(), 10'000u);
  EXPECT_EQ(status.at("vendors").at("disabled").as_array().size(), 10'000u);
}

TEST(MergeConsentsTest, AUserAtThePurposeLimitIsRefusedNamingIt) {
  json::object status;
  for (int from = 0; from < 2'000; from += 1'000) {
    json::array purposes;
    for (int i = from; i < from + 1'000; ++i) {
      purposes.emplace_back(json::object{{"id", Numbered("p", i)}, {"enabled", true}});
    }
    json::object consents = EmptyConsents();
    consents["purposes"] = std::move(purposes);
    ASSERT_TRUE(MergeConsents(status, consents).ok());
  }
  const json::object before = status;
  json::object one_more = EmptyConsents();
  one_more["purposes"] = json::array{json::object{{"id", "p-new"}, {"enabled", false}},
                                     json::object{{"id", "p0"}, {"enabled", false}}};
  Status refused = MergeConsents(status, one_more);
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find(std::to_string(kMaxUserPurposes)), std::string::npos);
  EXPECT_EQ(status, before);  // p0 is not half-changed
}

TEST(MergeConsentsTest, AMalformedStoredStateIsAnErrorNotAThrow) {
  json::object status{{"purposes", "not-an-array"}};
  EXPECT_EQ(MergeConsents(status, Consents(R"({"tcfcs":"x"})")).code(), StatusCode::kInternal);
  json::object vendors_bad = EmptyConsents();
  vendors_bad["vendors"].as_object()["enabled"] = json::array{1, 2};
  EXPECT_EQ(MergeConsents(vendors_bad, Consents(R"({"vendors":{"enabled":["v"]}})")).code(),
            StatusCode::kInternal);
}

TEST(MergeConsentsTest, LatestTcfStringWins) {
  json::object status;
  ASSERT_TRUE(MergeConsents(status, Consents(R"({"tcfcs":"first"})")).ok());
  ASSERT_TRUE(MergeConsents(status, Consents(R"({"tcfcs":null})")).ok());
  EXPECT_EQ(status.at("tcfcs"), "first");
  ASSERT_TRUE(MergeConsents(status, Consents(R"({"tcfcs":"second"})")).ok());
  EXPECT_EQ(status.at("tcfcs"), "second");
}

}  // namespace
}  // namespace relay::consent
