#pragma once
/// Read-only questions to EVM chains (the `chains` plugin answers them over JSON-RPC
/// `eth_call`). Used by access policies (token ownership) and by wallet sign-in (EIP-1271
/// contract wallets). Every answer is fresh from a chain or an error: caching belongs to
/// the caller, which knows its TTLs.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/result.h"

namespace sg {

/// A 256-bit unsigned integer as 32 big-endian bytes (balances, token ids): the width of
/// an EVM word, so nothing is lost between the chain and a policy's min_balance.
struct Uint256 {
  std::array<std::uint8_t, 32> bytes{};  ///< big-endian

  static Uint256 FromU64(std::uint64_t value) noexcept;
  /// Decimal digits only, no sign, no leading '+', at most 78 digits, value < 2^256.
  static Result<Uint256> FromDecimal(std::string_view text);
  /// "0x" followed by 1..64 hex digits (either case).
  static Result<Uint256> FromHex(std::string_view text);
  std::string ToDecimal() const;
  bool IsZero() const noexcept;
  friend auto operator<=>(const Uint256&, const Uint256&) = default;
};

enum class TokenStandard { kErc721, kErc1155, kErc20 };

/// "erc721" / "erc1155" / "erc20".
std::string_view TokenStandardName(TokenStandard standard) noexcept;

/// One balance to read. `owner` and `contract` are 0x-prefixed 20-byte hex addresses
/// (any case). `chain` is a CAIP-2 id such as "eip155:1".
struct BalanceQuery {
  std::string chain;
  TokenStandard standard = TokenStandard::kErc721;
  std::string contract;
  std::string owner;
  /// kErc721: empty = balanceOf(owner); set = ownerOf(id) == owner, 1 or 0.
  /// kErc1155: balanceOf(owner, id); required.
  /// kErc20: must be empty (balanceOf(owner)).
  std::vector<Uint256> token_ids;
};

/// The answer to one BalanceQuery: with token ids, one balance per id in the same order
/// (ERC-721 ownerOf: 1 when `owner` owns the id, 0 otherwise, also when the id does not
/// exist); without, one total.
struct BalanceAnswer {
  std::vector<Uint256> balances;
};

class ChainReader {
 public:
  static constexpr std::string_view kServiceName = "ChainReader";
  virtual ~ChainReader() = default;

  /// Whether `chain` (CAIP-2, "eip155:<id>") is configured.
  virtual bool HasChain(std::string_view chain) const = 0;
  /// Every configured chain (CAIP-2), sorted: what a wallet may sign in with.
  virtual std::vector<std::string> ChainIds() const = 0;

  /// Reads every query, batching the calls of each chain into JSON-RPC batch requests.
  /// Answers are in query order. kInvalidArgument for a malformed query or an unknown
  /// chain; kUnavailable (naming the chain and the last failure) when a chain cannot be
  /// asked through any of its URLs: callers must then refuse, never grant. A contract that
  /// reverts or is not a contract is kInvalidArgument naming it (a policy pointing at the wrong
  /// address): callers refuse then too.
  virtual Result<std::vector<BalanceAnswer>> Balances(const std::vector<BalanceQuery>& queries) = 0;

  /// EIP-1271: `isValidSignature(hash, signature)` of the contract wallet `wallet` on
  /// `chain` returns the magic value 0x1626ba7e. False for any other value, a revert, or
  /// an address without code; kUnavailable when the chain cannot be asked.
  virtual Result<bool> IsValidSignature(std::string_view chain, std::string_view wallet,
                                        const std::array<std::uint8_t, 32>& hash,
                                        std::string_view signature) = 0;
};

}  // namespace sg
