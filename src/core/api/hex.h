#pragma once
/// Hexadecimal text of bytes, one implementation for digests, keys, ABI words and ids.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace sg {

/// Lower-case hex of `bytes`, two digits per byte, no prefix.
std::string HexEncode(std::span<const std::uint8_t> bytes);
std::string HexEncode(std::string_view bytes);

/// The value of one hex digit of either case, -1 for any other character.
int HexDigitValue(char c) noexcept;

}  // namespace sg
