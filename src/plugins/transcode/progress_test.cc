#include "plugins/transcode/progress.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sg::plugins::transcode {
namespace {

std::optional<ProgressSnapshot> FeedAll(ProgressParser& parser,
                                        const std::vector<std::string>& lines) {
  std::optional<ProgressSnapshot> last;
  for (const auto& line : lines) {
    if (auto snapshot = parser.Feed(line)) {
      last = snapshot;
    }
  }
  return last;
}

TEST(ProgressParserTest, ABlockGivesPercentSpeedAndEta) {
  ProgressParser parser(10);
  auto snapshot = FeedAll(
      parser, {"frame=75", "fps=0.00", "bitrate=N/A", "out_time_us=2500000", "out_time_ms=2500000",
               "out_time=00:00:02.500000", "speed=2.5x", "progress=continue"});
  ASSERT_TRUE(snapshot);
  EXPECT_DOUBLE_EQ(snapshot->out_time_seconds, 2.5);
  EXPECT_DOUBLE_EQ(snapshot->percent, 25);
  ASSERT_TRUE(snapshot->speed);
  EXPECT_DOUBLE_EQ(*snapshot->speed, 2.5);
  ASSERT_TRUE(snapshot->eta_seconds);
  EXPECT_DOUBLE_EQ(*snapshot->eta_seconds, 3);  // 7.5 s left at 2.5x
  EXPECT_FALSE(snapshot->end);
}

TEST(ProgressParserTest, OnlyTheProgressLineEndsABlock) {
  ProgressParser parser(10);
  EXPECT_FALSE(parser.Feed("out_time_us=1000000"));
  EXPECT_FALSE(parser.Feed("speed=1x"));
  EXPECT_FALSE(parser.Feed("garbage without equals"));
  EXPECT_TRUE(parser.Feed("progress=continue"));
}

TEST(ProgressParserTest, NotAvailableValuesKeepThePreviousOnes) {
  ProgressParser parser(10);
  FeedAll(parser, {"out_time_us=4000000", "speed=2x", "progress=continue"});
  auto snapshot = FeedAll(parser, {"out_time_us=N/A", "speed=N/A", "progress=continue"});
  ASSERT_TRUE(snapshot);
  EXPECT_DOUBLE_EQ(snapshot->percent, 40);
  EXPECT_DOUBLE_EQ(*snapshot->speed, 2);
}

TEST(ProgressParserTest, SpeedUnknownAtTheStartMeansNoEta) {
  ProgressParser parser(10);
  auto snapshot = FeedAll(parser, {"out_time_us=-23220", "speed=N/A", "progress=continue"});
  ASSERT_TRUE(snapshot);
  EXPECT_DOUBLE_EQ(snapshot->percent, 0);  // negative at the start: clamped
  EXPECT_FALSE(snapshot->speed);
  EXPECT_FALSE(snapshot->eta_seconds);
}

TEST(ProgressParserTest, PercentIsClampedAndEndIsHundred) {
  ProgressParser parser(2);
  auto over = FeedAll(parser, {"out_time_us=2100000", "speed=1x", "progress=continue"});
  EXPECT_DOUBLE_EQ(over->percent, 100);
  auto end = FeedAll(parser, {"progress=end"});
  ASSERT_TRUE(end);
  EXPECT_TRUE(end->end);
  EXPECT_DOUBLE_EQ(end->percent, 100);
  EXPECT_DOUBLE_EQ(*end->eta_seconds, 0);
}

TEST(ProgressParserTest, UnknownDurationGivesNoPercentUntilTheEnd) {
  ProgressParser parser(0);
  auto snapshot = FeedAll(parser, {"out_time_us=5000000", "speed=3x", "progress=continue"});
  EXPECT_DOUBLE_EQ(snapshot->percent, 0);
  EXPECT_FALSE(snapshot->eta_seconds);
  EXPECT_DOUBLE_EQ(snapshot->out_time_seconds, 5);
}

TEST(ProgressParserTest, ToleratesCarriageReturnsAndSpaces) {
  ProgressParser parser(4);
  auto snapshot = FeedAll(parser, {"out_time_us=1000000\r", "speed= 1.5x", "progress=continue\r"});
  ASSERT_TRUE(snapshot);
  EXPECT_DOUBLE_EQ(snapshot->percent, 25);
  EXPECT_DOUBLE_EQ(*snapshot->speed, 1.5);
}

}  // namespace
}  // namespace sg::plugins::transcode
