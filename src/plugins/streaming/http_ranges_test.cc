#include "plugins/streaming/http_ranges.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sg::plugins::streaming {
namespace {

using namespace std::chrono;

struct RangeCase {
  std::string name;
  std::string header;
  RangeKind kind;
  std::uint64_t first = 0;
  std::uint64_t last = 0;
};

class RangeTableTest : public ::testing::TestWithParam<RangeCase> {};

// Against an object of 1000 bytes.
TEST_P(RangeTableTest, InterpretsTheHeader) {
  const auto& c = GetParam();
  auto decision = ParseRange(c.header, 1000);
  EXPECT_EQ(decision.kind, c.kind) << c.header;
  if (c.kind == RangeKind::kPartial) {
    EXPECT_EQ(decision.span.first, c.first) << c.header;
    EXPECT_EQ(decision.span.last, c.last) << c.header;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Ranges, RangeTableTest,
    ::testing::Values(
        RangeCase{"FirstByte", "bytes=0-0", RangeKind::kPartial, 0, 0},
        RangeCase{"LastByte", "bytes=999-999", RangeKind::kPartial, 999, 999},
        RangeCase{"Middle", "bytes=100-199", RangeKind::kPartial, 100, 199},
        RangeCase{"OpenEnded", "bytes=500-", RangeKind::kPartial, 500, 999},
        RangeCase{"Suffix", "bytes=-100", RangeKind::kPartial, 900, 999},
        RangeCase{"SuffixLongerThanTheObject", "bytes=-5000", RangeKind::kPartial, 0, 999},
        RangeCase{"EndBeyondTheObjectIsClamped", "bytes=990-5000", RangeKind::kPartial, 990, 999},
        RangeCase{"SpacesAroundAreTolerated", " bytes=1-2 ", RangeKind::kPartial, 1, 2},
        RangeCase{"StartAtTheEnd", "bytes=1000-", RangeKind::kUnsatisfiable},
        RangeCase{"StartBeyondTheEnd", "bytes=5000-6000", RangeKind::kUnsatisfiable},
        RangeCase{"EmptySuffix", "bytes=-0", RangeKind::kUnsatisfiable},
        RangeCase{"Reversed", "bytes=500-100", RangeKind::kWhole},
        RangeCase{"OtherUnit", "items=0-1", RangeKind::kWhole},
        RangeCase{"NoDash", "bytes=100", RangeKind::kWhole},
        RangeCase{"Letters", "bytes=a-b", RangeKind::kWhole},
        RangeCase{"Negative", "bytes=-1-5", RangeKind::kWhole},
        RangeCase{"Plus", "bytes=+1-5", RangeKind::kWhole},
        RangeCase{"OverflowingStart", "bytes=99999999999999999999-", RangeKind::kWhole},
        RangeCase{"OverflowingEnd", "bytes=0-99999999999999999999", RangeKind::kWhole},
        RangeCase{"OverflowingSuffix", "bytes=-99999999999999999999", RangeKind::kWhole},
        RangeCase{"SeveralRangesGetTheWhole", "bytes=0-1,5-6", RangeKind::kWhole},
        RangeCase{"Empty", "", RangeKind::kWhole},
        RangeCase{"OnlyTheUnit", "bytes=", RangeKind::kWhole}),
    [](const ::testing::TestParamInfo<RangeCase>& param_info) { return param_info.param.name; });

TEST(RangeTest, AnEmptyObjectHasNoSatisfiableRange) {
  EXPECT_EQ(ParseRange("bytes=0-", 0).kind, RangeKind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=-10", 0).kind, RangeKind::kUnsatisfiable);
}

TEST(RangeTest, ContentRangeNamesTheSpanOrTheLength) {
  EXPECT_EQ(ContentRangeHeader(ParseRange("bytes=0-99", 1000), 1000), "bytes 0-99/1000");
  EXPECT_EQ(ContentRangeHeader(ParseRange("bytes=2000-", 1000), 1000), "bytes */1000");
}

const WallTime kModified = sys_days(year{2026} / 11 / 27) + hours(1) + milliseconds(500);
constexpr std::string_view kTag = "\"abc\"";

TEST(ConditionalTest, IfRangeNeedsAStrongMatchOrTheExactDate) {
  EXPECT_TRUE(RangeStillValid(std::nullopt, kTag, kModified));
  EXPECT_TRUE(RangeStillValid("\"abc\"", kTag, kModified));
  EXPECT_FALSE(RangeStillValid("W/\"abc\"", kTag, kModified));
  EXPECT_FALSE(RangeStillValid("\"old\"", kTag, kModified));
  EXPECT_TRUE(RangeStillValid("Fri, 27 Nov 2026 01:00:00 GMT", kTag, kModified));
  EXPECT_FALSE(RangeStillValid("Fri, 27 Nov 2026 00:00:00 GMT", kTag, kModified));
  EXPECT_FALSE(RangeStillValid("garbage", kTag, kModified));
}

}  // namespace
}  // namespace sg::plugins::streaming
