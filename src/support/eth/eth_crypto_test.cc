#include "support/eth/eth_crypto.h"

#include <gtest/gtest.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <cctype>
#include <ostream>
#include <string>
#include <vector>

#include "support/eth/eth_test_util.h"

namespace sg::eth {
namespace {

using testing::AddressOfKey;
using testing::KeyFromHex;
using testing::PersonalSign;
using testing::SignatureHex;
using testing::SignHash;

// Hardhat / Anvil account #0: a published key, never a secret.
constexpr std::string_view kDevKey =
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
constexpr std::string_view kDevAddress = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

// web3.js documentation of web3.eth.accounts.sign('Some data', key): a published vector.
constexpr std::string_view kWeb3Key =
    "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
constexpr std::string_view kWeb3Address = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";
constexpr std::string_view kWeb3Hash =
    "0x1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655";
constexpr std::string_view kWeb3Signature =
    "0xb91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd6007e74cd82e037b800186422fc2"
    "da167c747ef045e5d18a5f5d4300f8e1a0291c";

// n - s for secp256k1 (big-endian subtraction): the high-s twin of a signature.
std::array<std::uint8_t, 32> OrderMinus(const std::array<std::uint8_t, 32>& s) {
  constexpr std::array<std::uint8_t, 32> kOrder = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                                   0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE,
                                                   0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48, 0xA0, 0x3B,
                                                   0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41};
  std::array<std::uint8_t, 32> out{};
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    auto index = static_cast<std::size_t>(i);
    int difference = kOrder[index] - s[index] - borrow;
    borrow = difference < 0 ? 1 : 0;
    out[index] = static_cast<std::uint8_t>(difference + (borrow ? 256 : 0));
  }
  return out;
}

TEST(Keccak256Test, EmptyInputGivesTheEthereumValueNotSha3) {
  EXPECT_EQ(ToHex(Keccak256(std::string_view())),
            "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  // FIPS-202 SHA3-256("") differs: this is what a wrong hash choice would give.
  EXPECT_NE(ToHex(Keccak256(std::string_view())),
            "0xa7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
}

TEST(Keccak256Test, AbcMatchesPublishedVector) {
  EXPECT_EQ(ToHex(Keccak256(std::string_view("abc"))),
            "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
}

TEST(Keccak256Test, SpanAndStringOverloadsAgree) {
  std::vector<std::uint8_t> bytes = {'a', 'b', 'c'};
  EXPECT_EQ(Keccak256(bytes), Keccak256(std::string_view("abc")));
}

TEST(Eip191HashTest, MatchesWeb3PublishedMessageHash) {
  EXPECT_EQ(ToHex(Eip191Hash("Some data")), kWeb3Hash);
}

TEST(Eip191HashTest, LengthIsTheDecimalByteLengthOfTheMessage) {
  // 12 bytes although 11 characters: the length counts UTF-8 bytes.
  std::string message = "h\xC3\xA9llo world";
  std::string expected_input =
      "\x19"
      "Ethereum Signed Message:\n12" +
      message;
  EXPECT_EQ(Eip191Hash(message), Keccak256(std::string_view(expected_input)));
}

TEST(RecoverAddressTest, RecoversWeb3PublishedSignature) {
  auto address = RecoverAddress(Eip191Hash("Some data"), kWeb3Signature);
  ASSERT_TRUE(address) << address.error().ToString();
  EXPECT_EQ(*address, kWeb3Address);
}

TEST(RecoverAddressTest, Web3PublishedKeyHasThePublishedAddress) {
  EXPECT_EQ(AddressOfKey(KeyFromHex(kWeb3Key)), kWeb3Address);
}

TEST(RecoverAddressTest, DevKeyHasTheWellKnownAddress) {
  EXPECT_EQ(AddressOfKey(KeyFromHex(kDevKey)), kDevAddress);
}

TEST(RecoverAddressTest, SignThenRecoverRoundTripsForManyMessages) {
  auto key = KeyFromHex(kDevKey);
  for (std::string message : {std::string(), std::string("hello"), std::string("Some data"),
                              std::string(1000, 'x'), std::string("multi\nline\nmessage")}) {
    auto address = RecoverAddress(Eip191Hash(message), PersonalSign(message, key));
    ASSERT_TRUE(address) << address.error().ToString();
    EXPECT_EQ(*address, kDevAddress) << message;
  }
}

TEST(RecoverAddressTest, AcceptsVAsZeroOrOne) {
  auto key = KeyFromHex(kDevKey);
  auto hash = Eip191Hash("raw recovery id");
  auto address = RecoverAddress(hash, SignatureHex(SignHash(hash, key), /*v_offset=*/0));
  ASSERT_TRUE(address) << address.error().ToString();
  EXPECT_EQ(*address, kDevAddress);
}

TEST(RecoverAddressTest, AcceptsUpperCaseHexDigits) {
  std::string upper(kWeb3Signature);
  for (std::size_t i = 2; i < upper.size(); ++i) {
    upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
  }
  auto address = RecoverAddress(Eip191Hash("Some data"), upper);
  ASSERT_TRUE(address) << address.error().ToString();
  EXPECT_EQ(*address, kWeb3Address);
}

TEST(RecoverAddressTest, HighSTwinIsRefusedAlthoughItIsMathematicallyValid) {
  auto key = KeyFromHex(kDevKey);
  auto hash = Eip191Hash("malleable");
  Signature low = SignHash(hash, key);
  Signature high = low;
  high.s = OrderMinus(low.s);
  high.recovery_id = 1 - low.recovery_id;

  // libsecp256k1 itself recovers the same key from the twin: refusing it is our policy.
  std::array<std::uint8_t, 64> compact{};
  std::copy(high.r.begin(), high.r.end(), compact.begin());
  std::copy(high.s.begin(), high.s.end(), compact.begin() + 32);
  secp256k1_ecdsa_recoverable_signature raw;
  ASSERT_EQ(secp256k1_ecdsa_recoverable_signature_parse_compact(testing::SigningContext(), &raw,
                                                                compact.data(), high.recovery_id),
            1);
  secp256k1_pubkey public_key;
  ASSERT_EQ(secp256k1_ecdsa_recover(testing::SigningContext(), &public_key, &raw, hash.data()), 1);

  auto address = RecoverAddress(hash, SignatureHex(high));
  ASSERT_FALSE(address);
  EXPECT_EQ(address.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(address.error().message.find("high s"), std::string::npos) << address.error().message;
}

TEST(RecoverAddressTest, TamperedMessageRecoversADifferentAddress) {
  auto key = KeyFromHex(kDevKey);
  std::string signature = PersonalSign("pay 1 ETH", key);
  auto address = RecoverAddress(Eip191Hash("pay 9 ETH"), signature);
  // Recovery of a wrong message usually yields some other key: never the signer.
  if (address) {
    EXPECT_NE(*address, kDevAddress);
  } else {
    EXPECT_EQ(address.error().code, ErrorCode::kUnauthenticated);
  }
}

TEST(RecoverAddressTest, FlippedRecoveryIdRecoversADifferentAddress) {
  auto key = KeyFromHex(kDevKey);
  auto hash = Eip191Hash("flip");
  Signature signature = SignHash(hash, key);
  signature.recovery_id = 1 - signature.recovery_id;
  auto address = RecoverAddress(hash, signature);
  if (address) {
    EXPECT_NE(*address, kDevAddress);
  }
}

TEST(RecoverAddressTest, ZeroROrSIsRefused) {
  auto hash = Eip191Hash("zero");
  Signature zero_r = SignHash(hash, KeyFromHex(kDevKey));
  zero_r.r.fill(0);
  auto result = RecoverAddress(hash, zero_r);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUnauthenticated);

  Signature zero_s = SignHash(hash, KeyFromHex(kDevKey));
  zero_s.s.fill(0);
  result = RecoverAddress(hash, zero_s);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUnauthenticated);
}

TEST(RecoverAddressTest, ROutOfRangeIsRefused) {
  auto hash = Eip191Hash("overflow");
  Signature signature = SignHash(hash, KeyFromHex(kDevKey));
  signature.r.fill(0xFF);  // >= n
  auto result = RecoverAddress(hash, signature);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(result.error().message.find("out of range"), std::string::npos);
}

TEST(RecoverAddressTest, RecoveryIdOutsideZeroOrOneIsRefused) {
  auto hash = Eip191Hash("id");
  Signature signature = SignHash(hash, KeyFromHex(kDevKey));
  signature.recovery_id = 2;
  auto result = RecoverAddress(hash, signature);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
}

struct MalformedSignatureCase {
  std::string name;
  std::string hex;
  std::string message_part;
};

void PrintTo(const MalformedSignatureCase& row, std::ostream* out) { *out << row.name; }

class MalformedSignatureTest : public ::testing::TestWithParam<MalformedSignatureCase> {};

TEST_P(MalformedSignatureTest, IsInvalidArgumentNamingTheProblem) {
  auto parsed = ParseSignature(GetParam().hex);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(parsed.error().message.find(GetParam().message_part), std::string::npos)
      << parsed.error().message;
  auto recovered = RecoverAddress(Eip191Hash("Some data"), GetParam().hex);
  ASSERT_FALSE(recovered);
  EXPECT_EQ(recovered.error().code, ErrorCode::kInvalidArgument);
}

std::string Web3SignatureWithV(std::string_view v) {
  return std::string(kWeb3Signature.substr(0, 2 + 128)) + std::string(v);
}

INSTANTIATE_TEST_SUITE_P(
    Table, MalformedSignatureTest,
    ::testing::Values(
        MalformedSignatureCase{"Empty", "", "0x"},
        MalformedSignatureCase{"NoPrefix", std::string(kWeb3Signature.substr(2)), "0x"},
        MalformedSignatureCase{"UpperCasePrefix", "0X" + std::string(kWeb3Signature.substr(2)),
                               "0x"},
        MalformedSignatureCase{"OneByteShort", std::string(kWeb3Signature.substr(0, 130)),
                               "65 bytes"},
        MalformedSignatureCase{"OneByteLong", std::string(kWeb3Signature) + "00", "65 bytes"},
        MalformedSignatureCase{"OddLength", std::string(kWeb3Signature) + "0", "65 bytes"},
        MalformedSignatureCase{"NonHexDigit",
                               std::string(kWeb3Signature.substr(0, 10)) + "g" +
                                   std::string(kWeb3Signature.substr(11)),
                               "non-hex"},
        MalformedSignatureCase{"EmbeddedSpace",
                               std::string(kWeb3Signature.substr(0, 10)) + " " +
                                   std::string(kWeb3Signature.substr(11)),
                               "non-hex"},
        MalformedSignatureCase{"VIs29", Web3SignatureWithV("1d"), "v must be"},
        MalformedSignatureCase{"VIs26", Web3SignatureWithV("1a"), "v must be"},
        MalformedSignatureCase{"VIs2", Web3SignatureWithV("02"), "v must be"},
        MalformedSignatureCase{"VIsEip155Style", Web3SignatureWithV("25"), "v must be"}),
    [](const auto& row) { return row.param.name; });

TEST(ParseSignatureTest, SplitsRSAndV) {
  auto parsed = ParseSignature(kWeb3Signature);
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_EQ(ToHex(parsed->r), "0xb91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd");
  EXPECT_EQ(ToHex(parsed->s), "0x6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a029");
  EXPECT_EQ(parsed->recovery_id, 1);  // v = 0x1c = 28
}

// The examples of the EIP-55 text: every one is its own checksummed form.
const std::vector<std::string> kEip55Examples = {
    // all caps
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    // all lower
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
    // normal
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
};

std::string Lower(std::string text) {
  for (char& c : text) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return text;
}

std::string UpperDigits(std::string text) {
  for (std::size_t i = 2; i < text.size(); ++i) {
    text[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[i])));
  }
  return text;
}

TEST(Eip55Test, ChecksumOfLowerCaseGivesTheEipExamples) {
  for (const std::string& example : kEip55Examples) {
    auto checksummed = ChecksumAddress(Lower(example));
    ASSERT_TRUE(checksummed) << checksummed.error().ToString();
    EXPECT_EQ(*checksummed, example);
    EXPECT_EQ(ChecksumAddress(UpperDigits(example)).value(), example);
  }
}

TEST(Eip55Test, EipExamplesAreChecksummed) {
  for (const std::string& example : kEip55Examples) {
    EXPECT_TRUE(IsChecksummed(example)) << example;
  }
}

TEST(Eip55Test, WrongCaseIsNotChecksummed) {
  EXPECT_FALSE(IsChecksummed("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"));
  EXPECT_FALSE(IsChecksummed("0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED"));
  // One letter with the wrong case.
  EXPECT_FALSE(IsChecksummed("0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"));
  EXPECT_FALSE(IsChecksummed("0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"));
  EXPECT_FALSE(IsChecksummed("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"));
  EXPECT_FALSE(IsChecksummed(""));
}

TEST(Eip55Test, ParseAddressAcceptsAnyCase) {
  auto lower = ParseAddress("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
  auto mixed = ParseAddress("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
  ASSERT_TRUE(lower);
  ASSERT_TRUE(mixed);
  EXPECT_EQ(*lower, *mixed);
  EXPECT_EQ((*lower)[0], 0x5A);
  EXPECT_EQ((*lower)[19], 0xED);
}

TEST(Eip55Test, ParseAddressRejectsMalformedText) {
  for (std::string_view bad :
       {"", "0x", "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed0",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg",
        " 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe"}) {
    auto parsed = ParseAddress(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(AddressFromPublicKeyTest, RejectsWrongSizesAndCompressedPrefix) {
  std::vector<std::uint8_t> compressed(33, 0x02);
  EXPECT_FALSE(AddressFromPublicKey(compressed));
  std::vector<std::uint8_t> wrong_prefix(65, 0x00);
  wrong_prefix[0] = 0x02;
  EXPECT_FALSE(AddressFromPublicKey(wrong_prefix));
  std::vector<std::uint8_t> raw(64, 0x11);
  std::vector<std::uint8_t> prefixed(65, 0x11);
  prefixed[0] = 0x04;
  ASSERT_TRUE(AddressFromPublicKey(raw));
  EXPECT_EQ(AddressFromPublicKey(raw).value(), AddressFromPublicKey(prefixed).value());
}

TEST(HexTest, RoundTripsAndRejectsMalformedText) {
  std::vector<std::uint8_t> bytes = {0x00, 0x01, 0xAB, 0xFF};
  EXPECT_EQ(ToHex(bytes), "0x0001abff");
  EXPECT_EQ(FromHex("0x0001ABff").value(), bytes);
  EXPECT_TRUE(FromHex("0x").value().empty());
  EXPECT_FALSE(FromHex("0001abff"));
  EXPECT_FALSE(FromHex("0x001"));
  EXPECT_FALSE(FromHex("0xzz"));
}

}  // namespace
}  // namespace sg::eth
