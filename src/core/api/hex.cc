#include "core/api/hex.h"

namespace sg {
namespace {

constexpr char kDigits[] = "0123456789abcdef";

template <class Byte>
std::string Encode(std::span<const Byte> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (Byte byte : bytes) {
    const auto value = static_cast<std::uint8_t>(byte);
    out.push_back(kDigits[value >> 4]);
    out.push_back(kDigits[value & 0x0F]);
  }
  return out;
}

}  // namespace

std::string HexEncode(std::span<const std::uint8_t> bytes) { return Encode(bytes); }

std::string HexEncode(std::string_view bytes) {
  return Encode(std::span<const char>(bytes.data(), bytes.size()));
}

int HexDigitValue(char c) noexcept {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

}  // namespace sg
