// W3C Trace Context parsing and continuation.
#include "common/trace_context.h"

#include <gtest/gtest.h>

namespace relay {
namespace {

constexpr char kValid[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceContextTest, AcceptsOnlyTheW3cGrammar) {
  EXPECT_EQ(ParseTraceparent(kValid), kValid);
  // A later version may carry more fields; it is continued as version 00.
  EXPECT_EQ(ParseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"),
            kValid);
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  // 00 is 55 chars
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",        // version ff
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",        // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",        // zero parent id
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",        // upper case
           "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",        // misplaced dash
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",        // not hex
       }) {
    EXPECT_FALSE(ParseTraceparent(bad).has_value()) << bad;
  }
}

TEST(TraceContextTest, AChildKeepsTraceAndFlagsWithANewSpan) {
  std::string child = ChildTraceparent(kValid);
  ASSERT_TRUE(ParseTraceparent(child).has_value()) << child;
  EXPECT_EQ(child.substr(0, 36), std::string(kValid).substr(0, 36));
  EXPECT_EQ(child.substr(52), "-01");
  EXPECT_NE(child.substr(36, 16), "00f067aa0ba902b7");
  EXPECT_EQ(TraceIdOf(child), "4bf92f3577b34da6a3ce929d0e0e4736");
  // Without a valid parent, a new sampled trace.
  std::string fresh = ChildTraceparent("garbage");
  ASSERT_TRUE(ParseTraceparent(fresh).has_value()) << fresh;
  EXPECT_NE(TraceIdOf(fresh), TraceIdOf(NewTraceparent()));
  EXPECT_EQ(TraceIdOf("garbage"), "");
}

}  // namespace
}  // namespace relay
