#include <gtest/gtest.h>

#include "common/ids.h"
#include "common/time_format.h"

namespace relay {
namespace {

TEST(IdsTest, IdsArePrefixedWellFormedAndSortByTime) {
  std::string a = NewId("int_", 1700000000000);
  std::string b = NewId("int_", 1700000000001);
  EXPECT_TRUE(IsWellFormedId(a, "int_"));
  EXPECT_FALSE(IsWellFormedId(a, "msg_"));
  EXPECT_LT(a, b);
  EXPECT_NE(NewId("int_", 1), NewId("int_", 1));
  // Made in one millisecond by one thread, ids increase in the order they were made.
  std::string previous = NewId("evt_", 1700000000005);
  for (int i = 0; i < 1000; ++i) {
    std::string next = NewId("evt_", 1700000000005);
    ASSERT_LT(previous, next) << i;
    previous = next;
  }
  EXPECT_EQ(a.find('.'), std::string::npos);
}

TEST(TimeFormatTest, FormatsUtcWithMilliseconds) {
  EXPECT_EQ(FormatTimestamp(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatTimestamp(1795910571123), "2026-11-29T00:02:51.123Z");
}

TEST(TimeFormatTest, ParsesWhatItFormatsAndOffsets) {
  EXPECT_EQ(ParseTimestamp("2026-11-29T00:02:51.123Z"), 1795910571123);
  EXPECT_EQ(ParseTimestamp("2026-11-29T01:02:51.123+01:00"), 1795910571123);
  EXPECT_EQ(ParseTimestamp("2026-11-29T00:02:51Z"), 1795910571000);
  EXPECT_FALSE(ParseTimestamp("2026-02-30T00:00:00Z").has_value());
  EXPECT_FALSE(ParseTimestamp("2026-11-29 00:02:51").has_value());
  EXPECT_FALSE(ParseTimestamp("2026-11-29T00:02:51Zjunk").has_value());
}

}  // namespace
}  // namespace relay
