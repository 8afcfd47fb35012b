#pragma once
/// Base64url without padding (RFC 4648 §5, RFC 7515 §2), the encoding of every part of a
/// JWT, of JWK coordinates and of refresh tokens.

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sg::plugins::auth {

std::string Base64UrlEncode(std::span<const unsigned char> bytes);
std::string Base64UrlEncode(std::string_view bytes);

/// Strict decoding: only the URL-safe alphabet, no padding, no whitespace, and the unused
/// low bits of the last character must be zero (so each byte string has exactly one
/// encoding and a token cannot be altered without changing what was signed). nullopt for
/// anything else.
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace sg::plugins::auth
