#include "plugins/chains/abi.h"

#include "core/api/hex.h"
#include "support/eth/eth_crypto.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace sg::plugins::chains {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kVitalik = "0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045";

std::string Word(std::string_view hex) {
  return std::string(64 - hex.size(), '0') + std::string(hex);
}

Address MustAddress(std::string_view text) {
  auto address = ParseAddress(text, "test");
  EXPECT_TRUE(address) << text;
  return address ? *address : Address{};
}

TEST(AbiTest, BalanceOfIsSelectorAndLeftPaddedAddress) {
  EXPECT_EQ(EncodeBalanceOf(MustAddress(kVitalik)),
            "0x70a08231000000000000000000000000d8da6bf26964af9d7eed9e03e53415d37aa96045");
}

TEST(AbiTest, OwnerOfEncodesTheTokenIdAsAWord) {
  EXPECT_EQ(EncodeOwnerOf(Uint256::FromU64(0x2a)), "0x6352211e" + Word("2a"));
}

TEST(AbiTest, BalanceOfBatchEncodesTwoDynamicArrays) {
  Address a = MustAddress("0x1111111111111111111111111111111111111111");
  Address b = MustAddress("0x2222222222222222222222222222222222222222");

  std::string encoded = EncodeBalanceOfBatch({a, b}, {Uint256::FromU64(1), Uint256::FromU64(7)});

  // Offsets are relative to the arguments: 0x40 (after two head words) and
  // 0x40 + 32 * (1 + 2) = 0xa0.
  EXPECT_EQ(encoded, "0x4e1273f4" + Word("40") + Word("a0") + Word("2") +
                         Word("1111111111111111111111111111111111111111") +
                         Word("2222222222222222222222222222222222222222") + Word("2") + Word("1") +
                         Word("7"));
}

TEST(AbiTest, IsValidSignaturePadsTheDynamicBytes) {
  std::array<std::uint8_t, 32> hash{};
  hash[0] = 0xab;
  hash[31] = 0xcd;
  std::vector<std::uint8_t> signature(65, 0x11);

  std::string encoded = EncodeIsValidSignature(hash, signature);

  std::string expected_hash = "ab" + std::string(60, '0') + "cd";
  std::string signature_hex(130, '1');
  EXPECT_EQ(encoded, "0x1626ba7e" + expected_hash + Word("40") + Word("41") + signature_hex +
                         std::string(192 - 130, '0'));
  EXPECT_EQ((encoded.size() - 2) / 2, 4u + 32 + 32 + 32 + 96);
}

TEST(AbiTest, EmptySignatureHasALengthWordAndNoData) {
  std::string encoded = EncodeIsValidSignature({}, {});
  EXPECT_EQ(encoded, "0x1626ba7e" + Word("") + Word("40") + Word(""));
}

TEST(AbiTest, DecodesUint256AndAddress) {
  auto value = DecodeUint256("0x" + Word("ff"));
  ASSERT_TRUE(value);
  EXPECT_EQ(*value, Uint256::FromU64(255));

  auto address = DecodeAddress("0x" + Word("d8da6bf26964af9d7eed9e03e53415d37aa96045"));
  ASSERT_TRUE(address);
  EXPECT_EQ(FormatAddress(*address), "0xd8da6bf26964af9d7eed9e03e53415d37aa96045");
}

TEST(AbiTest, EmptyReturnDataMeansNoContract) {
  auto value = DecodeUint256("0x");
  ASSERT_FALSE(value);
  EXPECT_THAT(value.error().message, HasSubstr("no data"));
  EXPECT_FALSE(DecodeAddress("0x"));
  EXPECT_FALSE(DecodeUint256Array("0x"));
}

TEST(AbiTest, RejectsShortOrMalformedReturnData) {
  EXPECT_FALSE(DecodeUint256("0x1234"));
  EXPECT_FALSE(DecodeUint256("1234"));
  EXPECT_FALSE(DecodeUint256("0x" + std::string(63, '0')));
  EXPECT_FALSE(DecodeUint256("0x" + std::string(62, '0') + "zz"));
  // An address word with high bytes set is not an address.
  EXPECT_FALSE(DecodeAddress("0x" + std::string(2, 'f') + std::string(62, '0')));
}

TEST(AbiTest, DecodesADynamicUint256Array) {
  auto values = DecodeUint256Array("0x" + Word("20") + Word("3") + Word("1") + Word("0") +
                                   Word("ffffffffffffffffffff"));

  ASSERT_TRUE(values) << values.error().message;
  ASSERT_EQ(values->size(), 3u);
  EXPECT_EQ((*values)[0], Uint256::FromU64(1));
  EXPECT_TRUE((*values)[1].IsZero());
  EXPECT_EQ((*values)[2].ToDecimal(), "1208925819614629174706175");
}

TEST(AbiTest, DecodesAnEmptyArray) {
  auto values = DecodeUint256Array("0x" + Word("20") + Word("0"));
  ASSERT_TRUE(values);
  EXPECT_TRUE(values->empty());
}

TEST(AbiTest, ArrayDecodingChecksEveryBound) {
  // Announces 3 items, holds 2.
  EXPECT_FALSE(DecodeUint256Array("0x" + Word("20") + Word("3") + Word("1") + Word("2")));
  // Offset beyond the data.
  EXPECT_FALSE(DecodeUint256Array("0x" + Word("200") + Word("1") + Word("1")));
  // A length that would overflow any size computation.
  EXPECT_FALSE(DecodeUint256Array("0x" + Word("20") + std::string(64, 'f')));
  EXPECT_FALSE(DecodeUint256Array("0x" + Word("20") + Word("ffffffff")));
  // Offset not reaching a full length word.
  EXPECT_FALSE(DecodeUint256Array("0x" + Word("30") + Word("1")));
}

TEST(AbiTest, IsValidSignatureMagicIsLeftAligned) {
  auto valid = DecodeIsValidSignature("0x1626ba7e" + std::string(56, '0'));
  ASSERT_TRUE(valid);
  EXPECT_TRUE(*valid);
  auto invalid = DecodeIsValidSignature("0xffffffff" + std::string(56, '0'));
  ASSERT_TRUE(invalid);
  EXPECT_FALSE(*invalid);
  // Right-aligned (as if a uint) is not the bytes4 magic.
  auto shifted = DecodeIsValidSignature("0x" + Word("1626ba7e"));
  ASSERT_TRUE(shifted);
  EXPECT_FALSE(*shifted);
}

TEST(AbiTest, AddressesMustBe0xAnd40HexDigits) {
  EXPECT_TRUE(ParseAddress(kVitalik, "owner"));
  EXPECT_TRUE(ParseAddress("0X0000000000000000000000000000000000000000", "owner"));
  for (std::string_view bad : {std::string_view(""), std::string_view("0x"),
                               std::string_view("d8dA6BF26964aF9D7eEd9e03E53415D37aA96045"),
                               std::string_view("0xd8dA6BF26964aF9D7eEd9e03E53415D37aA9604"),
                               std::string_view("0xd8dA6BF26964aF9D7eEd9e03E53415D37aA960455"),
                               std::string_view("0xg8dA6BF26964aF9D7eEd9e03E53415D37aA96045")}) {
    auto parsed = ParseAddress(bad, "owner");
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_THAT(parsed.error().message, HasSubstr("owner"));
  }
}

TEST(AbiTest, HexRoundTrips) {
  std::vector<std::uint8_t> bytes = {0x00, 0x7f, 0x80, 0xff};
  std::string hex = "0x" + HexEncode(bytes);
  EXPECT_EQ(hex, "0x007f80ff");
  auto decoded = eth::FromHex("0x007F80fF");
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, bytes);
  EXPECT_FALSE(eth::FromHex("0x123"));
  EXPECT_FALSE(eth::FromHex("007f"));
}

}  // namespace
}  // namespace sg::plugins::chains
