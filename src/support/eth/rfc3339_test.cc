#include "support/eth/rfc3339.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace sg::eth {
namespace {

using namespace std::chrono;

WallTime Utc(int y, unsigned mo, unsigned d, int h, int mi, int s) {
  return WallTime(sys_days(year_month_day{year{y}, month{mo}, day{d}})) + hours(h) + minutes(mi) +
         seconds(s);
}

TEST(ParseRfc3339Test, ParsesUtcWithZ) {
  auto time = ParseRfc3339("2021-09-30T16:25:24Z");
  ASSERT_TRUE(time) << time.error().ToString();
  EXPECT_EQ(*time, Utc(2021, 9, 30, 16, 25, 24));
}

TEST(ParseRfc3339Test, AcceptsLowerCaseTAndZAsTheGrammarAllows) {
  EXPECT_EQ(ParseRfc3339("2021-09-30t16:25:24z").value(), Utc(2021, 9, 30, 16, 25, 24));
}

TEST(ParseRfc3339Test, AppliesNumericOffsets) {
  EXPECT_EQ(ParseRfc3339("2021-09-30T18:25:24+02:00").value(), Utc(2021, 9, 30, 16, 25, 24));
  EXPECT_EQ(ParseRfc3339("2021-09-30T10:55:24-05:30").value(), Utc(2021, 9, 30, 16, 25, 24));
  EXPECT_EQ(ParseRfc3339("2021-09-30T16:25:24-00:00").value(), Utc(2021, 9, 30, 16, 25, 24));
  // An offset can move the date.
  EXPECT_EQ(ParseRfc3339("2021-10-01T01:25:24+09:00").value(), Utc(2021, 9, 30, 16, 25, 24));
}

TEST(ParseRfc3339Test, ReadsFractionalSecondsUpToNanoseconds) {
  auto base = Utc(2021, 9, 30, 16, 25, 24);
  EXPECT_EQ(ParseRfc3339("2021-09-30T16:25:24.5Z").value(), base + milliseconds(500));
  EXPECT_EQ(ParseRfc3339("2021-09-30T16:25:24.123Z").value(), base + milliseconds(123));
  EXPECT_EQ(ParseRfc3339("2021-09-30T16:25:24.000000001Z").value(), base + nanoseconds(1));
  // Digits beyond nanoseconds are valid syntax and ignored.
  EXPECT_EQ(ParseRfc3339("2021-09-30T16:25:24.1234567899999Z").value(),
            base + nanoseconds(123456789));
}

TEST(ParseRfc3339Test, ChecksDaysAgainstMonthsAndLeapYears) {
  EXPECT_TRUE(ParseRfc3339("2024-02-29T00:00:00Z"));
  EXPECT_TRUE(ParseRfc3339("2000-02-29T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2023-02-29T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("1900-02-29T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2021-04-31T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2021-00-10T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2021-13-10T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2021-01-00T00:00:00Z"));
}

TEST(ParseRfc3339Test, LeapSecondCountsAsTheNextMinute) {
  EXPECT_EQ(ParseRfc3339("2016-12-31T23:59:60Z").value(), Utc(2017, 1, 1, 0, 0, 0));
}

TEST(ParseRfc3339Test, RejectsMalformedTextNamingTheProblem) {
  for (std::string_view bad : {"",
                               "2021-09-30",
                               "2021-09-30T16:25Z",
                               "2021-09-30 16:25:24Z",
                               "2021-09-30T16:25:24",
                               "2021-09-30T16:25:24Z ",
                               " 2021-09-30T16:25:24Z",
                               "21-09-30T16:25:24Z",
                               "2021-9-30T16:25:24Z",
                               "2021-09-30T24:00:00Z",
                               "2021-09-30T16:60:00Z",
                               "2021-09-30T16:25:61Z",
                               "2021-09-30T16:25:24.Z",
                               "2021-09-30T16:25:24+0200",
                               "2021-09-30T16:25:24+24:00",
                               "2021-09-30T16:25:24+02:60",
                               "2021-09-30T16:25:24UTC",
                               "2021-09-30T16:25:24ZZ",
                               "+021-09-30T16:25:24Z",
                               "2021-09-30T16:25:24,5Z"}) {
    auto time = ParseRfc3339(bad);
    ASSERT_FALSE(time) << bad;
    EXPECT_EQ(time.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(time.error().message.find("RFC 3339"), std::string::npos) << time.error().message;
  }
}

TEST(ParseRfc3339Test, RejectsYearsOutsideWallTimeRange) {
  auto time = ParseRfc3339("9999-12-31T23:59:59Z");
  ASSERT_FALSE(time);
  EXPECT_NE(time.error().message.find("out of range"), std::string::npos);
  EXPECT_FALSE(ParseRfc3339("0001-01-01T00:00:00Z"));
  EXPECT_TRUE(ParseRfc3339("2200-01-01T00:00:00Z"));
  EXPECT_TRUE(ParseRfc3339("1700-01-01T00:00:00Z"));
}

TEST(FormatRfc3339ExactTest, WritesUtcWithOnlyTheNeededFraction) {
  auto base = Utc(2021, 9, 30, 16, 25, 24);
  EXPECT_EQ(FormatRfc3339Exact(base), "2021-09-30T16:25:24Z");
  EXPECT_EQ(FormatRfc3339Exact(base + milliseconds(500)), "2021-09-30T16:25:24.5Z");
  EXPECT_EQ(FormatRfc3339Exact(base + nanoseconds(1)), "2021-09-30T16:25:24.000000001Z");
}

TEST(FormatRfc3339ExactTest, HandlesTimesBefore1970) {
  EXPECT_EQ(FormatRfc3339Exact(Utc(1969, 12, 31, 23, 59, 59) + milliseconds(250)),
            "1969-12-31T23:59:59.25Z");
}

TEST(FormatRfc3339ExactTest, ParseReadsFormatBackExactly) {
  for (WallTime time : {Utc(2021, 9, 30, 16, 25, 24) + nanoseconds(123456789),
                        Utc(1969, 7, 20, 20, 17, 40) + nanoseconds(7), Utc(1970, 1, 1, 0, 0, 0),
                        Utc(2100, 2, 28, 23, 59, 59)}) {
    auto parsed = ParseRfc3339(FormatRfc3339Exact(time));
    ASSERT_TRUE(parsed) << FormatRfc3339Exact(time);
    EXPECT_EQ(*parsed, time);
  }
}

}  // namespace
}  // namespace sg::eth
