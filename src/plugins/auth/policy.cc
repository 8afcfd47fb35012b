#include "plugins/auth/policy.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>

namespace sg::plugins::auth {
namespace {

namespace json = boost::json;

constexpr std::string_view kChainPrefix = "eip155:";
// Chain ids are uint64 in practice (EIP-2294 bounds them far below); 20 digits is 2^64.
constexpr std::size_t kMaxChainIdDigits = 20;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHexDigit(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
char ToLowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string FieldPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) {
    return std::string(key);
  }
  return fmt::format("{}.{}", parent, key);
}

tl::unexpected<Error> FieldError(std::string_view path, std::string_view message) {
  return MakeError(ErrorCode::kInvalidArgument, "{}: {}", path.empty() ? "policy" : path, message);
}

std::string_view KindName(json::kind kind) {
  switch (kind) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

bool IsValidChainId(std::string_view chain) {
  if (!chain.starts_with(kChainPrefix)) {
    return false;
  }
  std::string_view id = chain.substr(kChainPrefix.size());
  if (id.empty() || id.size() > kMaxChainIdDigits || id.front() == '0') {
    return false;
  }
  return std::all_of(id.begin(), id.end(), IsDigit);
}

// A decimal string ("123") or a non-negative JSON integer; nullopt for anything else.
// Numbers with a fraction or exponent arrive as doubles and are refused: a balance
// threshold must be exact.
std::optional<Uint256> ReadUnsigned(const json::value& value) {
  if (value.is_uint64()) {
    return Uint256::FromU64(value.get_uint64());
  }
  if (value.is_int64()) {
    if (value.get_int64() < 0) {
      return std::nullopt;
    }
    return Uint256::FromU64(static_cast<std::uint64_t>(value.get_int64()));
  }
  if (!value.is_string()) {
    return std::nullopt;
  }
  std::string_view text = value.get_string();
  if (text.empty() || !std::all_of(text.begin(), text.end(), IsDigit)) {
    return std::nullopt;
  }
  auto parsed = Uint256::FromDecimal(text);
  if (!parsed) {
    return std::nullopt;
  }
  return *parsed;
}

class Parser {
 public:
  explicit Parser(const ChainKnownFn& chain_known) : chain_known_(chain_known) {}

  Result<AccessPolicy> ParseRoot(const json::value& document) {
    const json::object* root = document.if_object();
    if (root == nullptr) {
      return FieldError("",
                        "must be a JSON object: {\"public\": true}, {\"any\": [...]} or "
                        "{\"all\": [...]}");
    }
    if (root->contains("public")) {
      for (const auto& entry : *root) {
        if (entry.key() != "public") {
          return FieldError(entry.key(), "not allowed together with \"public\"");
        }
      }
      const json::value& flag = root->at("public");
      if (!flag.is_bool() || !flag.get_bool()) {
        return FieldError("public",
                          "must be true; a gated policy is {\"any\": [...]} or {\"all\": [...]}");
      }
      return AccessPolicy::Public();
    }
    if (!root->contains("any") && !root->contains("all")) {
      if (root->empty()) {
        return FieldError("",
                          "is empty; expected {\"public\": true}, {\"any\": [...]} or "
                          "{\"all\": [...]}");
      }
      return FieldError(root->begin()->key(),
                        "unknown key; the root must be {\"public\": true}, "
                        "{\"any\": [...]} or {\"all\": [...]}");
    }
    AccessPolicy policy;
    SG_ASSIGN_OR_RETURN(policy.root, ParseGroup(*root, "", 1));
    return policy;
  }

 private:
  Result<PolicyNode> ParseGroup(const json::object& object, const std::string& path, int depth) {
    const bool has_any = object.contains("any");
    const bool has_all = object.contains("all");
    if (has_any && has_all) {
      return FieldError(FieldPath(path, "all"),
                        "not allowed together with \"any\"; nest one "
                        "group inside the other");
    }
    const std::string_view key = has_any ? "any" : "all";
    for (const auto& entry : object) {
      if (entry.key() != key) {
        return FieldError(FieldPath(path, entry.key()), "unknown key");
      }
    }
    const std::string group_path = FieldPath(path, key);
    if (depth > kMaxPolicyDepth) {
      return FieldError(group_path, fmt::format("nested deeper than {} groups", kMaxPolicyDepth));
    }
    const json::array* items = object.at(key).if_array();
    if (items == nullptr || items->empty()) {
      return FieldError(group_path, "must be a non-empty array of conditions or groups");
    }
    PolicyNode node;
    node.kind = has_any ? PolicyNode::Kind::kAny : PolicyNode::Kind::kAll;
    node.children.reserve(items->size());
    for (std::size_t i = 0; i < items->size(); ++i) {
      const std::string item_path = ChildPath(path, key, i);
      const json::object* item = (*items)[i].if_object();
      if (item == nullptr) {
        return FieldError(item_path, fmt::format("must be an object (a condition or a group), "
                                                 "got {}",
                                                 KindName((*items)[i].kind())));
      }
      if (item->contains("any") || item->contains("all")) {
        SG_ASSIGN_OR_RETURN(PolicyNode child, ParseGroup(*item, item_path, depth + 1));
        node.children.push_back(std::move(child));
        continue;
      }
      if (++conditions_ > kMaxPolicyConditions) {
        return FieldError(
            item_path, fmt::format("more than {} conditions in one policy", kMaxPolicyConditions));
      }
      PolicyNode leaf;
      leaf.kind = PolicyNode::Kind::kCondition;
      SG_ASSIGN_OR_RETURN(leaf.condition, ParseCondition(*item, item_path));
      node.children.push_back(std::move(leaf));
    }
    return node;
  }

  Result<std::string_view> RequiredString(const json::object& object, const std::string& path,
                                          std::string_view key) {
    const json::value* value = object.if_contains(key);
    if (value == nullptr) {
      return FieldError(FieldPath(path, key), "required");
    }
    if (!value->is_string()) {
      return FieldError(FieldPath(path, key),
                        fmt::format("must be a string, got {}", KindName(value->kind())));
    }
    return std::string_view(value->get_string());
  }

  Result<Condition> ParseCondition(const json::object& object, const std::string& path) {
    for (const auto& entry : object) {
      const std::string_view key = entry.key();
      if (key != "chain" && key != "standard" && key != "contract" && key != "token_ids" &&
          key != "min_balance") {
        return FieldError(FieldPath(path, key), "unknown key");
      }
    }
    Condition condition;

    SG_ASSIGN_OR_RETURN(std::string_view chain, RequiredString(object, path, "chain"));
    if (!IsValidChainId(chain)) {
      return FieldError(FieldPath(path, "chain"),
                        "must be \"eip155:\" followed by a decimal chain id, e.g. eip155:1");
    }
    if (chain_known_ && !chain_known_(chain)) {
      return FieldError(FieldPath(path, "chain"),
                        fmt::format("{} is not a configured chain", chain));
    }
    condition.chain = std::string(chain);

    SG_ASSIGN_OR_RETURN(std::string_view standard, RequiredString(object, path, "standard"));
    if (standard == "erc721") {
      condition.standard = TokenStandard::kErc721;
    } else if (standard == "erc1155") {
      condition.standard = TokenStandard::kErc1155;
    } else if (standard == "erc20") {
      condition.standard = TokenStandard::kErc20;
    } else {
      return FieldError(FieldPath(path, "standard"),
                        "must be one of \"erc721\", \"erc1155\", \"erc20\"");
    }

    SG_ASSIGN_OR_RETURN(std::string_view contract, RequiredString(object, path, "contract"));
    if (contract.size() != 42 || contract[0] != '0' || contract[1] != 'x' ||
        !std::all_of(contract.begin() + 2, contract.end(), IsHexDigit)) {
      return FieldError(FieldPath(path, "contract"), "must be 0x followed by 40 hex digits");
    }
    condition.contract.reserve(contract.size());
    for (char c : contract) {
      condition.contract.push_back(ToLowerAscii(c));
    }
    if (condition.contract.find_first_not_of('0', 2) == std::string::npos) {
      return FieldError(FieldPath(path, "contract"), "must not be the zero address");
    }

    if (const json::value* ids = object.if_contains("token_ids")) {
      const std::string ids_path = FieldPath(path, "token_ids");
      if (condition.standard == TokenStandard::kErc20) {
        return FieldError(ids_path, "not allowed for erc20 (fungible tokens have no ids)");
      }
      const json::array* list = ids->if_array();
      if (list == nullptr || list->empty()) {
        return FieldError(ids_path, "must be a non-empty array of decimal strings");
      }
      if (list->size() > kMaxTokenIdsPerCondition) {
        return FieldError(ids_path, fmt::format("has {} ids; at most {} are allowed", list->size(),
                                                kMaxTokenIdsPerCondition));
      }
      for (std::size_t i = 0; i < list->size(); ++i) {
        const std::string id_path = fmt::format("{}[{}]", ids_path, i);
        std::optional<Uint256> id = ReadUnsigned((*list)[i]);
        if (!id) {
          return FieldError(id_path,
                            "must be a decimal string (or non-negative integer) below "
                            "2^256");
        }
        auto same = std::find(condition.token_ids.begin(), condition.token_ids.end(), *id);
        if (same != condition.token_ids.end()) {
          // A repeated id would be counted twice (ERC-721 count, ERC-1155 sum).
          return FieldError(id_path, fmt::format("duplicate of token_ids[{}]",
                                                 same - condition.token_ids.begin()));
        }
        condition.token_ids.push_back(*id);
      }
    } else if (condition.standard == TokenStandard::kErc1155) {
      return FieldError(FieldPath(path, "token_ids"),
                        "required for erc1155 (balances are per token id)");
    }

    if (const json::value* min = object.if_contains("min_balance")) {
      const std::string min_path = FieldPath(path, "min_balance");
      std::optional<Uint256> value = ReadUnsigned(*min);
      if (!value) {
        return FieldError(min_path,
                          "must be a decimal string or a non-negative integer below 2^256");
      }
      if (value->IsZero()) {
        // Zero would let every wallet through: write {"public": true} for that.
        return FieldError(min_path, "must be at least 1");
      }
      condition.min_balance = *value;
    }
    if (condition.standard == TokenStandard::kErc721 && !condition.token_ids.empty() &&
        condition.min_balance > Uint256::FromU64(condition.token_ids.size())) {
      return FieldError(FieldPath(path, "min_balance"),
                        fmt::format("{} exceeds the number of token_ids ({}); the condition "
                                    "could never hold",
                                    condition.min_balance.ToDecimal(), condition.token_ids.size()));
    }
    return condition;
  }

  const ChainKnownFn& chain_known_;
  std::size_t conditions_ = 0;
};

json::value NodeToJson(const PolicyNode& node) {
  if (node.kind == PolicyNode::Kind::kCondition) {
    const Condition& condition = node.condition;
    json::object object;
    object["chain"] = condition.chain;
    object["standard"] = TokenStandardName(condition.standard);
    object["contract"] = condition.contract;
    if (!condition.token_ids.empty()) {
      json::array ids;
      ids.reserve(condition.token_ids.size());
      for (const Uint256& id : condition.token_ids) {
        ids.emplace_back(id.ToDecimal());
      }
      object["token_ids"] = std::move(ids);
    }
    object["min_balance"] = condition.min_balance.ToDecimal();
    return object;
  }
  json::array children;
  children.reserve(node.children.size());
  for (const PolicyNode& child : node.children) {
    children.push_back(NodeToJson(child));
  }
  json::object group;
  group[node.kind == PolicyNode::Kind::kAny ? "any" : "all"] = std::move(children);
  return group;
}

void CollectConditions(const PolicyNode& node, const std::string& path,
                       std::vector<ConditionRef>& out) {
  if (node.kind == PolicyNode::Kind::kCondition) {
    out.push_back({path, &node.condition});
    return;
  }
  std::string_view key = node.kind == PolicyNode::Kind::kAny ? "any" : "all";
  for (std::size_t i = 0; i < node.children.size(); ++i) {
    CollectConditions(node.children[i], ChildPath(path, key, i), out);
  }
}

}  // namespace

std::string ChildPath(std::string_view parent, std::string_view group, std::size_t index) {
  if (parent.empty()) {
    return fmt::format("{}[{}]", group, index);
  }
  return fmt::format("{}.{}[{}]", parent, group, index);
}

Result<AccessPolicy> ParsePolicy(std::string_view text, const ChainKnownFn& chain_known) {
  if (text.size() > kMaxPolicyJsonBytes) {
    return FieldError("", fmt::format("larger than {} bytes", kMaxPolicyJsonBytes));
  }
  boost::system::error_code error;
  json::parse_options options;
  // Depth 4 groups need 2 JSON levels each plus a condition and its token_ids.
  options.max_depth = 2 * kMaxPolicyDepth + 4;
  json::value document = json::parse(text, error, {}, options);
  if (error) {
    return FieldError("", fmt::format("not valid JSON: {}", error.message()));
  }
  try {
    Parser parser(chain_known);
    return parser.ParseRoot(document);
  } catch (const std::exception& e) {
    // json::object::at and friends throw only on bugs here; keep them off the request path.
    return MakeError(ErrorCode::kInternal, "policy: {}", e.what());
  }
}

std::string ToJson(const AccessPolicy& policy) {
  if (policy.is_public) {
    return R"({"public":true})";
  }
  return json::serialize(NodeToJson(policy.root));
}

std::vector<ConditionRef> ListConditions(const AccessPolicy& policy) {
  std::vector<ConditionRef> out;
  if (!policy.is_public) {
    CollectConditions(policy.root, "", out);
  }
  return out;
}

}  // namespace sg::plugins::auth
