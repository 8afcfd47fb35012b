#include "plugins/metadata/search_query.h"

#include <gtest/gtest.h>

namespace sg::plugins::metadata {
namespace {

struct MatchCase {
  std::string text;
  std::string match;
  // Names the case in test output instead of dumping its bytes.
  friend void PrintTo(const MatchCase& c, std::ostream* os) { *os << '"' << c.text << '"'; }
};

class MakeFtsMatchTest : public ::testing::TestWithParam<MatchCase> {};

TEST_P(MakeFtsMatchTest, QuotesEveryWordSoNothingIsFtsSyntax) {
  EXPECT_EQ(MakeFtsMatch(GetParam().text), GetParam().match) << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(
    Table, MakeFtsMatchTest,
    ::testing::Values(MatchCase{"", ""}, MatchCase{"   \t\n", ""},
                      MatchCase{"sunset", R"("sunset")"},
                      MatchCase{"  sunset   beach ", R"("sunset" "beach")"},
                      MatchCase{R"(a"b)", R"("a""b")"}, MatchCase{"NEAR(", R"("NEAR(")"},
                      MatchCase{"*", ""}, MatchCase{"-x", R"("-x")"},
                      MatchCase{"vid*", R"("vid*")"}, MatchCase{"title:cat", R"("title:cat")"},
                      MatchCase{"a OR b", R"("a" "OR" "b")"}, MatchCase{"( ) \" ^ -", ""},
                      MatchCase{"caf\xc3\xa9", "\"caf\xc3\xa9\""}));

TEST(SearchCursorTest, RoundTripsEveryField) {
  SearchCursor cursor{.fingerprint = 0xfedcba9876543210ull,
                      .created_at_ms = 1767225600123,
                      .id = "abcdefghij234567abcd",
                      .score = -1.2345678901234567e-6};
  auto decoded = DecodeCursor(EncodeCursor(cursor));
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  EXPECT_EQ(decoded->fingerprint, cursor.fingerprint);
  EXPECT_EQ(decoded->created_at_ms, cursor.created_at_ms);
  EXPECT_EQ(decoded->id, cursor.id);
  ASSERT_TRUE(decoded->score.has_value());
  EXPECT_EQ(*decoded->score, *cursor.score);  // exact: the next page compares for equality
}

TEST(SearchCursorTest, WithoutScoreStaysWithoutScore) {
  SearchCursor cursor{.fingerprint = 1, .created_at_ms = -5, .id = "abcdefghij234567"};
  auto decoded = DecodeCursor(EncodeCursor(cursor));
  ASSERT_TRUE(decoded);
  EXPECT_FALSE(decoded->score.has_value());
  EXPECT_EQ(decoded->created_at_ms, -5);
}

TEST(SearchCursorTest, EncodingIsUrlSafe) {
  SearchCursor cursor{.fingerprint = ~0ull, .created_at_ms = 1, .id = std::string(64, 'z')};
  for (char c : EncodeCursor(cursor)) {
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << c;
  }
}

TEST(SearchCursorTest, GarbageIsInvalidArgument) {
  std::string valid =
      EncodeCursor({.fingerprint = 1, .created_at_ms = 2, .id = "abcdefghij234567"});
  for (std::string bad : {std::string("x"), std::string("!!!!"), std::string("YWJj"), valid + "A",
                          valid.substr(0, valid.size() - 2), std::string(600, 'A'),
                          std::string("c1|1|2|abcdefghij234567|")}) {
    auto decoded = DecodeCursor(bad);
    ASSERT_FALSE(decoded) << bad;
    EXPECT_EQ(decoded.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(QueryFingerprintTest, DependsOnFiltersButNotOnPaging) {
  ContentQuery a{.text = "cat", .tag = "pets"};
  ContentQuery b = a;
  b.limit = 50;
  b.cursor = "whatever";
  EXPECT_EQ(QueryFingerprint(a), QueryFingerprint(b));
  ContentQuery c = a;
  c.tag = "cats";
  EXPECT_NE(QueryFingerprint(a), QueryFingerprint(c));
  ContentQuery d = a;
  d.visibilities = {"public"};
  EXPECT_NE(QueryFingerprint(a), QueryFingerprint(d));
}

}  // namespace
}  // namespace sg::plugins::metadata
