#include "core/api/services/http.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sg {
namespace {

using namespace std::chrono;

const WallTime kModified = sys_days(year{2026} / 11 / 27) + hours(1) + milliseconds(500);
constexpr std::string_view kTag = "\"abc\"";

TEST(NotModifiedTest, IfNoneMatchComparesWeaklyAndAcceptsListsAndStar) {
  EXPECT_TRUE(NotModified("\"abc\"", std::nullopt, kTag, kModified));
  EXPECT_TRUE(NotModified("W/\"abc\"", std::nullopt, kTag, kModified));
  EXPECT_TRUE(NotModified("\"x\", \"abc\"", std::nullopt, kTag, kModified));
  EXPECT_TRUE(NotModified("*", std::nullopt, kTag, kModified));
  EXPECT_FALSE(NotModified("\"abd\"", std::nullopt, kTag, kModified));
}

TEST(NotModifiedTest, IfNoneMatchWinsOverIfModifiedSince) {
  EXPECT_FALSE(NotModified("\"other\"", "Fri, 27 Nov 2026 02:00:00 GMT", kTag, kModified));
}

TEST(NotModifiedTest, IfModifiedSinceComparesWholeSeconds) {
  EXPECT_TRUE(NotModified(std::nullopt, "Fri, 27 Nov 2026 01:00:00 GMT", kTag, kModified));
  EXPECT_TRUE(NotModified(std::nullopt, "Fri, 27 Nov 2026 02:00:00 GMT", kTag, kModified));
  EXPECT_FALSE(NotModified(std::nullopt, "Fri, 27 Nov 2026 00:59:59 GMT", kTag, kModified));
  EXPECT_FALSE(NotModified(std::nullopt, "yesterday", kTag, kModified));
  EXPECT_FALSE(NotModified(std::nullopt, std::nullopt, kTag, kModified));
}

TEST(NotModifiedTest, ListsMayHaveBlanksAndAnythingUnquotedNeverMatches) {
  EXPECT_TRUE(NotModified(" \"x\" ,\"abc\"", std::nullopt, kTag, kModified));
  EXPECT_FALSE(NotModified("abc", std::nullopt, kTag, kModified));
  EXPECT_FALSE(NotModified("", std::nullopt, kTag, kModified));
  EXPECT_FALSE(NotModified("\"x\", *x", std::nullopt, kTag, kModified));
}

TEST(HeaderValueTest, ListsSplitOnCommasTrimmedAndWithoutEmptyElements) {
  std::vector<std::string> seen;
  ForEachListElement(" gzip;q=0.5 ,, br\t,", [&](std::string_view e) { seen.emplace_back(e); });
  EXPECT_EQ(seen, (std::vector<std::string>{"gzip;q=0.5", "br"}));
  EXPECT_EQ(TrimOws(" \t x y \t"), "x y");
  EXPECT_TRUE(EqualsIgnoreAsciiCase("Content-Type", "content-TYPE"));
  EXPECT_FALSE(EqualsIgnoreAsciiCase("gzip", "gzipx"));
}

}  // namespace
}  // namespace sg
