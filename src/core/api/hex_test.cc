#include "core/api/hex.h"

#include <gtest/gtest.h>

#include <array>

namespace sg {
namespace {

TEST(HexTest, EncodesLowerCaseTwoDigitsPerByte) {
  const std::array<std::uint8_t, 4> bytes{0x00, 0x0f, 0xa0, 0xff};
  EXPECT_EQ(HexEncode(bytes), "000fa0ff");
  EXPECT_EQ(HexEncode(std::string_view("\x01\xfe", 2)), "01fe");
  EXPECT_EQ(HexEncode(std::string_view()), "");
}

TEST(HexTest, DigitValuesOfEitherCaseAndMinusOneForTheRest) {
  EXPECT_EQ(HexDigitValue('0'), 0);
  EXPECT_EQ(HexDigitValue('9'), 9);
  EXPECT_EQ(HexDigitValue('a'), 10);
  EXPECT_EQ(HexDigitValue('F'), 15);
  for (char c : {'g', 'G', 'x', ' ', '/', ':', '@', '`', '\0'}) {
    EXPECT_EQ(HexDigitValue(c), -1) << static_cast<int>(c);
  }
}

}  // namespace
}  // namespace sg
