#include "consent/outbox.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/json.h"

namespace relay::consent {
namespace {
namespace json = boost::json;

TEST(FlattenTest, FlattensEntityKeyByKey) {
  json::object envelope = ParseJson(R"({"type":"event.created","regulation":"gdpr",
    "parameters":{"entity":{"id":"e1","user":{"id":"u1","metadata":{}},
      "consents":{"purposes":[{"id":"p","enabled":true,"values":{"pref":{"value":"a,b"}}}],
                  "vendors":{"enabled":["v1","v2"],"disabled":[]},"tcfcs":null}}}})")
                              ->as_object();
  json::object flat = FlattenEnvelope(envelope);
  EXPECT_EQ(flat.at("type"), "event.created");
  EXPECT_EQ(json::value(flat.at("parameters")), ParseJson(R"({"entity":{
      "id":"e1",
      "user__id":"u1",
      "user__metadata":{},
      "consents__purposes__0__id":"p",
      "consents__purposes__0__enabled":true,
      "consents__purposes__0__values__pref__value":"a,b",
      "consents__vendors__enabled__0":"v1",
      "consents__vendors__enabled__1":"v2",
      "consents__vendors__disabled":[],
      "consents__tcfcs":null}})")
                                                    .value());
}

TEST(FlattenTest, NewEntityBecomesTheFlatEntityAndTheRestStays) {
  json::object envelope = ParseJson(R"({"type":"user.updated","regulation":"gdpr",
    "parameters":{"source":{"id":"e"},"old_entity":{"id":"u","n":{"a":1}},
                  "new_entity":{"id":"u","n":{"a":2}}}})")
                              ->as_object();
  json::object params = FlattenEnvelope(envelope).at("parameters").as_object();
  EXPECT_FALSE(params.contains("new_entity"));
  EXPECT_EQ(json::value(params.at("entity")), ParseJson(R"({"id":"u","n__a":2})").value());
  EXPECT_EQ(json::value(params.at("old_entity")), ParseJson(R"({"id":"u","n":{"a":1}})").value());
  EXPECT_EQ(json::value(params.at("source")), ParseJson(R"({"id":"e"})").value());
}

}  // namespace
}  // namespace relay::consent
