#include "delivery/retry_policy.h"

#include <gtest/gtest.h>

namespace relay::delivery {
namespace {

TEST(RetryPolicyTest, DefaultScheduleIsFiveRetriesInFiveMinutes) {
  FixedRandom no_jitter(0.0);
  RetryPolicy policy(DefaultRetrySchedule(), no_jitter);
  EXPECT_EQ(policy.retries(), 5u);
  int64_t total = 0;
  for (int attempt = 1; attempt <= 5; ++attempt) total += *policy.NextDelay(attempt, std::nullopt);
  EXPECT_EQ(total, 300'000);
  EXPECT_FALSE(policy.NextDelay(6, std::nullopt).has_value()) << "the sixth attempt was the last";
}

TEST(RetryPolicyTest, JitterAddsUpToTenPercent) {
  FixedRandom max_jitter(0.999999);
  RetryPolicy policy({10'000}, max_jitter);
  EXPECT_EQ(*policy.NextDelay(1, std::nullopt), 10'999);
  FixedRandom half(0.5);
  EXPECT_EQ(*RetryPolicy({10'000}, half).NextDelay(1, std::nullopt), 10'500);
}

TEST(RetryPolicyTest, HonoursALongerRetryAfterUpToAnHour) {
  FixedRandom no_jitter(0.0);
  RetryPolicy policy({10'000, 10'000}, no_jitter);
  EXPECT_EQ(*policy.NextDelay(1, 60'000), 60'000);
  EXPECT_EQ(*policy.NextDelay(1, 5'000), 10'000) << "a shorter Retry-After does not hurry us";
  EXPECT_EQ(*policy.NextDelay(1, 99'000'000), kMaxRetryAfterMillis);
  EXPECT_FALSE(policy.NextDelay(3, 60'000).has_value()) << "Retry-After does not add attempts";
}

TEST(RetryPolicyTest, ParsesSchedules) {
  EXPECT_EQ(*ParseRetrySchedule("10s,30s,1m,90s,110s"), DefaultRetrySchedule());
  EXPECT_EQ(*ParseRetrySchedule("200ms"), std::vector<int64_t>{200});
  EXPECT_EQ(*ParseRetrySchedule("1h"), std::vector<int64_t>{3'600'000});
  for (const char* bad : {"", "10", "10x", "s", "-1s", "1s,", ",1s", "25h", "1s 2s"}) {
    EXPECT_FALSE(ParseRetrySchedule(bad).ok()) << bad;
  }
}

TEST(RetryAfterTest, ParsesSecondsAndHttpDates) {
  const int64_t now = 1445412480000;  // Wed, 21 Oct 2015 07:28:00 GMT
  EXPECT_EQ(ParseRetryAfter("120", now), 120'000);
  EXPECT_EQ(ParseRetryAfter(" 7 ", now), 7'000);
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:30:00 GMT", now), 120'000);
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:00:00 GMT", now), 0) << "a past date: now";
  EXPECT_EQ(ParseRetryAfter("99999999999999999999999", now), kMaxRetryAfterMillis);
  EXPECT_FALSE(ParseRetryAfter("soon", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("-5", now).has_value());
}

// Found by fuzz_http_parsers: a date in the year 318304465 overflowed int64 milliseconds.
TEST(RetryAfterTest, AFarFutureDateIsCappedNotOverflowed) {
  EXPECT_EQ(ParseRetryAfter("21Oct00318304465", 1'795'910'571'000), kMaxRetryAfterMillis);
  EXPECT_EQ(ParseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", 1'795'910'571'000),
            kMaxRetryAfterMillis);
}

}  // namespace
}  // namespace relay::delivery
