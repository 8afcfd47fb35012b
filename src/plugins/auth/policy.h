#pragma once
/// The access policy of a content: public, or a tree of `any` / `all` groups over token
/// ownership conditions on EVM chains. Parsed strictly (every error names the field path),
/// written back in one canonical JSON form. See README.md for the format and semantics.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/result.h"
#include "core/api/services/chain.h"

namespace sg::plugins::auth {

/// Nesting limit: the root group is depth 1, so at most 4 groups from root to leaf.
inline constexpr int kMaxPolicyDepth = 4;
/// At most this many conditions (leaves) in one policy: each is one chain read.
inline constexpr std::size_t kMaxPolicyConditions = 16;
/// At most this many token ids in one condition (ERC-1155 balanceOfBatch / ERC-721 ownerOf).
inline constexpr std::size_t kMaxTokenIdsPerCondition = 64;
/// A policy document larger than this is refused before parsing.
inline constexpr std::size_t kMaxPolicyJsonBytes = 64 * 1024;

/// One leaf: "the viewer holds at least `min_balance` of `contract` on `chain`".
struct Condition {
  std::string chain;  ///< CAIP-2 "eip155:<decimal id>"
  TokenStandard standard = TokenStandard::kErc721;
  std::string contract;                       ///< "0x" + 40 lower-case hex digits (canonical)
  std::vector<Uint256> token_ids;             ///< in the order given; no duplicates
  Uint256 min_balance = Uint256::FromU64(1);  ///< >= 1

  friend bool operator==(const Condition&, const Condition&) = default;
};

/// A node of the tree: an `any` / `all` group over children, or a condition.
struct PolicyNode {
  enum class Kind { kAny, kAll, kCondition };
  Kind kind = Kind::kCondition;
  std::vector<PolicyNode> children;  ///< kAny / kAll only; never empty once parsed
  Condition condition;               ///< kCondition only

  friend bool operator==(const PolicyNode&, const PolicyNode&) = default;
};

struct AccessPolicy {
  /// `{"public": true}`: anyone may play, signed in or not; `root` is unused.
  bool is_public = false;
  /// The root group (kAny or kAll) when not public.
  PolicyNode root;

  static AccessPolicy Public() { return AccessPolicy{.is_public = true}; }
  friend bool operator==(const AccessPolicy&, const AccessPolicy&) = default;
};

/// Tells whether a CAIP-2 chain id is configured (ChainReader::HasChain).
using ChainKnownFn = std::function<bool(std::string_view chain)>;

/// Parses and validates a policy document. kInvalidArgument whose message starts with the
/// path of the offending field, e.g. `all[1].contract: must be 0x followed by 40 hex digits`
/// or `any[0].chain: eip155:5 is not a configured chain`. Errors about the whole document
/// start with `policy:`. An empty `chain_known` skips the configured-chain check (syntax
/// only); evaluation still refuses chains that are not configured.
Result<AccessPolicy> ParsePolicy(std::string_view json, const ChainKnownFn& chain_known);

/// The canonical JSON form: no whitespace; keys in the order chain, standard, contract,
/// token_ids (only when set), min_balance; contract lower-case; token ids and min_balance
/// as decimal strings. `ParsePolicy(ToJson(p)) == p` for every parsed policy.
std::string ToJson(const AccessPolicy& policy);

/// Path of a condition or group as used in errors and denial reasons, e.g. "all[1].any[0]".
/// Exposed so that callers format paths the same way.
std::string ChildPath(std::string_view parent, std::string_view group, std::size_t index);

/// The conditions of a policy in depth-first order with their paths (empty when public).
struct ConditionRef {
  std::string path;
  const Condition* condition = nullptr;
};
std::vector<ConditionRef> ListConditions(const AccessPolicy& policy);

}  // namespace sg::plugins::auth
