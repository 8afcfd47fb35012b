#include "core/api/services/object_store.h"

#include <gtest/gtest.h>

#include <string>

namespace sg {
namespace {

struct KeyCase {
  std::string name;
  std::string key;
  bool valid;
  // Names the case in test output instead of dumping its bytes.
  friend void PrintTo(const KeyCase& c, std::ostream* os) { *os << '"' << c.name << '"'; }
};

class ValidateObjectKeyTest : public ::testing::TestWithParam<KeyCase> {};

TEST_P(ValidateObjectKeyTest, AcceptsOnlyRelativePathsOfSafeSegments) {
  const KeyCase& c = GetParam();
  auto result = ValidateObjectKey(c.key);
  EXPECT_EQ(result.has_value(), c.valid) << "key: " << c.key;
  if (!c.valid && !result) {
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
    EXPECT_FALSE(result.error().message.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Keys, ValidateObjectKeyTest,
    ::testing::Values(
        KeyCase{"Simple", "a", true}, KeyCase{"Nested", "videos/abc/source.mp4", true},
        KeyCase{"AllCharacters", "AZaz09._-/x", true},
        KeyCase{"DotsInsideName", "a..b/.c/d.", true}, KeyCase{"HiddenSegment", ".hidden/x", true},
        KeyCase{"ThreeDots", "a/.../b", true}, KeyCase{"MaxLength", std::string(512, 'k'), true},
        KeyCase{"TooLong", std::string(513, 'k'), false}, KeyCase{"Empty", "", false},
        KeyCase{"Absolute", "/abs", false}, KeyCase{"TrailingSlash", "a/", false},
        KeyCase{"OnlySlash", "/", false}, KeyCase{"DoubleSlash", "a//b", false},
        KeyCase{"DotSegment", "a/./b", false}, KeyCase{"LeadingDot", "./a", false},
        KeyCase{"OnlyDot", ".", false}, KeyCase{"DotDot", "..", false},
        KeyCase{"ParentEscape", "../x", false}, KeyCase{"ParentInside", "a/../../x", false},
        KeyCase{"TrailingDotDot", "a/..", false}, KeyCase{"PercentEncoded", "%2e%2e/x", false},
        KeyCase{"Nul", std::string("a\0b", 3), false}, KeyCase{"Space", "a b", false},
        KeyCase{"Backslash", "a\\..\\b", false}, KeyCase{"Newline", "a\nb", false},
        KeyCase{"Colon", "c:x", false}, KeyCase{"NonAscii", "caf\xc3\xa9", false}),
    [](const ::testing::TestParamInfo<KeyCase>& param_info) { return param_info.param.name; });

TEST(ValidateObjectKeyMessages, NameTheProblem) {
  auto long_key = ValidateObjectKey(std::string(600, 'x'));
  ASSERT_FALSE(long_key);
  EXPECT_NE(long_key.error().message.find("600"), std::string::npos);

  auto dotdot = ValidateObjectKey("a/../b");
  ASSERT_FALSE(dotdot);
  EXPECT_NE(dotdot.error().message.find("'..'"), std::string::npos);

  auto nul = ValidateObjectKey(std::string("ab\0", 3));
  ASSERT_FALSE(nul);
  EXPECT_NE(nul.error().message.find("byte 2"), std::string::npos);
  EXPECT_EQ(nul.error().message.find('\0'), std::string::npos);
}

}  // namespace
}  // namespace sg
