#include "core/api/services/chain.h"

#include <gtest/gtest.h>

#include <string>

namespace sg {
namespace {

constexpr std::string_view kMaxDecimal =
    "115792089237316195423570985008687907853269984665640564039457584007913129639935";

TEST(Uint256Test, FromU64IsBigEndianInTheLastEightBytes) {
  Uint256 value = Uint256::FromU64(0x0102030405060708ULL);
  for (std::size_t i = 0; i < 24; ++i) {
    EXPECT_EQ(value.bytes[i], 0) << i;
  }
  EXPECT_EQ(value.bytes[24], 0x01);
  EXPECT_EQ(value.bytes[31], 0x08);
}

TEST(Uint256Test, DecimalRoundTripsIncludingTheLargestValue) {
  for (std::string_view text : {std::string_view("0"), std::string_view("1"),
                                std::string_view("18446744073709551616"), kMaxDecimal}) {
    auto value = Uint256::FromDecimal(text);
    ASSERT_TRUE(value) << text;
    EXPECT_EQ(value->ToDecimal(), text);
  }
  auto max = Uint256::FromDecimal(kMaxDecimal);
  ASSERT_TRUE(max);
  for (std::uint8_t byte : max->bytes) {
    EXPECT_EQ(byte, 0xFF);
  }
}

TEST(Uint256Test, DecimalAcceptsLeadingZeros) {
  auto value = Uint256::FromDecimal("000042");
  ASSERT_TRUE(value);
  EXPECT_EQ(*value, Uint256::FromU64(42));
}

TEST(Uint256Test, DecimalRejectsMalformedAndOverflowingText) {
  std::string too_long(79, '1');
  // 2^256 exactly: one more than the maximum.
  constexpr std::string_view kTwoTo256 =
      "115792089237316195423570985008687907853269984665640564039457584007913129639936";
  for (std::string_view text :
       {std::string_view(""), std::string_view("-1"), std::string_view("+1"),
        std::string_view("1.5"), std::string_view(" 1"), std::string_view("0x10"),
        std::string_view(too_long), kTwoTo256}) {
    auto value = Uint256::FromDecimal(text);
    ASSERT_FALSE(value) << text;
    EXPECT_EQ(value.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(Uint256Test, HexParsesEitherCaseAndOddLengths) {
  auto value = Uint256::FromHex("0xAbC");
  ASSERT_TRUE(value);
  EXPECT_EQ(*value, Uint256::FromU64(0xABC));
  auto upper_prefix = Uint256::FromHex("0X1");
  ASSERT_TRUE(upper_prefix);
  EXPECT_EQ(*upper_prefix, Uint256::FromU64(1));
  std::string full = "0x" + std::string(64, 'f');
  auto max = Uint256::FromHex(full);
  ASSERT_TRUE(max);
  EXPECT_EQ(max->ToDecimal(), kMaxDecimal);
}

TEST(Uint256Test, HexRejectsMissingPrefixDigitsOrTooMany) {
  std::string too_long = "0x" + std::string(65, '0');
  for (std::string_view text :
       {std::string_view(""), std::string_view("0x"), std::string_view("12"),
        std::string_view("0xg1"), std::string_view("0x-1"), std::string_view(too_long)}) {
    auto value = Uint256::FromHex(text);
    ASSERT_FALSE(value) << text;
    EXPECT_EQ(value.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(Uint256Test, ComparesNumerically) {
  EXPECT_LT(Uint256::FromU64(255), Uint256::FromU64(256));
  EXPECT_GT(*Uint256::FromHex("0x100000000000000000"), Uint256::FromU64(UINT64_MAX));
  EXPECT_EQ(*Uint256::FromDecimal("256"), *Uint256::FromHex("0x100"));
}

TEST(Uint256Test, IsZero) {
  EXPECT_TRUE(Uint256{}.IsZero());
  EXPECT_TRUE(Uint256::FromU64(0).IsZero());
  EXPECT_FALSE(Uint256::FromU64(1).IsZero());
  EXPECT_FALSE(
      Uint256::FromHex("0x8000000000000000000000000000000000000000000000000000000000000000")
          ->IsZero());
}

TEST(TokenStandardTest, NamesAreTheConfigSpellings) {
  EXPECT_EQ(TokenStandardName(TokenStandard::kErc721), "erc721");
  EXPECT_EQ(TokenStandardName(TokenStandard::kErc1155), "erc1155");
  EXPECT_EQ(TokenStandardName(TokenStandard::kErc20), "erc20");
}

}  // namespace
}  // namespace sg
