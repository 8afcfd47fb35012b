#include "plugins/auth/base64url.h"

#include <array>
#include <cstdint>

namespace sg::plugins::auth {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<std::int8_t, 256> MakeReverse() {
  std::array<std::int8_t, 256> reverse{};
  for (auto& value : reverse) {
    value = -1;
  }
  for (int i = 0; i < 64; ++i) {
    reverse[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  }
  return reverse;
}

constexpr std::array<std::int8_t, 256> kReverse = MakeReverse();

}  // namespace

std::string Base64UrlEncode(std::span<const unsigned char> bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t word = (std::uint32_t{bytes[i]} << 16) |
                               (std::uint32_t{bytes[i + 1]} << 8) | std::uint32_t{bytes[i + 2]};
    out.push_back(kAlphabet[(word >> 18) & 0x3f]);
    out.push_back(kAlphabet[(word >> 12) & 0x3f]);
    out.push_back(kAlphabet[(word >> 6) & 0x3f]);
    out.push_back(kAlphabet[word & 0x3f]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t word = std::uint32_t{bytes[i]} << 16;
    out.push_back(kAlphabet[(word >> 18) & 0x3f]);
    out.push_back(kAlphabet[(word >> 12) & 0x3f]);
  } else if (rest == 2) {
    const std::uint32_t word = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8);
    out.push_back(kAlphabet[(word >> 18) & 0x3f]);
    out.push_back(kAlphabet[(word >> 12) & 0x3f]);
    out.push_back(kAlphabet[(word >> 6) & 0x3f]);
  }
  return out;
}

std::string Base64UrlEncode(std::string_view bytes) {
  return Base64UrlEncode(std::span<const unsigned char>(
      reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()));
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) {
    return std::nullopt;  // 6 bits cannot make a byte
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const std::int8_t value = kReverse[static_cast<unsigned char>(c)];
    if (value < 0) {
      return std::nullopt;
    }
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
      buffer &= (1u << bits) - 1;
    }
  }
  // The leftover bits (2 or 4) are padding of the last character and must be zero.
  if (buffer != 0) {
    return std::nullopt;
  }
  return out;
}

}  // namespace sg::plugins::auth
