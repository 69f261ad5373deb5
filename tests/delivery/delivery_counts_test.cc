// The /metrics counts: however often they are asked for, the store counts at most once per
// interval, and a failed count is reported, not hidden behind an old figure for ever.
#include "delivery/delivery_counts.h"

#include <gtest/gtest.h>

namespace relay::delivery {
namespace {

TEST(DeliveryCountsTest, ManyScrapesWithinTheIntervalCountOnceAndTheNextIntervalCountsAgain) {
  ManualClock clock(1'000'000);
  int reads = 0;
  DeliveryCounts counts(
      [&]() -> Result<store::DeliveryCounts> {
        ++reads;
        return store::DeliveryCounts{reads * 10, 0, reads};
      },
      clock, 1000);
  for (int i = 0; i < 500; ++i) {
    auto c = counts.Get();
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->pending, 10);
  }
  EXPECT_EQ(reads, 1);
  clock.AdvanceMillis(999);
  EXPECT_EQ(counts.Get()->pending, 10);
  EXPECT_EQ(reads, 1);
  clock.AdvanceMillis(1);
  EXPECT_EQ(counts.Get()->pending, 20);
  EXPECT_EQ(reads, 2);
}

TEST(DeliveryCountsTest, AFailedCountIsReportedUntilTheNextRead) {
  ManualClock clock(0);
  bool fail = true;
  DeliveryCounts counts(
      [&]() -> Result<store::DeliveryCounts> {
        if (fail) return Status(StatusCode::kUnavailable, "store down");
        return store::DeliveryCounts{3, 0, 0};
      },
      clock, 1000);
  EXPECT_FALSE(counts.Get().ok());
  fail = false;
  EXPECT_FALSE(counts.Get().ok()) << "within the interval the last result stands";
  clock.AdvanceMillis(1000);
  ASSERT_TRUE(counts.Get().ok());
  EXPECT_EQ(counts.Get()->pending, 3);
}

}  // namespace
}  // namespace relay::delivery
