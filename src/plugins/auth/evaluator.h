#pragma once
/// Evaluates an access policy for one viewer address against the chains, through the
/// ownership cache. Fail closed: an answer that cannot be known is an error, never a grant.
///
/// Semantics of a condition (leaf), `have` being what the viewer holds:
/// - no token_ids (erc721 / erc20): have = balanceOf(viewer); holds when have >= min_balance.
/// - erc721 with token_ids: have = how many of the listed ids the viewer owns
///   (ownerOf(id) == viewer); holds when have >= min_balance (default 1 = "any one of them").
/// - erc1155 (token_ids required): have = the SUM of balanceOf(viewer, id) over the listed
///   ids (saturating at 2^256 - 1); holds when have >= min_balance. "At least one of each id"
///   is written as an `all` of one condition per id.
/// Groups: `any` holds when one child holds, `all` when every child does. Evaluation is
/// three-valued (holds / fails / unknown): a group is decided as soon as its known children
/// decide it, so an `any` proven by one answer grants even when another chain is down, and
/// an `all` disproven by one answer denies. Only when the root stays unknown is the result
/// kUnavailable.
///
/// Chain reads: the answers still needed (not fresh in the cache, and able to change the
/// outcome) go out in ONE ChainReader::Balances call; the port batches per chain. When that
/// call fails and it spanned several chains, each chain is asked once on its own, so one
/// chain being down does not hide answers from the others.

#include <string>
#include <string_view>
#include <vector>

#include "core/api/result.h"
#include "core/api/services/chain.h"
#include "plugins/auth/ownership_cache.h"
#include "plugins/auth/policy.h"

namespace sg::plugins::auth {

/// A condition that does not hold, and what would satisfy it: hold at least `min_balance`
/// (of the listed `token_ids` when set) of `contract` on `chain`. Carried in the 403 body.
struct UnmetCondition {
  std::string path;  ///< e.g. "all[1]" or "any[0].all[2]": which condition of the policy
  std::string chain;
  TokenStandard standard = TokenStandard::kErc721;
  std::string contract;                ///< lower-case 0x address
  std::vector<std::string> token_ids;  ///< decimal; empty = any token of the contract
  std::string min_balance;             ///< decimal
  std::string have;                    ///< decimal: what the viewer holds now

  friend bool operator==(const UnmetCondition&, const UnmetCondition&) = default;
};

struct Decision {
  bool granted = false;
  /// When denied: the conditions that failed, depth-first. Under a failed `all` only the
  /// failing children are listed (satisfying all of them grants); under a failed `any`
  /// every child failed and any one of them would do, which the paths show.
  std::vector<UnmetCondition> reasons;

  /// One line for logs and the error message, e.g. "access denied: any[0] needs at least
  /// 1 of erc721 0xab... on eip155:1 (has 0)". Names no secrets, only public chain data.
  std::string Explain() const;
};

/// Evaluates `policy` for `viewer_address` (0x + 40 hex digits, any case). Success carries
/// the decision, granted or denied. Errors: kInvalidArgument when `viewer_address` is not an
/// address; kUnavailable when the outcome depends on an answer that cannot be had now (a
/// chain down, not configured, or answering nonsense) and is not fresh in the cache: the
/// message names each such condition, its chain and the failure. Never grants on an error.
Result<Decision> Evaluate(const AccessPolicy& policy, std::string_view viewer_address,
                          ChainReader& reader, OwnershipCache& cache);

/// The explanation of a denial as JSON text for sg::Error::details (the gateway puts it in
/// the error envelope as "details"): {"unmet_conditions":[{"path","chain","standard",
/// "contract","token_ids","min_balance","have"}]}; numbers are decimal strings (they may
/// exceed 2^53).
std::string DenialDetailsJson(const Decision& decision);

/// The error to return for a denial: kPermissionDenied (403), message Explain(), details
/// DenialDetailsJson().
Error DenialError(const Decision& decision);

/// `a + b`, or 2^256 - 1 when the sum would overflow.
Uint256 SaturatingAdd(const Uint256& a, const Uint256& b);

}  // namespace sg::plugins::auth
