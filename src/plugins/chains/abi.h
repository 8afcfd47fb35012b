#pragma once
/// The few pieces of the Ethereum contract ABI the chains plugin needs, encoded by hand:
/// calldata for balanceOf / ownerOf / balanceOfBatch / isValidSignature and decoders for
/// their return data. Hex text is what JSON-RPC carries ("0x..." strings).

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/result.h"
#include "core/api/services/chain.h"

namespace sg::plugins::chains {

using Address = std::array<std::uint8_t, 20>;
using Word = std::array<std::uint8_t, 32>;

inline constexpr std::string_view kBalanceOfSelector = "70a08231";         // balanceOf(address)
inline constexpr std::string_view kOwnerOfSelector = "6352211e";           // ownerOf(uint256)
inline constexpr std::string_view kBalanceOfBatchSelector = "4e1273f4";    // (address[],uint256[])
inline constexpr std::string_view kIsValidSignatureSelector = "1626ba7e";  // (bytes32,bytes)
/// What isValidSignature returns for a valid signature (EIP-1271): its own selector.
inline constexpr std::array<std::uint8_t, 4> kEip1271Magic = {0x16, 0x26, 0xba, 0x7e};

/// "0x" + 40 hex digits (either case, checksum not checked). kInvalidArgument naming `what`.
Result<Address> ParseAddress(std::string_view text, std::string_view what);
/// Lower-case "0x..." form.
std::string FormatAddress(const Address& address);

/// Calldata as "0x..." text for eth_call's `data`.
std::string EncodeBalanceOf(const Address& owner);
std::string EncodeOwnerOf(const Uint256& token_id);
/// ERC-1155 balanceOfBatch(owners, ids); the two lists have the same length.
std::string EncodeBalanceOfBatch(const std::vector<Address>& owners,
                                 const std::vector<Uint256>& ids);
std::string EncodeIsValidSignature(const std::array<std::uint8_t, 32>& hash,
                                   const std::vector<std::uint8_t>& signature);

/// Return data decoders. Input is the eth_call result ("0x..."). Empty return data ("0x")
/// is what a call to an address without code returns: kInvalidArgument "returned no data".
Result<Uint256> DecodeUint256(std::string_view result);
Result<Address> DecodeAddress(std::string_view result);
/// A dynamic uint256[] (offset, length, items), with every offset and length bounds-checked.
Result<std::vector<Uint256>> DecodeUint256Array(std::string_view result);
/// The bytes4 of isValidSignature: true when it is the EIP-1271 magic value.
Result<bool> DecodeIsValidSignature(std::string_view result);

}  // namespace sg::plugins::chains
