#include "core/api/clock.h"

#include <gtest/gtest.h>

namespace sg {
namespace {

using namespace std::chrono;

TEST(TimeFormatTest, Rfc3339IsUtcWithMillisecondsAlsoBefore1970) {
  EXPECT_EQ(FormatRfc3339(WallTime{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(WallTime{} + milliseconds(1'767'225'600'999)),
            "2026-01-01T00:00:00.999Z");
  EXPECT_EQ(FormatRfc3339(WallTime{} - milliseconds(1)), "1969-12-31T23:59:59.999Z");
}

TEST(TimeFormatTest, HttpDateRoundTrips) {
  WallTime time = sys_days(year{1994} / 11 / 6) + hours(8) + minutes(49) + seconds(37);
  EXPECT_EQ(FormatHttpDate(time), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), time);
}

TEST(TimeFormatTest, OnlyImfFixdateIsAccepted) {
  for (const char* bad : {"", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
                          "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 31 Feb 2026 08:49:37 GMT",
                          "Sun, 06 Xyz 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT",
                          "Sun, 0x Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT "}) {
    EXPECT_FALSE(ParseHttpDate(bad)) << bad;
  }
}

}  // namespace
}  // namespace sg
