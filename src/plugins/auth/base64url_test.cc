#include "plugins/auth/base64url.h"

#include <gtest/gtest.h>

namespace sg::plugins::auth {
namespace {

TEST(Base64UrlTest, EncodesTheRfc4648VectorsWithoutPadding) {
  EXPECT_EQ(Base64UrlEncode(std::string_view("")), "");
  EXPECT_EQ(Base64UrlEncode(std::string_view("f")), "Zg");
  EXPECT_EQ(Base64UrlEncode(std::string_view("fo")), "Zm8");
  EXPECT_EQ(Base64UrlEncode(std::string_view("foo")), "Zm9v");
  EXPECT_EQ(Base64UrlEncode(std::string_view("foob")), "Zm9vYg");
  EXPECT_EQ(Base64UrlEncode(std::string_view("fooba")), "Zm9vYmE");
  EXPECT_EQ(Base64UrlEncode(std::string_view("foobar")), "Zm9vYmFy");
}

TEST(Base64UrlTest, UsesTheUrlSafeAlphabet) {
  const std::string bytes("\xfb\xff\xbf", 3);
  EXPECT_EQ(Base64UrlEncode(bytes), "-_-_");
  EXPECT_EQ(Base64UrlDecode("-_-_"), bytes);
}

TEST(Base64UrlTest, DecodingRoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 40; ++i) {
    bytes.push_back(static_cast<char>(i * 37 + 11));
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(bytes)), bytes) << i;
  }
}

TEST(Base64UrlTest, DecodingRefusesPaddingStandardAlphabetWhitespaceAndBadLengths) {
  EXPECT_FALSE(Base64UrlDecode("Zg=="));
  EXPECT_FALSE(Base64UrlDecode("+/+/"));
  EXPECT_FALSE(Base64UrlDecode("Zm9v Yg"));
  EXPECT_FALSE(Base64UrlDecode("Zm9vY"));
}

TEST(Base64UrlTest, DecodingRefusesNonZeroTrailingBits) {
  EXPECT_TRUE(Base64UrlDecode("Zg"));
  EXPECT_FALSE(Base64UrlDecode("Zh"));  // same byte 'f', other unused bits
  EXPECT_FALSE(Base64UrlDecode("Zm9"));
}

}  // namespace
}  // namespace sg::plugins::auth
