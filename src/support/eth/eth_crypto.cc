#include "support/eth/eth_crypto.h"

#include <cryptopp/keccak.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <algorithm>
#include <cstddef>

#include "core/api/hex.h"

namespace sg::eth {
namespace {

// n / 2 for secp256k1, big-endian: EIP-2 accepts only s <= n/2.
constexpr std::array<std::uint8_t, 32> kHalfOrder = {
    0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0x5D, 0x57, 0x6E, 0x73, 0x57, 0xA4, 0x50, 0x1D, 0xDF, 0xE9, 0x2F, 0x46, 0x68, 0x1B, 0x20, 0xA0};

// Decodes exactly out.size() bytes from 2 * out.size() hex digits; false on a non-hex digit.
bool DecodeHexInto(std::string_view digits, std::span<std::uint8_t> out) noexcept {
  if (digits.size() != out.size() * 2) {
    return false;
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    int high = HexDigitValue(digits[2 * i]);
    int low = HexDigitValue(digits[2 * i + 1]);
    if (high < 0 || low < 0) {
      return false;
    }
    out[i] = static_cast<std::uint8_t>(high * 16 + low);
  }
  return true;
}

bool HasHexPrefix(std::string_view text) noexcept {
  return text.size() >= 2 && text[0] == '0' && text[1] == 'x';
}

// One context for the whole process: creating one costs far more than a recovery, and
// libsecp256k1 documents const-context calls (recovery, parsing) as thread-safe.
const secp256k1_context* VerifyContext() {
  static const secp256k1_context* const context = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  return context;
}

}  // namespace

Hash256 Keccak256(std::span<const std::uint8_t> data) {
  CryptoPP::Keccak_256 keccak;
  keccak.Update(data.data(), data.size());
  Hash256 digest{};
  keccak.Final(digest.data());
  return digest;
}

Hash256 Keccak256(std::string_view data) {
  return Keccak256(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(data.data()),
                                                 data.size()));
}

Hash256 Eip191Hash(std::string_view message) {
  std::string prefixed = fmt::format(
      "\x19"
      "Ethereum Signed Message:\n{}",
      message.size());
  prefixed.append(message);
  return Keccak256(std::string_view(prefixed));
}

Result<Signature> ParseSignature(std::string_view hex) {
  if (!HasHexPrefix(hex)) {
    return MakeError(ErrorCode::kInvalidArgument, "signature must start with \"0x\"");
  }
  std::string_view digits = hex.substr(2);
  if (digits.size() != 130) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "signature must be 65 bytes (130 hex digits after \"0x\"), got {} digits",
                     digits.size());
  }
  std::array<std::uint8_t, 65> bytes{};
  if (!DecodeHexInto(digits, bytes)) {
    return MakeError(ErrorCode::kInvalidArgument, "signature contains a non-hex character");
  }
  Signature signature;
  std::copy_n(bytes.begin(), 32, signature.r.begin());
  std::copy_n(bytes.begin() + 32, 32, signature.s.begin());
  std::uint8_t v = bytes[64];
  if (v == 27 || v == 28) {
    signature.recovery_id = v - 27;
  } else if (v == 0 || v == 1) {
    signature.recovery_id = v;
  } else {
    return MakeError(ErrorCode::kInvalidArgument, "signature v must be 27, 28, 0 or 1, got {}",
                     static_cast<int>(v));
  }
  return signature;
}

Result<std::string> RecoverAddress(const Hash256& hash, const Signature& signature) {
  SG_ASSIGN_OR_RETURN(AddressBytes address, RecoverAddressBytes(hash, signature));
  return ChecksumAddress(address);
}

Result<AddressBytes> RecoverAddressBytes(const Hash256& hash, const Signature& signature) {
  if (signature.recovery_id != 0 && signature.recovery_id != 1) {
    return MakeError(ErrorCode::kInvalidArgument, "signature recovery id must be 0 or 1, got {}",
                     signature.recovery_id);
  }
  if (std::lexicographical_compare(kHalfOrder.begin(), kHalfOrder.end(), signature.s.begin(),
                                   signature.s.end())) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "signature has a high s value (s > n/2), refused per EIP-2");
  }
  std::array<std::uint8_t, 64> compact{};
  std::copy(signature.r.begin(), signature.r.end(), compact.begin());
  std::copy(signature.s.begin(), signature.s.end(), compact.begin() + 32);
  const secp256k1_context* context = VerifyContext();
  secp256k1_ecdsa_recoverable_signature parsed;
  if (secp256k1_ecdsa_recoverable_signature_parse_compact(context, &parsed, compact.data(),
                                                          signature.recovery_id) != 1) {
    return MakeError(ErrorCode::kUnauthenticated, "signature r or s is out of range");
  }
  // Zero r or s parse but can never verify; say so instead of "cannot recover".
  bool r_zero = std::all_of(signature.r.begin(), signature.r.end(), [](auto b) { return b == 0; });
  bool s_zero = std::all_of(signature.s.begin(), signature.s.end(), [](auto b) { return b == 0; });
  if (r_zero || s_zero) {
    return MakeError(ErrorCode::kUnauthenticated, "signature r or s is zero");
  }
  secp256k1_pubkey public_key;
  if (secp256k1_ecdsa_recover(context, &public_key, &parsed, hash.data()) != 1) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "no public key can be recovered from the "
                     "signature");
  }
  std::array<std::uint8_t, 65> serialized{};
  std::size_t length = serialized.size();
  secp256k1_ec_pubkey_serialize(context, serialized.data(), &length, &public_key,
                                SECP256K1_EC_UNCOMPRESSED);
  return AddressFromPublicKey(std::span<const std::uint8_t>(serialized.data(), length));
}

Result<std::string> RecoverAddress(const Hash256& hash, std::string_view signature_hex) {
  SG_ASSIGN_OR_RETURN(Signature signature, ParseSignature(signature_hex));
  return RecoverAddress(hash, signature);
}

Result<AddressBytes> AddressFromPublicKey(std::span<const std::uint8_t> public_key) {
  if (public_key.size() == 65) {
    if (public_key[0] != 0x04) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "a 65-byte public key must be uncompressed (start with 0x04)");
    }
    public_key = public_key.subspan(1);
  }
  if (public_key.size() != 64) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "public key must be 64 or 65 bytes (uncompressed), got {}", public_key.size());
  }
  Hash256 digest = Keccak256(public_key);
  AddressBytes address{};
  std::copy(digest.end() - 20, digest.end(), address.begin());
  return address;
}

Result<AddressBytes> ParseAddress(std::string_view text) {
  if (!HasHexPrefix(text)) {
    return MakeError(ErrorCode::kInvalidArgument, "address must start with \"0x\"");
  }
  if (text.size() != 42) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "address must be 40 hex digits after \"0x\", got {} characters",
                     text.size() - 2);
  }
  AddressBytes address{};
  if (!DecodeHexInto(text.substr(2), address)) {
    return MakeError(ErrorCode::kInvalidArgument, "address contains a non-hex character");
  }
  return address;
}

std::string ChecksumAddress(const AddressBytes& address) {
  std::string lower = ToHex(address);  // "0x" + 40 lower-case digits
  Hash256 digest = Keccak256(std::string_view(lower).substr(2));
  for (std::size_t i = 0; i < 40; ++i) {
    char& c = lower[i + 2];
    int nibble = (i % 2 == 0) ? digest[i / 2] >> 4 : digest[i / 2] & 0x0F;
    if (c >= 'a' && c <= 'f' && nibble >= 8) {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  return lower;
}

Result<std::string> ChecksumAddress(std::string_view text) {
  SG_ASSIGN_OR_RETURN(AddressBytes address, ParseAddress(text));
  return ChecksumAddress(address);
}

bool IsChecksummed(std::string_view text) {
  auto address = ParseAddress(text);
  return address && ChecksumAddress(*address) == text;
}

std::string ToHex(std::span<const std::uint8_t> bytes) { return "0x" + HexEncode(bytes); }

Result<std::vector<std::uint8_t>> FromHex(std::string_view text) {
  if (!HasHexPrefix(text)) {
    return MakeError(ErrorCode::kInvalidArgument, "hex string must start with \"0x\"");
  }
  std::string_view digits = text.substr(2);
  if (digits.size() % 2 != 0) {
    return MakeError(ErrorCode::kInvalidArgument, "hex string has an odd number of digits");
  }
  std::vector<std::uint8_t> bytes(digits.size() / 2);
  if (!DecodeHexInto(digits, bytes)) {
    return MakeError(ErrorCode::kInvalidArgument, "hex string contains a non-hex character");
  }
  return bytes;
}

}  // namespace sg::eth
