#include "support/eth/siwe_message.h"

#include <gtest/gtest.h>

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

#include "support/eth/eth_crypto.h"
#include "support/eth/eth_test_util.h"

namespace sg::eth {
namespace {

using namespace std::chrono;

// The example of the EIP-4361 text (implicit scheme, statement, resources).
const std::string kEipExample =
    "example.com wants you to sign in with your Ethereum account:\n"
    "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2\n"
    "\n"
    "I accept the ExampleOrg Terms of Service: https://example.com/tos\n"
    "\n"
    "URI: https://example.com/login\n"
    "Version: 1\n"
    "Chain ID: 1\n"
    "Nonce: 32891756\n"
    "Issued At: 2021-09-30T16:25:24Z\n"
    "Resources:\n"
    "- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/\n"
    "- https://example.com/my-web2-claim.json";

// Every field present, each on its documented line number (1-based, shown on the right).
const std::string kFull =
    "https://example.com:8443 wants you to sign in with your Ethereum account:\n"  // 1
    "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2\n"                                 // 2
    "\n"                                                                           // 3
    "Sign in to StreamGate.\n"                                                     // 4
    "\n"                                                                           // 5
    "URI: https://example.com:8443/login\n"                                        // 6
    "Version: 1\n"                                                                 // 7
    "Chain ID: 137\n"                                                              // 8
    "Nonce: abcDEF0123456789\n"                                                    // 9
    "Issued At: 2021-09-30T16:25:24Z\n"                                            // 10
    "Expiration Time: 2021-09-30T16:30:24Z\n"                                      // 11
    "Not Before: 2021-09-30T16:25:00Z\n"                                           // 12
    "Request ID: req-42:a@b%20c\n"                                                 // 13
    "Resources:\n"                                                                 // 14
    "- https://example.com/a\n"                                                    // 15
    "- ipfs://bafybei/b";                                                          // 16

// The smallest message: no scheme, no statement, no optional field.
const std::string kMinimal =
    "example.com wants you to sign in with your Ethereum account:\n"
    "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2\n"
    "\n"
    "\n"
    "URI: https://example.com/login\n"
    "Version: 1\n"
    "Chain ID: 1\n"
    "Nonce: 32891756\n"
    "Issued At: 2021-09-30T16:25:24Z";

WallTime Utc(int y, unsigned mo, unsigned d, int h, int mi, int s) {
  return WallTime(sys_days(year_month_day{year{y}, month{mo}, day{d}})) + hours(h) + minutes(mi) +
         seconds(s);
}

// `text` with its first `from` replaced; a marker that fails every parse when `from` is
// missing, so that a typo in a table row cannot pass silently.
std::string Replace(std::string text, std::string_view from, std::string_view to) {
  auto pos = text.find(from);
  if (pos == std::string::npos) {
    return "REPLACE TARGET NOT FOUND: " + std::string(from);
  }
  return text.replace(pos, from.size(), to);
}

TEST(SiweMessageTest, ParsesTheEipExample) {
  auto message = SiweMessage::Parse(kEipExample);
  ASSERT_TRUE(message) << message.error().ToString();
  EXPECT_FALSE(message->scheme);
  EXPECT_EQ(message->domain, "example.com");
  EXPECT_EQ(message->address, "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2");
  EXPECT_EQ(message->statement,
            "I accept the ExampleOrg Terms of Service: https://example.com/tos");
  EXPECT_EQ(message->uri, "https://example.com/login");
  EXPECT_EQ(message->version, "1");
  EXPECT_EQ(message->chain_id, 1u);
  EXPECT_EQ(message->nonce, "32891756");
  EXPECT_EQ(message->issued_at, Utc(2021, 9, 30, 16, 25, 24));
  EXPECT_FALSE(message->expiration_time);
  EXPECT_FALSE(message->not_before);
  EXPECT_FALSE(message->request_id);
  EXPECT_EQ(message->resources,
            (std::vector<std::string>{
                "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
                "https://example.com/my-web2-claim.json"}));
}

TEST(SiweMessageTest, ParsesEveryField) {
  auto message = SiweMessage::Parse(kFull);
  ASSERT_TRUE(message) << message.error().ToString();
  EXPECT_EQ(message->scheme, "https");
  EXPECT_EQ(message->domain, "example.com:8443");
  EXPECT_EQ(message->statement, "Sign in to StreamGate.");
  EXPECT_EQ(message->uri, "https://example.com:8443/login");
  EXPECT_EQ(message->chain_id, 137u);
  EXPECT_EQ(message->nonce, "abcDEF0123456789");
  EXPECT_EQ(message->issued_at, Utc(2021, 9, 30, 16, 25, 24));
  EXPECT_EQ(message->expiration_time, Utc(2021, 9, 30, 16, 30, 24));
  EXPECT_EQ(message->not_before, Utc(2021, 9, 30, 16, 25, 0));
  EXPECT_EQ(message->request_id, "req-42:a@b%20c");
  EXPECT_EQ(message->resources,
            (std::vector<std::string>{"https://example.com/a", "ipfs://bafybei/b"}));
}

TEST(SiweMessageTest, ParsesTheMinimalMessage) {
  auto message = SiweMessage::Parse(kMinimal);
  ASSERT_TRUE(message) << message.error().ToString();
  EXPECT_FALSE(message->scheme);
  EXPECT_FALSE(message->statement);
  EXPECT_TRUE(message->resources.empty());
}

TEST(SiweMessageTest, EmptyStatementIsDistinctFromNoStatement) {
  std::string text = Replace(kMinimal, "\n\n\nURI", "\n\n\n\nURI");
  auto message = SiweMessage::Parse(text);
  ASSERT_TRUE(message) << message.error().ToString();
  ASSERT_TRUE(message->statement);
  EXPECT_EQ(*message->statement, "");
  EXPECT_EQ(message->Format(), text);
}

struct ValidCase {
  std::string name;
  std::string text;
};

// Names the row in failure output instead of dumping its bytes.
void PrintTo(const ValidCase& row, std::ostream* out) { *out << row.name; }

class ValidSiweTest : public ::testing::TestWithParam<ValidCase> {};

TEST_P(ValidSiweTest, ParsesAndFormatsBackToTheSameText) {
  auto message = SiweMessage::Parse(GetParam().text);
  ASSERT_TRUE(message) << message.error().ToString();
  EXPECT_EQ(message->Format(), GetParam().text);
  auto again = SiweMessage::Parse(message->Format());
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(*again, *message);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ValidSiweTest,
    ::testing::Values(
        ValidCase{"EipExample", kEipExample},
        ValidCase{"EipExampleWithPort",
                  Replace(kEipExample, "example.com wants", "example.com:3388 wants")},
        ValidCase{"EipExampleWithScheme",
                  Replace(kEipExample, "example.com wants", "https://example.com wants")},
        ValidCase{"Full", kFull}, ValidCase{"Minimal", kMinimal},
        ValidCase{"IpAndPortDomain",
                  Replace(kMinimal, "example.com wants", "127.0.0.1:8080 wants")},
        ValidCase{"Ipv6Domain", Replace(kMinimal, "example.com wants", "[::1]:8080 wants")},
        ValidCase{"UserinfoDomain", Replace(kMinimal, "example.com wants", "me@example.com wants")},
        ValidCase{"OnlyExpirationTime", kMinimal + "\nExpiration Time: 2021-09-30T16:30:24Z"},
        ValidCase{"OnlyNotBefore", kMinimal + "\nNot Before: 2021-09-30T16:30:24Z"},
        ValidCase{"OnlyRequestId", kMinimal + "\nRequest ID: 123"},
        ValidCase{"EmptyRequestId", kMinimal + "\nRequest ID: "},
        ValidCase{"OnlyResources", kMinimal + "\nResources:\n- urn:isbn:0451450523"},
        ValidCase{"FractionalSeconds", Replace(kMinimal, "16:25:24Z", "16:25:24.123Z")},
        ValidCase{"StatementWithEveryAllowedPunctuation",
                  Replace(kEipExample,
                          "I accept the ExampleOrg Terms of Service: https://example.com/tos",
                          "a-._~:/?#[]@!$&'()*+,;= Z 9")},
        ValidCase{"LargestChainId",
                  Replace(kMinimal, "Chain ID: 1", "Chain ID: 18446744073709551615")},
        ValidCase{"ChainIdZero", Replace(kMinimal, "Chain ID: 1", "Chain ID: 0")},
        ValidCase{"ExactlyEightCharacterNonce", Replace(kMinimal, "32891756", "aB3dE6gH")},
        ValidCase{"AllDigitAddress", Replace(kMinimal, "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
                                             "0x1111111111111111111111111111111111111111")}),
    [](const auto& row) { return row.param.name; });

TEST(SiweMessageTest, ResourcesLineWithoutItemsParsesToAnEmptyList) {
  auto message = SiweMessage::Parse(kMinimal + "\nResources:");
  ASSERT_TRUE(message) << message.error().ToString();
  EXPECT_TRUE(message->resources.empty());
  EXPECT_EQ(message->Format(), kMinimal);
}

TEST(SiweMessageTest, TimestampsWithOffsetsAreReadAsInstants) {
  auto message =
      SiweMessage::Parse(Replace(kMinimal, "2021-09-30T16:25:24Z", "2021-09-30T18:25:24+02:00"));
  ASSERT_TRUE(message) << message.error().ToString();
  EXPECT_EQ(message->issued_at, Utc(2021, 9, 30, 16, 25, 24));
  // Format is canonical UTC: the signed text is never re-created from it.
  EXPECT_EQ(message->Format(), kMinimal);
}

TEST(SiweMessageTest, FormatOfABuiltMessageParsesBackEqual) {
  SiweMessage message;
  message.scheme = "http";
  message.domain = "127.0.0.1:8080";
  message.address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
  message.statement = "Sign in to StreamGate";
  message.uri = "http://127.0.0.1:8080/";
  message.chain_id = 31337;
  message.nonce = "k3J9x0QwErTy1234";
  message.issued_at = Utc(2026, 1, 2, 3, 4, 5) + milliseconds(678);
  message.expiration_time = Utc(2026, 1, 2, 3, 9, 5);
  message.not_before = Utc(2026, 1, 2, 3, 4, 0);
  message.request_id = "abc";
  message.resources = {"https://example.com/x"};
  auto parsed = SiweMessage::Parse(message.Format());
  ASSERT_TRUE(parsed) << parsed.error().ToString() << "\n" << message.Format();
  EXPECT_EQ(*parsed, message);
}

struct InvalidCase {
  std::string name;
  std::string text;
  std::string message_part;  ///< must appear in the error message
};

void PrintTo(const InvalidCase& row, std::ostream* out) { *out << row.name; }

class InvalidSiweTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidSiweTest, IsInvalidArgumentNamingTheLineAndField) {
  auto message = SiweMessage::Parse(GetParam().text);
  ASSERT_FALSE(message) << "parsed:\n" << GetParam().text;
  EXPECT_EQ(message.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(message.error().message.find(GetParam().message_part), std::string::npos)
      << message.error().message;
}

const std::string kAddress = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2";

INSTANTIATE_TEST_SUITE_P(
    Header, InvalidSiweTest,
    ::testing::Values(
        InvalidCase{"Empty", "", "empty"},
        InvalidCase{"OnlyHeader", "example.com wants you to sign in with your Ethereum account:",
                    "line 2 (address): missing"},
        InvalidCase{"HeaderWithoutColon",
                    Replace(kFull, "Ethereum account:\n", "Ethereum account\n"), "line 1 (header)"},
        InvalidCase{"HeaderWrongCase", Replace(kFull, "Ethereum account", "ethereum account"),
                    "line 1 (header)"},
        InvalidCase{"HeaderTrailingSpace", Replace(kFull, "account:\n", "account: \n"),
                    "line 1 (header)"},
        InvalidCase{"EmptyDomain", Replace(kMinimal, "example.com wants", " wants"),
                    "line 1 (domain)"},
        InvalidCase{"DomainWithLeadingSpace",
                    Replace(kMinimal, "example.com wants", " example.com wants"),
                    "line 1 (domain)"},
        InvalidCase{"DomainWithTwoSpaces",
                    Replace(kMinimal, "example.com wants", "example.com  wants"),
                    "line 1 (domain)"},
        InvalidCase{"DomainWithPath", Replace(kMinimal, "example.com wants", "example.com/x wants"),
                    "line 1 (domain)"},
        InvalidCase{"DomainWithoutHost", Replace(kMinimal, "example.com wants", ":8080 wants"),
                    "line 1 (domain)"},
        InvalidCase{"SchemeStartingWithDigit", Replace(kFull, "https://", "1https://"),
                    "line 1 (scheme)"},
        InvalidCase{"EmptyScheme", Replace(kMinimal, "example.com wants", "://example.com wants"),
                    "line 1 (scheme)"},
        InvalidCase{"SchemeWithUnderscore", Replace(kFull, "https://", "ht_tps://"),
                    "line 1 (scheme)"}),
    [](const auto& row) { return row.param.name; });

INSTANTIATE_TEST_SUITE_P(
    AddressAndStatement, InvalidSiweTest,
    ::testing::Values(
        InvalidCase{"LowerCaseAddress",
                    Replace(kFull, kAddress, "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"),
                    "line 2 (address): not in EIP-55 checksummed form"},
        InvalidCase{"UpperCaseAddress",
                    Replace(kFull, kAddress, "0xC02AAA39B223FE8D0A0E5C4F27EAD9083C756CC2"),
                    "line 2 (address)"},
        InvalidCase{"AddressOneLetterWrongCase",
                    Replace(kFull, kAddress, "0xc02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"),
                    "line 2 (address)"},
        InvalidCase{"ShortAddress",
                    Replace(kFull, kAddress, "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc"),
                    "line 2 (address)"},
        InvalidCase{"AddressWithoutPrefix",
                    Replace(kFull, kAddress, "C02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"),
                    "line 2 (address)"},
        InvalidCase{"AddressTrailingSpace", Replace(kFull, kAddress, kAddress + " "),
                    "line 2 (address)"},
        InvalidCase{"EnsNameInsteadOfAddress", Replace(kFull, kAddress, "vitalik.eth"),
                    "line 2 (address)"},
        InvalidCase{"MissingBlankLineAfterAddress",
                    Replace(kFull, kAddress + "\n\n", kAddress + "\n"), "line 3 (empty line)"},
        InvalidCase{"MissingBlankLineAfterStatement",
                    Replace(kFull, "StreamGate.\n\n", "StreamGate.\n"), "line 5 (empty line)"},
        InvalidCase{"OnlyOneBlankLineWithoutStatement", Replace(kMinimal, "\n\n\nURI", "\n\nURI"),
                    "line 4 (empty line): expected two empty lines"},
        InvalidCase{"ExtraBlankLineBeforeUri",
                    Replace(kFull, "StreamGate.\n\n", "StreamGate.\n\n\n"), "line 6 (URI)"},
        InvalidCase{"FourBlankLinesWithoutStatement",
                    Replace(kMinimal, "\n\n\nURI", "\n\n\n\n\nURI"), "line 6 (URI)"},
        InvalidCase{"StatementWithNewline",
                    Replace(kFull, "Sign in to StreamGate.", "Sign in\nto StreamGate."),
                    "line 5 (empty line)"},
        InvalidCase{"StatementWithPercent", Replace(kFull, "StreamGate.", "100% StreamGate."),
                    "line 4 (statement): '%' at column 15"},
        InvalidCase{"StatementWithQuote", Replace(kFull, "StreamGate.", "\"StreamGate\"."),
                    "line 4 (statement)"},
        InvalidCase{"StatementWithTab", Replace(kFull, "Sign in", "Sign\tin"),
                    "line 4 (statement): byte 0x09"},
        InvalidCase{"StatementWithNonAscii", Replace(kFull, "StreamGate", "Str\xC3\xA9\x61mGate"),
                    "line 4 (statement): byte 0xC3"}),
    [](const auto& row) { return row.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Fields, InvalidSiweTest,
    ::testing::Values(
        InvalidCase{"CrLfLineEndings", Replace(kFull, "Version: 1\n", "Version: 1\r\n"),
                    "line 7 (line end): carriage return"},
        InvalidCase{"AllCrLf",
                    [] {
                      std::string text;
                      for (char c : kMinimal) {
                        text += c == '\n' ? std::string("\r\n") : std::string(1, c);
                      }
                      return text;
                    }(),
                    "line 1 (line end): carriage return"},
        InvalidCase{"TrailingLineBreak", kFull + "\n", "line 17 (end): the message must not end"},
        InvalidCase{"TrailingLineBreakAfterIssuedAt", kMinimal + "\n", "must not end with a line"},
        InvalidCase{"UriMissingSpace", Replace(kFull, "URI: ", "URI:"),
                    "line 6 (URI): expected exactly one space"},
        InvalidCase{"UriTwoSpaces", Replace(kFull, "URI: ", "URI:  "),
                    "line 6 (URI): unexpected whitespace"},
        InvalidCase{"UriLowerCaseName", Replace(kFull, "URI: ", "uri: "), "line 6 (URI)"},
        InvalidCase{"UriNotAUri",
                    Replace(kFull, "URI: https://example.com:8443/login", "URI: example.com/login"),
                    "line 6 (URI): \"example.com/login\" is not an RFC 3986 URI"},
        InvalidCase{"UriWithSpace", Replace(kFull, "/login", "/log in"), "line 6 (URI)"},
        InvalidCase{"UriEmpty", Replace(kFull, "URI: https://example.com:8443/login", "URI: "),
                    "line 6 (URI)"},
        InvalidCase{"VersionTwo", Replace(kFull, "Version: 1", "Version: 2"),
                    "line 7 (Version): must be 1"},
        InvalidCase{"VersionLeadingZero", Replace(kFull, "Version: 1", "Version: 01"),
                    "line 7 (Version)"},
        InvalidCase{"VersionTrailingSpace", Replace(kFull, "Version: 1", "Version: 1 "),
                    "line 7 (Version): unexpected whitespace"},
        InvalidCase{"ChainIdLeadingZero", Replace(kFull, "Chain ID: 137", "Chain ID: 0137"),
                    "line 8 (Chain ID): must not have leading zeros"},
        InvalidCase{"ChainIdHex", Replace(kFull, "Chain ID: 137", "Chain ID: 0x89"),
                    "line 8 (Chain ID)"},
        InvalidCase{"ChainIdNegative", Replace(kFull, "Chain ID: 137", "Chain ID: -1"),
                    "line 8 (Chain ID): must be decimal digits"},
        InvalidCase{"ChainIdPlus", Replace(kFull, "Chain ID: 137", "Chain ID: +1"),
                    "line 8 (Chain ID)"},
        InvalidCase{"ChainIdEmpty", Replace(kFull, "Chain ID: 137", "Chain ID: "),
                    "line 8 (Chain ID): is empty"},
        InvalidCase{"ChainIdCaip2", Replace(kFull, "Chain ID: 137", "Chain ID: eip155:137"),
                    "line 8 (Chain ID)"},
        InvalidCase{"ChainIdOverflow",
                    Replace(kFull, "Chain ID: 137", "Chain ID: 18446744073709551616"),
                    "line 8 (Chain ID): \"18446744073709551616\" does not fit in 64 bits"},
        InvalidCase{"ShortNonce", Replace(kFull, "abcDEF0123456789", "abc1234"),
                    "line 9 (Nonce): must be at least 8"},
        InvalidCase{"EmptyNonce", Replace(kFull, "Nonce: abcDEF0123456789", "Nonce: "),
                    "line 9 (Nonce)"},
        InvalidCase{"NonceWithDash", Replace(kFull, "abcDEF0123456789", "abcDEF01-23456789"),
                    "line 9 (Nonce): '-' at column 9"},
        InvalidCase{"NonceTrailingSpace", Replace(kFull, "abcDEF0123456789", "abcDEF0123456789 "),
                    "line 9 (Nonce): unexpected whitespace"},
        InvalidCase{
            "IssuedAtNotRfc3339",
            Replace(kFull, "Issued At: 2021-09-30T16:25:24Z", "Issued At: 2021-09-30 16:25:24"),
            "line 10 (Issued At): not an RFC 3339 date-time"},
        InvalidCase{"IssuedAtNoTimeZone", Replace(kFull, "16:25:24Z\nExp", "16:25:24\nExp"),
                    "line 10 (Issued At)"},
        InvalidCase{"IssuedAtImpossibleDate",
                    Replace(kFull, "Issued At: 2021-09-30", "Issued At: 2021-02-30"),
                    "line 10 (Issued At): RFC 3339 date-time: no such date"},
        InvalidCase{"IssuedAtUnixSeconds",
                    Replace(kFull, "Issued At: 2021-09-30T16:25:24Z", "Issued At: 1633019124"),
                    "line 10 (Issued At)"},
        InvalidCase{"MissingIssuedAt", Replace(kMinimal, "\nIssued At: 2021-09-30T16:25:24Z", ""),
                    "line 9 (Issued At): missing"},
        InvalidCase{
            "ExpirationTimeBad",
            Replace(kFull, "Expiration Time: 2021-09-30T16:30:24Z", "Expiration Time: tomorrow"),
            "line 11 (Expiration Time)"},
        InvalidCase{"NotBeforeBad",
                    Replace(kFull, "Not Before: 2021-09-30T16:25:00Z",
                            "Not Before: 2021-09-30T16:25:00+2:00"),
                    "line 12 (Not Before)"},
        InvalidCase{"RequestIdWithSpace", Replace(kFull, "req-42", "req 42"),
                    "line 13 (Request ID): ' '"},
        InvalidCase{"RequestIdBadPercent", Replace(kFull, "%20c", "%2"),
                    "line 13 (Request ID): '%' at column"},
        InvalidCase{"RequestIdWithSlash", Replace(kFull, "req-42", "req/42"),
                    "line 13 (Request ID)"},
        InvalidCase{"ResourceNotAUri", Replace(kFull, "- https://example.com/a", "- not a uri"),
                    "line 15 (Resources)"},
        InvalidCase{"ResourceWithoutSpace",
                    Replace(kFull, "- https://example.com/a", "-https://example.com/a"),
                    "line 15 (Resources): expected \"- <URI>\""},
        InvalidCase{"ResourceTwoSpaces",
                    Replace(kFull, "- https://example.com/a", "-  https://example.com/a"),
                    "line 15 (Resources): unexpected whitespace"},
        InvalidCase{"ResourcesLineWithTrailingSpace",
                    Replace(kFull, "Resources:\n", "Resources: \n"),
                    "line 14 (Resources): expected \"Resources:\" alone"},
        InvalidCase{"ResourceEmptyLine",
                    Replace(kFull, "- https://example.com/a\n", "- https://example.com/a\n\n"),
                    "line 16 (Resources): expected \"- <URI>\""},
        InvalidCase{"TrailingLineBreakAfterResourcesLine", kMinimal + "\nResources:\n",
                    "line 11 (end): the message must not end with a line break"}),
    [](const auto& row) { return row.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Order, InvalidSiweTest,
    ::testing::Values(
        InvalidCase{"VersionBeforeUri",
                    Replace(kMinimal, "URI: https://example.com/login\nVersion: 1",
                            "Version: 1\nURI: https://example.com/login"),
                    "line 5 (URI): expected \"URI: \", found the Version field"},
        InvalidCase{"ChainIdBeforeVersion",
                    Replace(kFull, "Version: 1\nChain ID: 137", "Chain ID: 137\nVersion: 1"),
                    "line 7 (Version): expected \"Version: \", found the Chain ID field"},
        InvalidCase{"IssuedAtBeforeNonce",
                    Replace(kMinimal, "Nonce: 32891756\nIssued At: 2021-09-30T16:25:24Z",
                            "Issued At: 2021-09-30T16:25:24Z\nNonce: 32891756"),
                    "line 8 (Nonce)"},
        InvalidCase{
            "NotBeforeBeforeExpirationTime",
            Replace(kFull,
                    "Expiration Time: 2021-09-30T16:30:24Z\nNot Before: 2021-09-30T16:25:00Z",
                    "Not Before: 2021-09-30T16:25:00Z\nExpiration Time: 2021-09-30T16:30:24Z"),
            "line 12 (Expiration Time): Expiration Time field out of place"},
        InvalidCase{"RequestIdAfterResources",
                    Replace(kFull, "Request ID: req-42:a@b%20c\n", "") + "\nRequest ID: x",
                    "line 16 (Resources): expected \"- <URI>\""},
        InvalidCase{"DuplicateNonce", kMinimal + "\nNonce: 32891756",
                    "line 10 (Nonce): duplicate field"},
        InvalidCase{"DuplicateUri", kMinimal + "\nURI: https://example.com/login",
                    "line 10 (URI): duplicate field"},
        InvalidCase{"DuplicateExpirationTime",
                    kMinimal + "\nExpiration Time: 2021-09-30T16:30:24Z\nExpiration Time: "
                               "2021-09-30T16:31:24Z",
                    "line 11 (Expiration Time): duplicate field"},
        InvalidCase{
            "DuplicateResources",
            kMinimal + "\nResources:\n- https://a.example/\nResources:", "line 12 (Resources)"},
        InvalidCase{"UnknownField", kMinimal + "\nFoo: bar", "line 10 (unknown): unexpected line"},
        InvalidCase{"BlankLineBetweenFields",
                    Replace(kFull, "Chain ID: 137\n", "Chain ID: 137\n\n"), "line 9 (Nonce)"},
        InvalidCase{"BlankLineBeforeOptionalField",
                    kMinimal + "\n\nExpiration Time: 2021-09-30T16:30:24Z",
                    "line 10 (unknown): unexpected line \"\""},
        InvalidCase{"MissingVersion", Replace(kMinimal, "Version: 1\n", ""),
                    "line 6 (Version): expected \"Version: \", found the Chain ID field"}),
    [](const auto& row) { return row.param.name; });

TEST(SiweMessageTest, SignedMessageRecoversTheAddressItNames) {
  auto key =
      testing::KeyFromHex("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
  std::string text = Replace(kFull, kAddress, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
  std::string signature = testing::PersonalSign(text, key);

  auto message = SiweMessage::Parse(text);
  ASSERT_TRUE(message) << message.error().ToString();
  auto signer = RecoverAddress(Eip191Hash(text), signature);
  ASSERT_TRUE(signer) << signer.error().ToString();
  EXPECT_EQ(*signer, message->address);

  // Changing any byte of the signed text (here the chain) changes the signer.
  std::string tampered = Replace(text, "Chain ID: 137", "Chain ID: 1");
  auto other = RecoverAddress(Eip191Hash(tampered), signature);
  if (other) {
    EXPECT_NE(*other, message->address);
  }
}

}  // namespace
}  // namespace sg::eth
