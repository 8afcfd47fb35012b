#include "core/api/services/chain.h"

#include <algorithm>
#include "core/api/hex.h"

namespace sg {
namespace {

constexpr std::size_t kMaxDecimalDigits = 78;  // 2^256 - 1 has 78 digits
constexpr std::size_t kMaxHexDigits = 64;

// value = value * 10 + digit; false when the result does not fit in 256 bits.
bool MultiplyAdd(std::array<std::uint8_t, 32>& bytes, unsigned digit) noexcept {
  unsigned carry = digit;
  for (std::size_t i = bytes.size(); i-- > 0;) {
    unsigned product = static_cast<unsigned>(bytes[i]) * 10U + carry;
    bytes[i] = static_cast<std::uint8_t>(product & 0xFFU);
    carry = product >> 8;
  }
  return carry == 0;
}

}  // namespace

Uint256 Uint256::FromU64(std::uint64_t value) noexcept {
  Uint256 result;
  for (std::size_t i = 0; i < 8; ++i) {
    result.bytes[31 - i] = static_cast<std::uint8_t>(value >> (8 * i));
  }
  return result;
}

Result<Uint256> Uint256::FromDecimal(std::string_view text) {
  if (text.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "expected a decimal number, got nothing");
  }
  if (text.size() > kMaxDecimalDigits) {
    return MakeError(ErrorCode::kInvalidArgument, "decimal number too long ({} digits, at most {})",
                     text.size(), kMaxDecimalDigits);
  }
  Uint256 result;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return MakeError(ErrorCode::kInvalidArgument, "expected decimal digits only, got \"{}\"",
                       text);
    }
    if (!MultiplyAdd(result.bytes, static_cast<unsigned>(c - '0'))) {
      return MakeError(ErrorCode::kInvalidArgument, "{} does not fit in 256 bits", text);
    }
  }
  return result;
}

Result<Uint256> Uint256::FromHex(std::string_view text) {
  if (text.size() < 3 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X')) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "expected 0x followed by 1 to 64 hex digits, got \"{}\"", text.substr(0, 80));
  }
  std::string_view digits = text.substr(2);
  if (digits.size() > kMaxHexDigits) {
    return MakeError(ErrorCode::kInvalidArgument, "hex number too long ({} digits, at most 64)",
                     digits.size());
  }
  Uint256 result;
  // Fill from the least significant digit: digit k from the end is nibble k.
  for (std::size_t k = 0; k < digits.size(); ++k) {
    int value = HexDigitValue(digits[digits.size() - 1 - k]);
    if (value < 0) {
      return MakeError(ErrorCode::kInvalidArgument, "expected hex digits, got \"{}\"",
                       text.substr(0, 80));
    }
    std::uint8_t& byte = result.bytes[31 - k / 2];
    byte = static_cast<std::uint8_t>(byte | (k % 2 == 0 ? value : value << 4));
  }
  return result;
}

std::string Uint256::ToDecimal() const {
  // Repeated division by 10 of a big-endian copy; at most 78 rounds of 32 bytes.
  std::array<std::uint8_t, 32> work = bytes;
  std::string digits;
  auto is_zero = [&work] {
    return std::all_of(work.begin(), work.end(), [](std::uint8_t b) { return b == 0; });
  };
  while (!is_zero()) {
    unsigned remainder = 0;
    for (std::uint8_t& byte : work) {
      unsigned current = (remainder << 8) | byte;
      byte = static_cast<std::uint8_t>(current / 10U);
      remainder = current % 10U;
    }
    digits.push_back(static_cast<char>('0' + remainder));
  }
  if (digits.empty()) {
    return "0";
  }
  std::reverse(digits.begin(), digits.end());
  return digits;
}

bool Uint256::IsZero() const noexcept {
  return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

std::string_view TokenStandardName(TokenStandard standard) noexcept {
  switch (standard) {
    case TokenStandard::kErc721:
      return "erc721";
    case TokenStandard::kErc1155:
      return "erc1155";
    case TokenStandard::kErc20:
      return "erc20";
  }
  return "unknown";
}

}  // namespace sg
