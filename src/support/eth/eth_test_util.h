#pragma once
/// Test-only: signs with libsecp256k1 the way a wallet does, so that tests can produce
/// signatures for any message (the library itself never signs).

#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "support/eth/eth_crypto.h"

namespace sg::eth::testing {

using SecretKey = std::array<std::uint8_t, 32>;

inline const secp256k1_context* SigningContext() {
  static const secp256k1_context* const context = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  return context;
}

inline SecretKey KeyFromHex(std::string_view hex) {
  auto bytes = FromHex(hex);
  SecretKey key{};
  if (bytes && bytes->size() == key.size()) {
    std::copy(bytes->begin(), bytes->end(), key.begin());
  }
  return key;
}

/// The EIP-55 address of a secret key.
inline std::string AddressOfKey(const SecretKey& key) {
  secp256k1_pubkey public_key;
  if (secp256k1_ec_pubkey_create(SigningContext(), &public_key, key.data()) != 1) {
    return "invalid key";
  }
  std::array<std::uint8_t, 65> serialized{};
  std::size_t length = serialized.size();
  secp256k1_ec_pubkey_serialize(SigningContext(), serialized.data(), &length, &public_key,
                                SECP256K1_EC_UNCOMPRESSED);
  auto address = AddressFromPublicKey(serialized);
  return address ? ChecksumAddress(*address) : "invalid public key";
}

/// A low-s recoverable signature of `hash` (libsecp256k1 always produces low s).
inline Signature SignHash(const Hash256& hash, const SecretKey& key) {
  secp256k1_ecdsa_recoverable_signature raw;
  Signature signature;
  if (secp256k1_ecdsa_sign_recoverable(SigningContext(), &raw, hash.data(), key.data(), nullptr,
                                       nullptr) != 1) {
    return signature;
  }
  std::array<std::uint8_t, 64> compact{};
  secp256k1_ecdsa_recoverable_signature_serialize_compact(SigningContext(), compact.data(),
                                                          &signature.recovery_id, &raw);
  std::copy_n(compact.begin(), 32, signature.r.begin());
  std::copy_n(compact.begin() + 32, 32, signature.s.begin());
  return signature;
}

/// "0x" + r || s || v as wallets send it; v = 27 + recovery id, or the raw id when
/// `v_offset` is 0.
inline std::string SignatureHex(const Signature& signature, int v_offset = 27) {
  std::array<std::uint8_t, 65> bytes{};
  std::copy(signature.r.begin(), signature.r.end(), bytes.begin());
  std::copy(signature.s.begin(), signature.s.end(), bytes.begin() + 32);
  bytes[64] = static_cast<std::uint8_t>(signature.recovery_id + v_offset);
  return ToHex(bytes);
}

/// personal_sign: the hex signature of the EIP-191 hash of `message`.
inline std::string PersonalSign(std::string_view message, const SecretKey& key) {
  return SignatureHex(SignHash(Eip191Hash(message), key));
}

}  // namespace sg::eth::testing
