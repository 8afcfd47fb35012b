#pragma once
/// Ethereum primitives for wallet sign-in: Keccak-256, EIP-191 personal_sign hashes,
/// secp256k1 public-key recovery and EIP-55 checksummed addresses.
///
/// Error policy: text a client sent that is not well formed (hex, lengths, v) is
/// kInvalidArgument; a well-formed signature that authenticates nobody (high s, r or s out
/// of range, no recoverable key) is kUnauthenticated. Messages never echo secret material.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/result.h"

namespace sg::eth {

using Hash256 = std::array<std::uint8_t, 32>;
using AddressBytes = std::array<std::uint8_t, 20>;

/// Keccak-256 as Ethereum uses it (the original Keccak padding, NOT FIPS-202 SHA3-256).
Hash256 Keccak256(std::span<const std::uint8_t> data);
/// Keccak-256 of the bytes of `data`.
Hash256 Keccak256(std::string_view data);

/// EIP-191 version 0x45 (personal_sign / eth_sign of a text):
/// keccak256("\x19Ethereum Signed Message:\n" + decimal byte length of message + message).
Hash256 Eip191Hash(std::string_view message);

/// A 65-byte recoverable ECDSA signature split into its parts.
struct Signature {
  std::array<std::uint8_t, 32> r{};  ///< big-endian
  std::array<std::uint8_t, 32> s{};  ///< big-endian
  int recovery_id = 0;               ///< 0 or 1 (v - 27 for v = 27/28)
};

/// Parses "0x" + 130 hex digits (either case) holding r || s || v, with v one of 27, 28,
/// 0, 1. Anything else is kInvalidArgument naming what is wrong. Does not judge r and s
/// (RecoverAddress does).
Result<Signature> ParseSignature(std::string_view hex);

/// The EIP-55 address of the key that signed the 32-byte `hash`. Refuses (kUnauthenticated,
/// naming the reason) signatures with s > n/2 (EIP-2: every signature has a low-s twin, so a
/// high-s one is a malleated copy), r or s zero or >= n, and signatures from which no key
/// can be recovered. Thread-safe.
Result<std::string> RecoverAddress(const Hash256& hash, const Signature& signature);
/// ParseSignature, then RecoverAddress.
/// The same as raw bytes: for comparing with a known address without the EIP-55 hashing.
Result<AddressBytes> RecoverAddressBytes(const Hash256& hash, const Signature& signature);
Result<std::string> RecoverAddress(const Hash256& hash, std::string_view signature_hex);

/// The address of a public key: the last 20 bytes of keccak256(X || Y). Accepts the 65-byte
/// uncompressed SEC1 form (0x04 || X || Y) or the 64 bytes X || Y; kInvalidArgument
/// otherwise (the point itself is not validated).
Result<AddressBytes> AddressFromPublicKey(std::span<const std::uint8_t> public_key);

/// "0x" + 40 hex digits in any case → the 20 bytes. Does NOT check EIP-55 capitalisation
/// (use IsChecksummed when the text must be in checksummed form).
Result<AddressBytes> ParseAddress(std::string_view text);
/// The EIP-55 mixed-case form, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed".
std::string ChecksumAddress(const AddressBytes& address);
/// ParseAddress, then the EIP-55 form of it.
Result<std::string> ChecksumAddress(std::string_view text);
/// Whether `text` is exactly the EIP-55 form of an address ("0x" prefix, right case of every
/// letter). Note that a few addresses are all-lower or all-upper case in their EIP-55 form.
bool IsChecksummed(std::string_view text);

/// "0x" + lower-case hex of `bytes`.
std::string ToHex(std::span<const std::uint8_t> bytes);
/// "0x" followed by an even number of hex digits (either case) → bytes; kInvalidArgument
/// otherwise. "0x" alone is the empty byte string.
Result<std::vector<std::uint8_t>> FromHex(std::string_view text);

}  // namespace sg::eth
