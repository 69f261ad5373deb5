#include "common/json.h"

#include <gtest/gtest.h>

namespace relay {
namespace {

TEST(JsonTest, ParsesValidJson) {
  auto v = ParseJson(" {\"a\": [1, 2, {\"b\": null}]} \n");
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->as_object().at("a").as_array().size(), 3u);
}

TEST(JsonTest, ReportsLineAndColumnOfTheSeedsBrokenBody) {
  // The seed page's second example: the authentication object is never closed.
  const char* body =
      "{\n"
      "  \"type_id\": \"webhook-http\",\n"
      "  \"authentication\": {\n"
      "    \"url\": \"https://api.my-site.com/oauth/token\",\n"
      "    \"client_id\": \"***************\",\n"
      "    \"client_secret\": \"******************\"\n"
      "  \"properties\": {\n"
      "    \"url\": \"https://api.my-site.com/consents\"\n"
      "  }\n"
      "}\n";
  auto v = ParseJson(body);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(v.status().message().find("line 7, column 3"), std::string::npos)
      << v.status().message();
}

TEST(JsonTest, RefusesTrailingGarbageAndTruncation) {
  auto trailing = ParseJson("{} x");
  ASSERT_FALSE(trailing.ok());
  EXPECT_NE(trailing.status().message().find("line 1, column 4"), std::string::npos)
      << trailing.status().message();
  EXPECT_FALSE(ParseJson("{\"a\": ").ok());
  EXPECT_FALSE(ParseJson("").ok());
}

TEST(JsonTest, LimitsNestingTo64Levels) {
  std::string ok = std::string(64, '[') + std::string(64, ']');
  EXPECT_TRUE(ParseJson(ok).ok());
  std::string deep = std::string(65, '[') + std::string(65, ']');
  auto v = ParseJson(deep);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("nesting deeper than 64"), std::string::npos);
}

TEST(MergePatchTest, FollowsRfc7396) {
  boost::json::value target = ParseJson(R"({"a":"b","c":{"d":"e","f":"g"}})").value();
  ApplyMergePatch(target, ParseJson(R"({"a":"z","c":{"f":null}})").value());
  EXPECT_EQ(target, ParseJson(R"({"a":"z","c":{"d":"e"}})").value());
  ApplyMergePatch(target, ParseJson(R"({"c":null,"n":{"x":1}})").value());
  EXPECT_EQ(target, ParseJson(R"({"a":"z","n":{"x":1}})").value());
}

}  // namespace
}  // namespace relay

namespace relay {
namespace {

TEST(SanitizeTextTest, KeepsValidTextAndReplacesWhatIsNot) {
  EXPECT_EQ(SanitizeText("plain é € 𝄞"), "plain é € 𝄞");
  const std::string bad = "\xef\xbf\xbd";
  EXPECT_EQ(SanitizeText(std::string("a\0b", 3)), "a" + bad + "b");
  EXPECT_EQ(SanitizeText("\xff\xfe"), bad + bad);
  EXPECT_EQ(SanitizeText("\xc0\xaf"), bad + bad) << "an overlong '/'";
  EXPECT_EQ(SanitizeText("\xed\xa0\x80"), bad + bad + bad) << "a UTF-16 surrogate";
  EXPECT_EQ(SanitizeText("cut \xe2\x82"), "cut " + bad + bad) << "a truncated sequence";
}

}  // namespace
}  // namespace relay
