#pragma once
/// EIP-4361 "Sign-In with Ethereum" messages: a strict parser of the ABNF and the canonical
/// formatter. Parsing only checks the text; the caller checks the values (domain, URI,
/// chain, nonce, times) and the signature, which is always over the ORIGINAL text, never
/// over Format() of the parsed message.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/clock.h"
#include "core/api/result.h"

namespace sg::eth {

struct SiweMessage {
  /// RFC 3986 scheme of the requesting origin ("https"), when the message names one.
  std::optional<std::string> scheme;
  /// RFC 3986 authority of the requesting origin: host with optional userinfo and port
  /// ("example.com", "127.0.0.1:8080"). Never empty.
  std::string domain;
  /// The signer, "0x" + 40 hex digits in EIP-55 checksummed form.
  std::string address;
  /// Human-readable assertion (reserved / unreserved URI characters and spaces, no line
  /// break). Present-but-empty is distinct from absent: the ABNF allows both.
  std::optional<std::string> statement;
  /// RFC 3986 URI the sign-in is for.
  std::string uri;
  /// Always "1" in a parsed message.
  std::string version = "1";
  /// EIP-155 chain id.
  std::uint64_t chain_id = 0;
  /// At least 8 ASCII letters or digits.
  std::string nonce;
  WallTime issued_at{};
  std::optional<WallTime> expiration_time;
  std::optional<WallTime> not_before;
  /// RFC 3986 `*pchar`: may be present and empty.
  std::optional<std::string> request_id;
  /// RFC 3986 URIs. A "Resources:" line with no items parses to an empty list, which
  /// Format() omits.
  std::vector<std::string> resources;

  /// Parses `text` exactly as the EIP-4361 ABNF allows: LF line ends (no CR), no trailing
  /// line break, no extra or missing blank lines or spaces, fields in the fixed order, each
  /// at most once. Stricter than the ABNF where the EIP says MUST: `address` in EIP-55 form,
  /// `chain_id` a decimal without leading zeros that fits 64 bits, `domain` not empty.
  /// kInvalidArgument whose message names the line number and the field.
  static Result<SiweMessage> Parse(std::string_view text);

  /// The canonical text: timestamps in UTC ("Z", fractional seconds only when non-zero).
  /// Parse(Format()) gives back an equal message when the fields are valid; Format does not
  /// validate them.
  std::string Format() const;

  friend bool operator==(const SiweMessage&, const SiweMessage&) = default;
};

}  // namespace sg::eth
