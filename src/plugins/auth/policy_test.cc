#include "plugins/auth/policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace sg::plugins::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr std::string_view kContract = "0x1111111111111111111111111111111111111111";

bool KnownChain(std::string_view chain) { return chain == "eip155:1" || chain == "eip155:137"; }

Result<AccessPolicy> Parse(std::string_view json) { return ParsePolicy(json, KnownChain); }

std::string Leaf(std::string_view extra = "", std::string_view standard = "erc721") {
  return fmt::format(R"({{"chain":"eip155:1","standard":"{}","contract":"{}"{}}})", standard,
                     kContract, extra);
}

TEST(PolicyTest, PublicPolicyParsesAndPrintsCanonically) {
  auto policy = Parse(R"( { "public" : true } )");
  ASSERT_TRUE(policy) << policy.error().ToString();
  EXPECT_TRUE(policy->is_public);
  EXPECT_EQ(ToJson(*policy), R"({"public":true})");
}

TEST(PolicyTest, ConditionGetsDefaultsAndLowerCaseContract) {
  auto policy = Parse(
      R"({"any":[{"chain":"eip155:137","standard":"erc721","contract":"0xABCDEFabcdef0123456789012345678901234567"}]})");
  ASSERT_TRUE(policy) << policy.error().ToString();
  ASSERT_EQ(policy->root.kind, PolicyNode::Kind::kAny);
  ASSERT_EQ(policy->root.children.size(), 1u);
  const Condition& condition = policy->root.children[0].condition;
  EXPECT_EQ(condition.chain, "eip155:137");
  EXPECT_EQ(condition.standard, TokenStandard::kErc721);
  EXPECT_EQ(condition.contract, "0xabcdefabcdef0123456789012345678901234567");
  EXPECT_TRUE(condition.token_ids.empty());
  EXPECT_EQ(condition.min_balance, Uint256::FromU64(1));
}

TEST(PolicyTest, CanonicalJsonRoundTripsANestedPolicy) {
  const std::string text = fmt::format(
      R"({{"all":[{},{{"any":[{},{}]}}]}})",
      Leaf(R"(,"min_balance":"1000000000000000000000")", "erc20"),
      Leaf(
          R"(,"token_ids":["7",8,"115792089237316195423570985008687907853269984665640564039457584007913129639935"],"min_balance":2)",
          "erc1155"),
      Leaf(R"(,"token_ids":["1","2"])"));
  auto policy = Parse(text);
  ASSERT_TRUE(policy) << policy.error().ToString();
  const std::string canonical = ToJson(*policy);
  EXPECT_EQ(
      canonical,
      fmt::format(
          R"({{"all":[{{"chain":"eip155:1","standard":"erc20","contract":"{0}",)"
          R"("min_balance":"1000000000000000000000"}},{{"any":[{{"chain":"eip155:1",)"
          R"("standard":"erc1155","contract":"{0}","token_ids":["7","8",)"
          R"("115792089237316195423570985008687907853269984665640564039457584007913129639935"],)"
          R"("min_balance":"2"}},{{"chain":"eip155:1","standard":"erc721",)"
          R"("contract":"{0}","token_ids":["1","2"],"min_balance":"1"}}]}}]}})",
          kContract));
  auto again = Parse(canonical);
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(*again, *policy);
  EXPECT_EQ(ToJson(*again), canonical);
}

TEST(PolicyTest, ListConditionsGivesPathsDepthFirst) {
  auto policy = Parse(fmt::format(R"({{"all":[{},{{"any":[{},{}]}}]}})", Leaf(), Leaf(), Leaf()));
  ASSERT_TRUE(policy) << policy.error().ToString();
  auto conditions = ListConditions(*policy);
  ASSERT_EQ(conditions.size(), 3u);
  EXPECT_EQ(conditions[0].path, "all[0]");
  EXPECT_EQ(conditions[1].path, "all[1].any[0]");
  EXPECT_EQ(conditions[2].path, "all[1].any[1]");
  EXPECT_TRUE(ListConditions(AccessPolicy::Public()).empty());
}

TEST(PolicyTest, FourNestedGroupsAreAllowed) {
  auto policy = Parse(fmt::format(R"({{"any":[{{"all":[{{"any":[{{"all":[{}]}}]}}]}}]}})", Leaf()));
  ASSERT_TRUE(policy) << policy.error().ToString();
}

TEST(PolicyTest, SixteenConditionsAreAllowed) {
  std::string leaves;
  for (int i = 0; i < 16; ++i) {
    leaves += (i == 0 ? "" : ",") + Leaf();
  }
  EXPECT_TRUE(Parse(fmt::format(R"({{"any":[{}]}})", leaves)));
}

TEST(PolicyTest, EmptyChainCheckAcceptsAnyWellFormedChain) {
  auto policy = ParsePolicy(
      fmt::format(R"({{"any":[{{"chain":"eip155:5","standard":"erc20","contract":"{}"}}]}})",
                  kContract),
      {});
  EXPECT_TRUE(policy) << policy.error().ToString();
}

struct BadPolicyCase {
  std::string name;
  std::string json;
  std::string message;  // the whole error message, path first
};

class BadPolicyTest : public ::testing::TestWithParam<BadPolicyCase> {};

TEST_P(BadPolicyTest, IsRejectedWithAMessageThatNamesTheField) {
  auto policy = Parse(GetParam().json);
  ASSERT_FALSE(policy) << "accepted: " << ToJson(*policy);
  EXPECT_EQ(policy.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(policy.error().message, GetParam().message);
}

std::string Sixteen() {
  std::string leaves;
  for (int i = 0; i < 17; ++i) {
    leaves += (i == 0 ? "" : ",") + Leaf();
  }
  return leaves;
}

std::string SixtyFiveIds() {
  std::string ids;
  for (int i = 0; i < 65; ++i) {
    ids += fmt::format("{}\"{}\"", i == 0 ? "" : ",", i);
  }
  return ids;
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadPolicyTest,
    ::testing::Values(
        BadPolicyCase{"NotJson", "{", "policy: not valid JSON: incomplete JSON"},
        BadPolicyCase{
            "NotAnObject", "[]",
            R"(policy: must be a JSON object: {"public": true}, {"any": [...]} or {"all": [...]})"},
        BadPolicyCase{
            "EmptyObject", "{}",
            R"(policy: is empty; expected {"public": true}, {"any": [...]} or {"all": [...]})"},
        BadPolicyCase{
            "PublicFalse", R"({"public":false})",
            R"(public: must be true; a gated policy is {"any": [...]} or {"all": [...]})"},
        BadPolicyCase{
            "PublicString", R"({"public":"true"})",
            R"(public: must be true; a gated policy is {"any": [...]} or {"all": [...]})"},
        BadPolicyCase{"PublicWithAny", R"({"public":true,"any":[]})",
                      R"(any: not allowed together with "public")"},
        BadPolicyCase{
            "UnknownRootKey", R"({"allow":[]})",
            R"(allow: unknown key; the root must be {"public": true}, {"any": [...]} or {"all": [...]})"},
        BadPolicyCase{
            "RootBareCondition", Leaf(),
            R"(chain: unknown key; the root must be {"public": true}, {"any": [...]} or {"all": [...]})"},
        BadPolicyCase{"AnyAndAll", R"({"any":[],"all":[]})",
                      R"(all: not allowed together with "any"; nest one group inside the other)"},
        BadPolicyCase{"GroupExtraKey", fmt::format(R"({{"any":[{}],"note":"x"}})", Leaf()),
                      "note: unknown key"},
        BadPolicyCase{"EmptyAny", R"({"any":[]})",
                      "any: must be a non-empty array of conditions or groups"},
        BadPolicyCase{"AllNotArray", R"({"all":{}})",
                      "all: must be a non-empty array of conditions or groups"},
        BadPolicyCase{"ItemNotObject", R"({"any":[1]})",
                      "any[0]: must be an object (a condition or a group), got a number"},
        BadPolicyCase{"NestedEmptyGroup", fmt::format(R"({{"any":[{},{{"all":[]}}]}})", Leaf()),
                      "any[1].all: must be a non-empty array of conditions or groups"},
        BadPolicyCase{"NestedGroupExtraKey",
                      fmt::format(R"({{"any":[{{"all":[{}],"chain":"eip155:1"}}]}})", Leaf()),
                      "any[0].chain: unknown key"},
        BadPolicyCase{
            "TooDeep",
            fmt::format(R"({{"any":[{{"all":[{{"any":[{{"all":[{{"any":[{}]}}]}}]}}]}}]}})",
                        Leaf()),
            "any[0].all[0].any[0].all[0].any: nested deeper than 4 groups"},
        BadPolicyCase{"TooManyConditions", fmt::format(R"({{"any":[{}]}})", Sixteen()),
                      "any[16]: more than 16 conditions in one policy"},
        BadPolicyCase{"UnknownConditionKey",
                      fmt::format(R"({{"all":[{},{}]}})", Leaf(), Leaf(R"(,"minBalance":1)")),
                      "all[1].minBalance: unknown key"},
        BadPolicyCase{
            "MissingChain",
            fmt::format(R"({{"any":[{{"standard":"erc721","contract":"{}"}}]}})", kContract),
            "any[0].chain: required"},
        BadPolicyCase{
            "ChainNotString",
            fmt::format(R"({{"any":[{{"chain":1,"standard":"erc721","contract":"{}"}}]}})",
                        kContract),
            "any[0].chain: must be a string, got a number"},
        BadPolicyCase{
            "ChainNotCaip2",
            fmt::format(R"({{"any":[{{"chain":"1","standard":"erc721","contract":"{}"}}]}})",
                        kContract),
            R"(any[0].chain: must be "eip155:" followed by a decimal chain id, e.g. eip155:1)"},
        BadPolicyCase{
            "ChainLeadingZero",
            fmt::format(
                R"({{"any":[{{"chain":"eip155:01","standard":"erc721","contract":"{}"}}]}})",
                kContract),
            R"(any[0].chain: must be "eip155:" followed by a decimal chain id, e.g. eip155:1)"},
        BadPolicyCase{
            "ChainNotConfigured",
            fmt::format(R"({{"any":[{{"chain":"eip155:5","standard":"erc721","contract":"{}"}}]}})",
                        kContract),
            "any[0].chain: eip155:5 is not a configured chain"},
        BadPolicyCase{
            "MissingStandard",
            fmt::format(R"({{"any":[{{"chain":"eip155:1","contract":"{}"}}]}})", kContract),
            "any[0].standard: required"},
        BadPolicyCase{"UnknownStandard", fmt::format(R"({{"any":[{}]}})", Leaf("", "ERC721")),
                      R"(any[0].standard: must be one of "erc721", "erc1155", "erc20")"},
        BadPolicyCase{"MissingContract", R"({"any":[{"chain":"eip155:1","standard":"erc721"}]})",
                      "any[0].contract: required"},
        BadPolicyCase{
            "ContractTooShort",
            fmt::format(
                R"({{"all":[{},{{"chain":"eip155:1","standard":"erc721","contract":"0x1234"}}]}})",
                Leaf()),
            "all[1].contract: must be 0x followed by 40 hex digits"},
        BadPolicyCase{
            "ContractNotHex",
            R"({"any":[{"chain":"eip155:1","standard":"erc721","contract":"0x111111111111111111111111111111111111111g"}]})",
            "any[0].contract: must be 0x followed by 40 hex digits"},
        BadPolicyCase{
            "ContractZero",
            R"({"any":[{"chain":"eip155:1","standard":"erc721","contract":"0x0000000000000000000000000000000000000000"}]})",
            "any[0].contract: must not be the zero address"},
        BadPolicyCase{"Erc20WithIds",
                      fmt::format(R"({{"any":[{}]}})", Leaf(R"(,"token_ids":["1"])", "erc20")),
                      "any[0].token_ids: not allowed for erc20 (fungible tokens have no ids)"},
        BadPolicyCase{"Erc1155WithoutIds", fmt::format(R"({{"any":[{}]}})", Leaf("", "erc1155")),
                      "any[0].token_ids: required for erc1155 (balances are per token id)"},
        BadPolicyCase{"EmptyIds", fmt::format(R"({{"any":[{}]}})", Leaf(R"(,"token_ids":[])")),
                      "any[0].token_ids: must be a non-empty array of decimal strings"},
        BadPolicyCase{"IdsNotArray", fmt::format(R"({{"any":[{}]}})", Leaf(R"(,"token_ids":"1")")),
                      "any[0].token_ids: must be a non-empty array of decimal strings"},
        BadPolicyCase{"TooManyIds",
                      fmt::format(R"({{"any":[{}]}})",
                                  Leaf(fmt::format(R"(,"token_ids":[{}])", SixtyFiveIds()))),
                      "any[0].token_ids: has 65 ids; at most 64 are allowed"},
        BadPolicyCase{
            "IdNegative", fmt::format(R"({{"any":[{}]}})", Leaf(R"(,"token_ids":["1",-2])")),
            "any[0].token_ids[1]: must be a decimal string (or non-negative integer) below 2^256"},
        BadPolicyCase{
            "IdHex", fmt::format(R"({{"any":[{}]}})", Leaf(R"(,"token_ids":["0x1"])")),
            "any[0].token_ids[0]: must be a decimal string (or non-negative integer) below 2^256"},
        BadPolicyCase{
            "IdFraction", fmt::format(R"({{"any":[{}]}})", Leaf(R"(,"token_ids":[1.5])")),
            "any[0].token_ids[0]: must be a decimal string (or non-negative integer) below 2^256"},
        BadPolicyCase{
            "IdTooBig",
            fmt::format(
                R"({{"any":[{}]}})",
                Leaf(
                    R"(,"token_ids":["115792089237316195423570985008687907853269984665640564039457584007913129639936"])")),
            "any[0].token_ids[0]: must be a decimal string (or non-negative integer) below 2^256"},
        BadPolicyCase{"IdDuplicate",
                      fmt::format(R"({{"any":[{}]}})", Leaf(R"(,"token_ids":["1","2","001"])")),
                      "any[0].token_ids[2]: duplicate of token_ids[0]"},
        BadPolicyCase{"MinBalanceZero",
                      fmt::format(R"({{"any":[{}]}})", Leaf(R"(,"min_balance":0)")),
                      "any[0].min_balance: must be at least 1"},
        BadPolicyCase{"MinBalanceZeroString",
                      fmt::format(R"({{"any":[{}]}})", Leaf(R"(,"min_balance":"000")")),
                      "any[0].min_balance: must be at least 1"},
        BadPolicyCase{
            "MinBalanceNegative", fmt::format(R"({{"any":[{}]}})", Leaf(R"(,"min_balance":-1)")),
            "any[0].min_balance: must be a decimal string or a non-negative integer below 2^256"},
        BadPolicyCase{
            "MinBalanceFloat", fmt::format(R"({{"any":[{}]}})", Leaf(R"(,"min_balance":1e3)")),
            "any[0].min_balance: must be a decimal string or a non-negative integer below 2^256"},
        BadPolicyCase{
            "MinBalanceSigned", fmt::format(R"({{"any":[{}]}})", Leaf(R"(,"min_balance":"+5")")),
            "any[0].min_balance: must be a decimal string or a non-negative integer below 2^256"},
        BadPolicyCase{
            "MinBalanceNull", fmt::format(R"({{"any":[{}]}})", Leaf(R"(,"min_balance":null)")),
            "any[0].min_balance: must be a decimal string or a non-negative integer below 2^256"},
        BadPolicyCase{
            "Erc721MinAboveIds",
            fmt::format(R"({{"any":[{}]}})", Leaf(R"(,"token_ids":["1","2"],"min_balance":3)")),
            "any[0].min_balance: 3 exceeds the number of token_ids (2); the condition "
            "could never hold"},
        BadPolicyCase{"DeepFieldPath",
                      fmt::format(R"({{"all":[{},{{"any":[{},{}]}}]}})", Leaf(), Leaf(),
                                  Leaf(R"(,"min_balance":"x")")),
                      "all[1].any[1].min_balance: must be a decimal string or a non-negative "
                      "integer below 2^256"}),
    [](const ::testing::TestParamInfo<BadPolicyCase>& param_info) {
      return param_info.param.name;
    });

TEST(PolicyTest, OversizedDocumentIsRejectedBeforeParsing) {
  std::string huge(kMaxPolicyJsonBytes + 1, ' ');
  auto policy = Parse(huge);
  ASSERT_FALSE(policy);
  EXPECT_EQ(policy.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(policy.error().message, StartsWith("policy: larger than"));
}

TEST(PolicyTest, DeeplyNestedJsonIsRejectedWithoutRecursingForever) {
  std::string deep(10'000, '[');
  auto policy = Parse(deep);
  ASSERT_FALSE(policy);
  EXPECT_THAT(policy.error().message, StartsWith("policy: not valid JSON"));
}

TEST(PolicyTest, ChainCallbackIsAskedWithTheChainId) {
  std::vector<std::string> asked;
  auto policy = ParsePolicy(fmt::format(R"({{"any":[{}]}})", Leaf()), [&](std::string_view c) {
    asked.emplace_back(c);
    return true;
  });
  ASSERT_TRUE(policy);
  EXPECT_THAT(asked, ::testing::ElementsAre("eip155:1"));
}

TEST(PolicyTest, ErrorNeverEchoesTheWholeDocument) {
  auto policy = Parse(R"({"any":[{"chain":"eip155:1","standard":"erc721","contract":"0xnope"}]})");
  ASSERT_FALSE(policy);
  EXPECT_THAT(policy.error().message, ::testing::Not(HasSubstr("0xnope")));
}

}  // namespace
}  // namespace sg::plugins::auth
