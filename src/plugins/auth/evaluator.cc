#include "plugins/auth/evaluator.h"

#include <boost/json.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

namespace sg::plugins::auth {
namespace {

namespace json = boost::json;

enum class Tri { kFalse, kTrue, kUnknown };

struct Leaf {
  std::string path;
  const Condition* condition = nullptr;
  BalanceQuery query;
  Tri state = Tri::kUnknown;
  Uint256 have;
  /// False once asking again in this evaluation is pointless (chain not configured, or
  /// the chain call already failed).
  bool queryable = true;
  std::string failure;  ///< why the state is unknown
};

bool IsAddress(std::string_view text) {
  if (text.size() != 42 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X')) {
    return false;
  }
  return std::all_of(text.begin() + 2, text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

std::string LowerAddress(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  out[1] = 'x';
  return out;
}

// What the viewer holds with respect to `condition` (see the header), or nullopt when the
// answer does not have one balance per id (a broken reader: never guess).
std::optional<Uint256> ComputeHave(const Condition& condition, const BalanceAnswer& answer) {
  const std::size_t expected = condition.token_ids.empty() ? 1 : condition.token_ids.size();
  if (answer.balances.size() != expected) {
    return std::nullopt;
  }
  if (condition.standard == TokenStandard::kErc721 && !condition.token_ids.empty()) {
    std::uint64_t owned = 0;
    for (const Uint256& balance : answer.balances) {
      owned += balance.IsZero() ? 0 : 1;
    }
    return Uint256::FromU64(owned);
  }
  Uint256 sum;
  for (const Uint256& balance : answer.balances) {
    sum = SaturatingAdd(sum, balance);
  }
  return sum;
}

bool Satisfies(const Condition& condition, const BalanceAnswer& answer) {
  std::optional<Uint256> have = ComputeHave(condition, answer);
  return have && *have >= condition.min_balance;
}

void Resolve(Leaf& leaf, const BalanceAnswer& answer) {
  std::optional<Uint256> have = ComputeHave(*leaf.condition, answer);
  if (!have) {
    leaf.state = Tri::kUnknown;
    leaf.queryable = false;
    leaf.failure = fmt::format("the chain reader answered {} balances for {} token ids",
                               answer.balances.size(), leaf.condition->token_ids.size());
    return;
  }
  leaf.have = *have;
  leaf.state = *have >= leaf.condition->min_balance ? Tri::kTrue : Tri::kFalse;
}

void CollectLeaves(const PolicyNode& node, const std::string& path, std::vector<Leaf>& out) {
  if (node.kind == PolicyNode::Kind::kCondition) {
    Leaf leaf;
    leaf.path = path;
    leaf.condition = &node.condition;
    out.push_back(std::move(leaf));
    return;
  }
  std::string_view key = node.kind == PolicyNode::Kind::kAny ? "any" : "all";
  for (std::size_t i = 0; i < node.children.size(); ++i) {
    CollectLeaves(node.children[i], ChildPath(path, key, i), out);
  }
}

// Three-valued evaluation. `next` walks the leaves in the order of CollectLeaves. When
// `undecided` is set, it receives the indexes of the unknown leaves that could still change
// the outcome (those under groups that known answers have not decided yet).
Tri Eval(const PolicyNode& node, const std::vector<Leaf>& leaves, std::size_t& next,
         std::vector<std::size_t>* undecided) {
  if (node.kind == PolicyNode::Kind::kCondition) {
    const std::size_t index = next++;
    if (undecided != nullptr && leaves[index].state == Tri::kUnknown) {
      undecided->push_back(index);
    }
    return leaves[index].state;
  }
  const bool any = node.kind == PolicyNode::Kind::kAny;
  std::vector<std::size_t> mine;
  bool saw_unknown = false;
  bool decided = false;
  for (const PolicyNode& child : node.children) {
    // Every child is walked (not returned from early) so that `next` stays in step.
    Tri value = Eval(child, leaves, next, undecided != nullptr ? &mine : nullptr);
    if (value == Tri::kUnknown) {
      saw_unknown = true;
    } else if ((value == Tri::kTrue) == any) {
      decided = true;
    }
  }
  if (decided) {
    return any ? Tri::kTrue : Tri::kFalse;
  }
  if (saw_unknown) {
    if (undecided != nullptr) {
      undecided->insert(undecided->end(), mine.begin(), mine.end());
    }
    return Tri::kUnknown;
  }
  return any ? Tri::kFalse : Tri::kTrue;
}

Tri EvalRoot(const AccessPolicy& policy, const std::vector<Leaf>& leaves,
             std::vector<std::size_t>* undecided) {
  std::size_t next = 0;
  return Eval(policy.root, leaves, next, undecided);
}

// Collects the failed leaves that make `node` fail (see Decision::reasons).
Tri CollectUnmet(const PolicyNode& node, const std::vector<Leaf>& leaves, std::size_t& next,
                 std::vector<const Leaf*>& out) {
  if (node.kind == PolicyNode::Kind::kCondition) {
    const Leaf& leaf = leaves[next++];
    if (leaf.state == Tri::kFalse) {
      out.push_back(&leaf);
    }
    return leaf.state;
  }
  const bool any = node.kind == PolicyNode::Kind::kAny;
  bool saw_true = false;
  bool saw_false = false;
  bool saw_unknown = false;
  for (const PolicyNode& child : node.children) {
    std::vector<const Leaf*> child_unmet;
    Tri value = CollectUnmet(child, leaves, next, child_unmet);
    saw_true |= value == Tri::kTrue;
    saw_false |= value == Tri::kFalse;
    saw_unknown |= value == Tri::kUnknown;
    if (value == Tri::kFalse) {
      out.insert(out.end(), child_unmet.begin(), child_unmet.end());
    }
  }
  if (any) {
    return saw_true ? Tri::kTrue : (saw_unknown ? Tri::kUnknown : Tri::kFalse);
  }
  return saw_false ? Tri::kFalse : (saw_unknown ? Tri::kUnknown : Tri::kTrue);
}

UnmetCondition ToUnmet(const Leaf& leaf) {
  const Condition& condition = *leaf.condition;
  UnmetCondition unmet;
  unmet.path = leaf.path;
  unmet.chain = condition.chain;
  unmet.standard = condition.standard;
  unmet.contract = condition.contract;
  unmet.token_ids.reserve(condition.token_ids.size());
  for (const Uint256& id : condition.token_ids) {
    unmet.token_ids.push_back(id.ToDecimal());
  }
  unmet.min_balance = condition.min_balance.ToDecimal();
  unmet.have = leaf.have.ToDecimal();
  return unmet;
}

// Asks the chain for the leaves in `indexes` (one Balances call; identical queries once),
// recording answers in the leaves and the cache, or the failure in the leaves. False when
// the call failed.
bool Fetch(const std::vector<std::size_t>& indexes, std::vector<Leaf>& leaves, ChainReader& reader,
           OwnershipCache& cache) {
  std::vector<BalanceQuery> batch;
  std::unordered_map<std::string, std::size_t> slot_of_key;
  std::vector<std::size_t> slot_of_leaf(indexes.size());
  for (std::size_t i = 0; i < indexes.size(); ++i) {
    const BalanceQuery& query = leaves[indexes[i]].query;
    auto [it, inserted] = slot_of_key.emplace(OwnershipCache::Key(query), batch.size());
    if (inserted) {
      batch.push_back(query);
    }
    slot_of_leaf[i] = it->second;
  }
  Result<std::vector<BalanceAnswer>> answers = reader.Balances(batch);
  if (answers && answers->size() != batch.size()) {
    answers = MakeError(ErrorCode::kInternal, "the chain reader answered {} queries out of {}",
                        answers->size(), batch.size());
  }
  if (!answers) {
    for (std::size_t index : indexes) {
      leaves[index].queryable = false;
      leaves[index].failure = answers.error().message;
    }
    return false;
  }
  for (std::size_t slot = 0; slot < batch.size(); ++slot) {
    cache.Put(batch[slot], (*answers)[slot]);
  }
  for (std::size_t i = 0; i < indexes.size(); ++i) {
    Resolve(leaves[indexes[i]], (*answers)[slot_of_leaf[i]]);
  }
  return true;
}

std::string DescribeCondition(const UnmetCondition& unmet) {
  std::string ids;
  if (!unmet.token_ids.empty()) {
    constexpr std::size_t kShown = 8;
    const std::size_t shown = std::min(kShown, unmet.token_ids.size());
    ids = fmt::format(" (token ids {}{})",
                      fmt::join(unmet.token_ids.begin(), unmet.token_ids.begin() + shown, ", "),
                      unmet.token_ids.size() > shown
                          ? fmt::format(" and {} more", unmet.token_ids.size() - shown)
                          : std::string());
  }
  return fmt::format("{} needs at least {} of {} {}{} on {} (has {})", unmet.path,
                     unmet.min_balance, TokenStandardName(unmet.standard), unmet.contract, ids,
                     unmet.chain, unmet.have);
}

}  // namespace

Uint256 SaturatingAdd(const Uint256& a, const Uint256& b) {
  Uint256 sum;
  unsigned carry = 0;
  for (std::size_t i = sum.bytes.size(); i-- > 0;) {
    const unsigned total = unsigned{a.bytes[i]} + unsigned{b.bytes[i]} + carry;
    sum.bytes[i] = static_cast<std::uint8_t>(total & 0xffu);
    carry = total >> 8;
  }
  if (carry != 0) {
    sum.bytes.fill(0xff);
  }
  return sum;
}

std::string Decision::Explain() const {
  if (granted) {
    return "access granted";
  }
  if (reasons.empty()) {
    return "access denied";
  }
  std::vector<std::string> parts;
  parts.reserve(reasons.size());
  for (const UnmetCondition& unmet : reasons) {
    parts.push_back(DescribeCondition(unmet));
  }
  return fmt::format("access denied: {}", fmt::join(parts, "; "));
}

Result<Decision> Evaluate(const AccessPolicy& policy, std::string_view viewer_address,
                          ChainReader& reader, OwnershipCache& cache) {
  if (policy.is_public) {
    return Decision{.granted = true};
  }
  if (!IsAddress(viewer_address)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a gated policy needs a wallet address (0x followed by 40 hex digits)");
  }
  const std::string owner = LowerAddress(viewer_address);

  std::vector<Leaf> leaves;
  CollectLeaves(policy.root, "", leaves);
  if (leaves.empty()) {
    // ParsePolicy never builds this; refuse rather than let an empty `all` hold.
    return MakeError(ErrorCode::kInternal, "access policy has no conditions");
  }
  for (Leaf& leaf : leaves) {
    const Condition& condition = *leaf.condition;
    leaf.query = BalanceQuery{.chain = condition.chain,
                              .standard = condition.standard,
                              .contract = condition.contract,
                              .owner = owner,
                              .token_ids = condition.token_ids};
    if (!reader.HasChain(condition.chain)) {
      leaf.queryable = false;
      leaf.failure = fmt::format("{} is not a configured chain", condition.chain);
      continue;
    }
    // Fresh for positive_ttl when it grants this condition, negative_ttl when it does not.
    auto cached = cache.Get(leaf.query, [&condition](const BalanceAnswer& answer) {
      return Satisfies(condition, answer);
    });
    if (cached) {
      Resolve(leaf, *cached);
      leaf.queryable = true;  // a malformed cached answer is simply asked again
      leaf.failure.clear();
    }
  }

  std::vector<std::size_t> undecided;
  Tri outcome = EvalRoot(policy, leaves, &undecided);
  if (outcome == Tri::kUnknown) {
    std::vector<std::size_t> needed;
    std::copy_if(undecided.begin(), undecided.end(), std::back_inserter(needed),
                 [&leaves](std::size_t index) { return leaves[index].queryable; });
    if (!needed.empty()) {
      std::map<std::string, std::vector<std::size_t>> by_chain;
      for (std::size_t index : needed) {
        by_chain[leaves[index].condition->chain].push_back(index);
      }
      // The port fails a whole batch when one chain cannot be asked: then ask each chain
      // alone, so that an `any` proven on a healthy chain still grants.
      if (!Fetch(needed, leaves, reader, cache) && by_chain.size() > 1) {
        for (const auto& [chain, indexes] : by_chain) {
          Fetch(indexes, leaves, reader, cache);
        }
      }
    }
    undecided.clear();
    outcome = EvalRoot(policy, leaves, &undecided);
  }

  if (outcome == Tri::kUnknown) {
    std::vector<std::string> parts;
    for (std::size_t index : undecided) {
      const Leaf& leaf = leaves[index];
      parts.push_back(fmt::format("{} on {}: {}", leaf.path, leaf.condition->chain,
                                  leaf.failure.empty() ? "no answer" : leaf.failure));
    }
    return MakeError(ErrorCode::kUnavailable,
                     "cannot decide access now, refusing until the chain answers: {}",
                     fmt::join(parts, "; "));
  }
  Decision decision;
  decision.granted = outcome == Tri::kTrue;
  if (!decision.granted) {
    std::vector<const Leaf*> unmet;
    std::size_t next = 0;
    CollectUnmet(policy.root, leaves, next, unmet);
    decision.reasons.reserve(unmet.size());
    for (const Leaf* leaf : unmet) {
      decision.reasons.push_back(ToUnmet(*leaf));
    }
  }
  return decision;
}

std::string DenialDetailsJson(const Decision& decision) {
  json::array unmet;
  unmet.reserve(decision.reasons.size());
  for (const UnmetCondition& reason : decision.reasons) {
    json::array ids;
    for (const std::string& id : reason.token_ids) {
      ids.emplace_back(id);
    }
    json::object item;
    item["path"] = reason.path;
    item["chain"] = reason.chain;
    item["standard"] = TokenStandardName(reason.standard);
    item["contract"] = reason.contract;
    item["token_ids"] = std::move(ids);
    item["min_balance"] = reason.min_balance;
    item["have"] = reason.have;
    unmet.push_back(std::move(item));
  }
  json::object details;
  details["unmet_conditions"] = std::move(unmet);
  return json::serialize(details);
}

Error DenialError(const Decision& decision) {
  Error error{ErrorCode::kPermissionDenied, decision.Explain()};
  error.details = DenialDetailsJson(decision);
  return error;
}

}  // namespace sg::plugins::auth
