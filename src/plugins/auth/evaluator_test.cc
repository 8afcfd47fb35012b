#include "plugins/auth/evaluator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <string>

#include "core/testing/fake_clock.h"
#include "plugins/auth/fake_chain_reader.h"

namespace sg::plugins::auth {
namespace {

using ::testing::ElementsAre;
using testing::FakeChainReader;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::string_view kViewer = "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01";
constexpr std::string_view kNft = "0x1111111111111111111111111111111111111111";
constexpr std::string_view kCoin = "0x2222222222222222222222222222222222222222";
constexpr std::string_view kItems = "0x3333333333333333333333333333333333333333";
constexpr std::string_view kOther = "0x4444444444444444444444444444444444444444";

// "2^64 * 1000": a threshold no 64-bit integer can hold.
constexpr std::string_view kBig = "18446744073709551616000";
constexpr std::string_view kBigMinusOne = "18446744073709551615999";

AccessPolicy MakePolicy(std::string_view json) {
  auto policy = ParsePolicy(json, {});
  EXPECT_TRUE(policy) << policy.error().ToString();
  return policy ? *policy : AccessPolicy{};
}

std::string Nft(std::string_view chain = "eip155:1", std::string_view contract = kNft,
                std::string_view extra = "") {
  return fmt::format(R"({{"chain":"{}","standard":"erc721","contract":"{}"{}}})", chain, contract,
                     extra);
}

Uint256 Dec(std::string_view text) { return *Uint256::FromDecimal(text); }

class EvaluatorTest : public ::testing::Test {
 protected:
  Result<Decision> Run(const AccessPolicy& policy, std::string_view viewer = kViewer) {
    return Evaluate(policy, viewer, chain_, cache_);
  }
  void Give(std::string_view chain, std::string_view contract, std::uint64_t count) {
    chain_.SetBalance(std::string(chain), TokenStandard::kErc721, std::string(contract),
                      std::string(kViewer), Uint256::FromU64(count));
  }

  sg::testing::FakeClock clock_;
  FakeChainReader chain_;
  OwnershipCache cache_{clock_};
};

TEST_F(EvaluatorTest, PublicPolicyGrantsWithoutAskingAChain) {
  auto decision = Run(AccessPolicy::Public(), "anonymous");
  ASSERT_TRUE(decision) << decision.error().ToString();
  EXPECT_TRUE(decision->granted);
  EXPECT_EQ(chain_.calls(), 0);
}

TEST_F(EvaluatorTest, HolderOfAnNftIsGranted) {
  Give("eip155:1", kNft, 1);
  auto decision = Run(MakePolicy(fmt::format(R"({{"any":[{}]}})", Nft())));
  ASSERT_TRUE(decision) << decision.error().ToString();
  EXPECT_TRUE(decision->granted);
  EXPECT_TRUE(decision->reasons.empty());
}

TEST_F(EvaluatorTest, NonHolderIsDeniedWithWhatWouldSatisfy) {
  auto decision = Run(MakePolicy(fmt::format(R"({{"any":[{}]}})", Nft("eip155:137"))));
  ASSERT_TRUE(decision) << decision.error().ToString();
  EXPECT_FALSE(decision->granted);
  ASSERT_EQ(decision->reasons.size(), 1u);
  const UnmetCondition& unmet = decision->reasons[0];
  EXPECT_EQ(unmet, (UnmetCondition{.path = "any[0]",
                                   .chain = "eip155:137",
                                   .standard = TokenStandard::kErc721,
                                   .contract = std::string(kNft),
                                   .token_ids = {},
                                   .min_balance = "1",
                                   .have = "0"}));
  EXPECT_EQ(decision->Explain(),
            "access denied: any[0] needs at least 1 of erc721 "
            "0x1111111111111111111111111111111111111111 on eip155:137 (has 0)");
}

TEST_F(EvaluatorTest, ViewerThatIsNotAnAddressIsAnError) {
  auto policy = MakePolicy(fmt::format(R"({{"any":[{}]}})", Nft()));
  for (std::string_view viewer :
       {"", "admin", "0x1234", "eip155:1:0xabcdef0123456789abcdef0123456789abcdef01",
        "0xg bcdef0123456789abcdef0123456789abcdef01"}) {
    auto decision = Run(policy, viewer);
    ASSERT_FALSE(decision) << viewer;
    EXPECT_EQ(decision.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_EQ(chain_.calls(), 0);
}

// ---- truth tables

struct TwoLeafCase {
  bool a;
  bool b;
};

class TwoLeafTest : public EvaluatorTest, public ::testing::WithParamInterface<TwoLeafCase> {};

TEST_P(TwoLeafTest, AnyHoldsWhenOneHoldsAndAllWhenBothHold) {
  const auto [a, b] = GetParam();
  Give("eip155:1", kNft, a ? 1 : 0);
  Give("eip155:137", kOther, b ? 1 : 0);
  const std::string leaves = Nft("eip155:1", kNft) + "," + Nft("eip155:137", kOther);

  auto any = Run(MakePolicy(fmt::format(R"({{"any":[{}]}})", leaves)));
  cache_.Clear();
  auto all = Run(MakePolicy(fmt::format(R"({{"all":[{}]}})", leaves)));

  ASSERT_TRUE(any) << any.error().ToString();
  ASSERT_TRUE(all) << all.error().ToString();
  EXPECT_EQ(any->granted, a || b);
  EXPECT_EQ(all->granted, a && b);
  EXPECT_EQ(any->reasons.size(), any->granted ? 0u : 2u);
  EXPECT_EQ(all->reasons.size(), static_cast<std::size_t>(!a) + static_cast<std::size_t>(!b));
}

INSTANTIATE_TEST_SUITE_P(Table, TwoLeafTest,
                         ::testing::Values(TwoLeafCase{false, false}, TwoLeafCase{false, true},
                                           TwoLeafCase{true, false}, TwoLeafCase{true, true}));

class NestedTest : public EvaluatorTest, public ::testing::WithParamInterface<int> {};

// all[A, any[B, all[C, D]]] over every combination of the four leaves.
TEST_P(NestedTest, NestedGroupsCombineLikeBooleanFormulas) {
  const int bits = GetParam();
  const bool a = bits & 1;
  const bool b = bits & 2;
  const bool c = bits & 4;
  const bool d = bits & 8;
  const std::string contracts[] = {
      "0x000000000000000000000000000000000000000a", "0x000000000000000000000000000000000000000b",
      "0x000000000000000000000000000000000000000c", "0x000000000000000000000000000000000000000d"};
  Give("eip155:1", contracts[0], a);
  Give("eip155:1", contracts[1], b);
  Give("eip155:137", contracts[2], c);
  Give("eip155:137", contracts[3], d);
  auto policy =
      MakePolicy(fmt::format(R"({{"all":[{},{{"any":[{},{{"all":[{},{}]}}]}}]}})",
                             Nft("eip155:1", contracts[0]), Nft("eip155:1", contracts[1]),
                             Nft("eip155:137", contracts[2]), Nft("eip155:137", contracts[3])));

  auto decision = Run(policy);

  ASSERT_TRUE(decision) << decision.error().ToString();
  EXPECT_EQ(decision->granted, a && (b || (c && d)));
  EXPECT_EQ(chain_.calls(), 1);
  if (!decision->granted) {
    EXPECT_FALSE(decision->reasons.empty());
    for (const UnmetCondition& unmet : decision->reasons) {
      EXPECT_EQ(unmet.have, "0") << unmet.path;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryCombination, NestedTest, ::testing::Range(0, 16));

TEST_F(EvaluatorTest, DenialListsOnlyTheFailingBranches) {
  const std::string a = "0x000000000000000000000000000000000000000a";
  const std::string b = "0x000000000000000000000000000000000000000b";
  const std::string c = "0x000000000000000000000000000000000000000c";
  const std::string d = "0x000000000000000000000000000000000000000d";
  const std::string e = "0x000000000000000000000000000000000000000e";
  Give("eip155:1", a, 1);
  Give("eip155:1", d, 1);
  // all[A ok, B fails, any[C fails, all[D ok, E fails]]]
  auto policy = MakePolicy(fmt::format(R"({{"all":[{},{},{{"any":[{},{{"all":[{},{}]}}]}}]}})",
                                       Nft("eip155:1", a), Nft("eip155:1", b), Nft("eip155:1", c),
                                       Nft("eip155:1", d), Nft("eip155:1", e)));
  auto decision = Run(policy);
  ASSERT_TRUE(decision) << decision.error().ToString();
  EXPECT_FALSE(decision->granted);
  std::vector<std::string> paths;
  for (const auto& unmet : decision->reasons) {
    paths.push_back(unmet.path);
  }
  EXPECT_THAT(paths, ElementsAre("all[1]", "all[2].any[0]", "all[2].any[1].all[1]"));
}

// ---- standards

TEST_F(EvaluatorTest, Erc20ThresholdAbove64BitsIsComparedExactly) {
  auto policy = MakePolicy(fmt::format(
      R"({{"any":[{{"chain":"eip155:1","standard":"erc20","contract":"{}","min_balance":"{}"}}]}})",
      kCoin, kBig));
  chain_.SetBalance("eip155:1", TokenStandard::kErc20, std::string(kCoin), std::string(kViewer),
                    Dec(kBigMinusOne));
  auto short_by_one = Run(policy);
  ASSERT_TRUE(short_by_one) << short_by_one.error().ToString();
  EXPECT_FALSE(short_by_one->granted);
  ASSERT_EQ(short_by_one->reasons.size(), 1u);
  EXPECT_EQ(short_by_one->reasons[0].have, kBigMinusOne);
  EXPECT_EQ(short_by_one->reasons[0].min_balance, kBig);
  EXPECT_EQ(short_by_one->reasons[0].standard, TokenStandard::kErc20);

  cache_.Clear();
  chain_.SetBalance("eip155:1", TokenStandard::kErc20, std::string(kCoin), std::string(kViewer),
                    Dec(kBig));
  auto exactly = Run(policy);
  ASSERT_TRUE(exactly) << exactly.error().ToString();
  EXPECT_TRUE(exactly->granted);
}

TEST_F(EvaluatorTest, Erc721WithIdsCountsOwnedListedIds) {
  chain_.SetIdBalance("eip155:1", TokenStandard::kErc721, std::string(kNft), std::string(kViewer),
                      Uint256::FromU64(2), Uint256::FromU64(1));
  chain_.SetIdBalance("eip155:1", TokenStandard::kErc721, std::string(kNft), std::string(kViewer),
                      Uint256::FromU64(3), Uint256::FromU64(1));
  // Owning id 9 (not listed) must not count.
  chain_.SetIdBalance("eip155:1", TokenStandard::kErc721, std::string(kNft), std::string(kViewer),
                      Uint256::FromU64(9), Uint256::FromU64(1));
  auto one = Run(MakePolicy(
      fmt::format(R"({{"any":[{}]}})", Nft("eip155:1", kNft, R"(,"token_ids":["1","2"])"))));
  ASSERT_TRUE(one) << one.error().ToString();
  EXPECT_TRUE(one->granted);
  ASSERT_EQ(chain_.last_batch().size(), 1u);
  EXPECT_EQ(chain_.last_batch()[0].token_ids,
            (std::vector<Uint256>{Uint256::FromU64(1), Uint256::FromU64(2)}));
  EXPECT_EQ(chain_.last_batch()[0].owner, "0xabcdef0123456789abcdef0123456789abcdef01");

  auto three = Run(MakePolicy(
      fmt::format(R"({{"any":[{}]}})",
                  Nft("eip155:1", kNft, R"(,"token_ids":["1","2","3"],"min_balance":3)"))));
  ASSERT_TRUE(three) << three.error().ToString();
  EXPECT_FALSE(three->granted);
  ASSERT_EQ(three->reasons.size(), 1u);
  EXPECT_EQ(three->reasons[0].have, "2");
  EXPECT_EQ(three->reasons[0].min_balance, "3");
  EXPECT_THAT(three->reasons[0].token_ids, ElementsAre("1", "2", "3"));

  auto none = Run(MakePolicy(
      fmt::format(R"({{"any":[{}]}})", Nft("eip155:1", kNft, R"(,"token_ids":["1","4"])"))));
  ASSERT_TRUE(none) << none.error().ToString();
  EXPECT_FALSE(none->granted);
}

TEST_F(EvaluatorTest, Erc1155SumsBalancesOverListedIds) {
  auto set = [&](std::uint64_t id, std::string_view balance) {
    chain_.SetIdBalance("eip155:137", TokenStandard::kErc1155, std::string(kItems),
                        std::string(kViewer), Uint256::FromU64(id), Dec(balance));
  };
  set(1, "3");
  set(2, "4");
  set(3, "100");  // not listed
  auto leaf = [&](std::string_view min) {
    return MakePolicy(fmt::format(
        R"({{"all":[{{"chain":"eip155:137","standard":"erc1155","contract":"{}","token_ids":["1","2"],"min_balance":{}}}]}})",
        kItems, min));
  };
  auto seven = Run(leaf("7"));
  ASSERT_TRUE(seven) << seven.error().ToString();
  EXPECT_TRUE(seven->granted);

  auto eight = Run(leaf("8"));
  ASSERT_TRUE(eight) << eight.error().ToString();
  EXPECT_FALSE(eight->granted);
  ASSERT_EQ(eight->reasons.size(), 1u);
  EXPECT_EQ(eight->reasons[0].have, "7");
  EXPECT_EQ(eight->reasons[0].standard, TokenStandard::kErc1155);
}

TEST_F(EvaluatorTest, Erc1155SumOfHugeBalancesSaturatesInsteadOfWrapping) {
  const std::string max =
      "115792089237316195423570985008687907853269984665640564039457584007913129639935";
  chain_.SetIdBalance("eip155:1", TokenStandard::kErc1155, std::string(kItems),
                      std::string(kViewer), Uint256::FromU64(1), Dec(max));
  chain_.SetIdBalance("eip155:1", TokenStandard::kErc1155, std::string(kItems),
                      std::string(kViewer), Uint256::FromU64(2), Uint256::FromU64(2));
  auto decision = Run(MakePolicy(fmt::format(
      R"({{"all":[{{"chain":"eip155:1","standard":"erc1155","contract":"{}","token_ids":["1","2"],"min_balance":"{}"}}]}})",
      kItems, max)));
  ASSERT_TRUE(decision) << decision.error().ToString();
  EXPECT_TRUE(decision->granted);  // a wrapped sum would be 1
}

TEST(SaturatingAddTest, AddsWithCarryAndSaturates) {
  EXPECT_EQ(SaturatingAdd(Uint256::FromU64(0xff), Uint256::FromU64(1)), Uint256::FromU64(0x100));
  EXPECT_EQ(SaturatingAdd(Dec("18446744073709551615"), Uint256::FromU64(1)).ToDecimal(),
            "18446744073709551616");
  Uint256 max;
  max.bytes.fill(0xff);
  EXPECT_EQ(SaturatingAdd(max, Uint256::FromU64(1)), max);
  EXPECT_EQ(SaturatingAdd(max, max), max);
}

// ---- one batched call, cache and short-circuit

TEST_F(EvaluatorTest, OneEvaluationMakesOneBalancesCallForAllLeaves) {
  auto policy = MakePolicy(fmt::format(R"({{"all":[{},{},{{"any":[{},{}]}}]}})",
                                       Nft("eip155:1", kNft), Nft("eip155:137", kOther),
                                       Nft("eip155:1", kCoin), Nft("eip155:137", kItems)));
  auto decision = Run(policy);
  ASSERT_TRUE(decision) << decision.error().ToString();
  EXPECT_EQ(chain_.calls(), 1);
  EXPECT_EQ(chain_.last_batch().size(), 4u);
}

TEST_F(EvaluatorTest, IdenticalConditionsAreAskedOnce) {
  auto policy = MakePolicy(
      fmt::format(R"({{"all":[{},{}]}})", Nft(), Nft("eip155:1", kNft, R"(,"min_balance":2)")));
  Give("eip155:1", kNft, 1);
  auto decision = Run(policy);
  ASSERT_TRUE(decision) << decision.error().ToString();
  EXPECT_FALSE(decision->granted);
  EXPECT_EQ(chain_.calls(), 1);
  EXPECT_EQ(chain_.last_batch().size(), 1u);
}

TEST_F(EvaluatorTest, SecondEvaluationWithinTtlAsksNoChain) {
  Give("eip155:1", kNft, 1);
  auto policy = MakePolicy(fmt::format(R"({{"any":[{}]}})", Nft()));
  ASSERT_TRUE(Run(policy));
  ASSERT_TRUE(Run(policy));
  EXPECT_EQ(chain_.calls(), 1);
}

TEST_F(EvaluatorTest, TransferEndsAccessWithinThePositiveTtl) {
  Give("eip155:1", kNft, 1);
  auto policy = MakePolicy(fmt::format(R"({{"any":[{}]}})", Nft()));
  ASSERT_TRUE(Run(policy)->granted);
  Give("eip155:1", kNft, 0);  // transferred away

  clock_.Advance(std::chrono::seconds(59));
  EXPECT_TRUE(Run(policy)->granted) << "a positive answer is trusted for 60 s";
  EXPECT_EQ(chain_.calls(), 1);

  clock_.Advance(std::chrono::seconds(1));
  EXPECT_FALSE(Run(policy)->granted);
  EXPECT_EQ(chain_.calls(), 2);
}

TEST_F(EvaluatorTest, PurchaseStartsAccessWithinTheNegativeTtl) {
  auto policy = MakePolicy(fmt::format(R"({{"any":[{}]}})", Nft()));
  ASSERT_FALSE(Run(policy)->granted);
  Give("eip155:1", kNft, 1);  // bought

  clock_.Advance(std::chrono::seconds(9));
  EXPECT_FALSE(Run(policy)->granted) << "a negative answer is trusted for 10 s";
  EXPECT_EQ(chain_.calls(), 1);

  clock_.Advance(std::chrono::seconds(1));
  EXPECT_TRUE(Run(policy)->granted);
  EXPECT_EQ(chain_.calls(), 2);
}

TEST_F(EvaluatorTest, NonZeroBalanceBelowThresholdIsANegativeAnswer) {
  auto policy = MakePolicy(fmt::format(
      R"({{"any":[{{"chain":"eip155:1","standard":"erc20","contract":"{}","min_balance":10}}]}})",
      kCoin));
  chain_.SetBalance("eip155:1", TokenStandard::kErc20, std::string(kCoin), std::string(kViewer),
                    Uint256::FromU64(5));
  ASSERT_FALSE(Run(policy)->granted);
  chain_.SetBalance("eip155:1", TokenStandard::kErc20, std::string(kCoin), std::string(kViewer),
                    Uint256::FromU64(10));
  clock_.Advance(std::chrono::seconds(10));
  EXPECT_TRUE(Run(policy)->granted) << "re-read after negative_ttl, not ownership_ttl";
}

TEST_F(EvaluatorTest, AnyAlreadyProvenByTheCacheAsksNoChain) {
  Give("eip155:1", kNft, 1);
  ASSERT_TRUE(Run(MakePolicy(fmt::format(R"({{"any":[{}]}})", Nft())))->granted);
  chain_.SetDown("eip155:137", true);

  auto decision =
      Run(MakePolicy(fmt::format(R"({{"any":[{},{}]}})", Nft("eip155:137", kOther), Nft())));

  ASSERT_TRUE(decision) << decision.error().ToString();
  EXPECT_TRUE(decision->granted);
  EXPECT_EQ(chain_.calls(), 1) << "only the first evaluation asked";
}

TEST_F(EvaluatorTest, AllAlreadyDisprovenByTheCacheAsksNoChain) {
  ASSERT_FALSE(Run(MakePolicy(fmt::format(R"({{"any":[{}]}})", Nft())))->granted);
  auto decision =
      Run(MakePolicy(fmt::format(R"({{"all":[{},{}]}})", Nft("eip155:137", kOther), Nft())));
  ASSERT_TRUE(decision) << decision.error().ToString();
  EXPECT_FALSE(decision->granted);
  EXPECT_EQ(chain_.calls(), 1);
  ASSERT_EQ(decision->reasons.size(), 1u);
  EXPECT_EQ(decision->reasons[0].path, "all[1]");
}

TEST_F(EvaluatorTest, OnlyUndecidedLeavesAreAsked) {
  Give("eip155:1", kNft, 1);
  ASSERT_TRUE(Run(MakePolicy(fmt::format(R"({{"any":[{}]}})", Nft())))->granted);
  // all[ cached-true, any[cached-true, X], Y ]: X is irrelevant, only Y is asked.
  auto decision = Run(MakePolicy(fmt::format(R"({{"all":[{},{{"any":[{},{}]}},{}]}})", Nft(), Nft(),
                                             Nft("eip155:1", kOther), Nft("eip155:137", kItems))));
  ASSERT_TRUE(decision) << decision.error().ToString();
  EXPECT_EQ(chain_.calls(), 2);
  ASSERT_EQ(chain_.last_batch().size(), 1u);
  EXPECT_EQ(chain_.last_batch()[0].contract, kItems);
}

// ---- fail closed

TEST_F(EvaluatorTest, ChainDownWithoutCacheIsUnavailableNeverGranted) {
  Give("eip155:1", kNft, 1);
  chain_.SetDown("eip155:1", true);
  auto decision = Run(MakePolicy(fmt::format(R"({{"any":[{}]}})", Nft())));
  ASSERT_FALSE(decision);
  EXPECT_EQ(decision.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(decision.error().message, HasSubstr("any[0] on eip155:1"));
  EXPECT_THAT(decision.error().message, HasSubstr("connection refused"));
}

TEST_F(EvaluatorTest, FreshCachedAnswerServesWhileTheChainIsDownButNotAStaleOne) {
  Give("eip155:1", kNft, 1);
  auto policy = MakePolicy(fmt::format(R"({{"any":[{}]}})", Nft()));
  ASSERT_TRUE(Run(policy)->granted);
  chain_.SetDown("eip155:1", true);

  clock_.Advance(std::chrono::seconds(30));
  auto fresh = Run(policy);
  ASSERT_TRUE(fresh) << fresh.error().ToString();
  EXPECT_TRUE(fresh->granted);

  clock_.Advance(std::chrono::seconds(30));
  auto stale = Run(policy);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ErrorCode::kUnavailable);
}

TEST_F(EvaluatorTest, AnyOverTwoChainsGrantsWhenTheHealthyChainProvesIt) {
  Give("eip155:137", kOther, 1);
  chain_.SetDown("eip155:1", true);
  auto decision =
      Run(MakePolicy(fmt::format(R"({{"any":[{},{}]}})", Nft(), Nft("eip155:137", kOther))));
  ASSERT_TRUE(decision) << decision.error().ToString();
  EXPECT_TRUE(decision->granted);
  // The batch failed as a whole, then each chain was asked alone.
  EXPECT_EQ(chain_.calls(), 3);
}

TEST_F(EvaluatorTest, AnyWithTheOnlyPossibleProofOnADownChainIsUnavailable) {
  chain_.SetDown("eip155:1", true);
  auto decision =
      Run(MakePolicy(fmt::format(R"({{"any":[{},{}]}})", Nft(), Nft("eip155:137", kOther))));
  ASSERT_FALSE(decision);
  EXPECT_EQ(decision.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(decision.error().message, HasSubstr("any[0] on eip155:1"));
  EXPECT_THAT(decision.error().message, Not(HasSubstr("any[1]")));
}

TEST_F(EvaluatorTest, AllDisprovenOnAHealthyChainIsDeniedEvenWhenAnotherIsDown) {
  chain_.SetDown("eip155:1", true);
  auto decision =
      Run(MakePolicy(fmt::format(R"({{"all":[{},{}]}})", Nft(), Nft("eip155:137", kOther))));
  ASSERT_TRUE(decision) << decision.error().ToString();
  EXPECT_FALSE(decision->granted);
  ASSERT_EQ(decision->reasons.size(), 1u);
  EXPECT_EQ(decision->reasons[0].path, "all[1]");
}

TEST_F(EvaluatorTest, AllWithADownChainIsUnavailableEvenWhenTheOthersHold) {
  Give("eip155:137", kOther, 1);
  chain_.SetDown("eip155:1", true);
  auto decision =
      Run(MakePolicy(fmt::format(R"({{"all":[{},{}]}})", Nft(), Nft("eip155:137", kOther))));
  ASSERT_FALSE(decision);
  EXPECT_EQ(decision.error().code, ErrorCode::kUnavailable);
}

TEST_F(EvaluatorTest, ChainNoLongerConfiguredIsUnavailableWithoutAsking) {
  auto policy = MakePolicy(fmt::format(R"({{"any":[{}]}})", Nft("eip155:5")));
  auto decision = Run(policy);
  ASSERT_FALSE(decision);
  EXPECT_EQ(decision.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(decision.error().message, HasSubstr("eip155:5 is not a configured chain"));
  EXPECT_EQ(chain_.calls(), 0);
}

TEST_F(EvaluatorTest, FailedAnswersAreNotCached) {
  chain_.SetDown("eip155:1", true);
  auto policy = MakePolicy(fmt::format(R"({{"any":[{}]}})", Nft()));
  ASSERT_FALSE(Run(policy));
  chain_.SetDown("eip155:1", false);
  Give("eip155:1", kNft, 1);
  auto decision = Run(policy);
  ASSERT_TRUE(decision) << decision.error().ToString();
  EXPECT_TRUE(decision->granted);
}

// A reader that answers the wrong number of balances must not be believed.
class ShortReader final : public ChainReader {
 public:
  bool HasChain(std::string_view) const override { return true; }
  std::vector<std::string> ChainIds() const override { return {"eip155:1"}; }
  Result<std::vector<BalanceAnswer>> Balances(const std::vector<BalanceQuery>& queries) override {
    std::vector<BalanceAnswer> answers(queries.size());
    for (auto& answer : answers) {
      answer.balances = {Uint256::FromU64(1)};  // one balance, whatever the ids
    }
    return answers;
  }
  Result<bool> IsValidSignature(std::string_view, std::string_view,
                                const std::array<std::uint8_t, 32>&, std::string_view) override {
    return false;
  }
};

TEST_F(EvaluatorTest, MalformedReaderAnswerFailsClosed) {
  ShortReader reader;
  auto policy = MakePolicy(fmt::format(
      R"({{"any":[{{"chain":"eip155:1","standard":"erc1155","contract":"{}","token_ids":["1","2"]}}]}})",
      kItems));
  auto decision = Evaluate(policy, kViewer, reader, cache_);
  ASSERT_FALSE(decision);
  EXPECT_EQ(decision.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(decision.error().message, HasSubstr("answered 1 balances for 2 token ids"));
}

// ---- 403 body

TEST_F(EvaluatorTest, DenialErrorCarriesTheUnmetConditionsAsDetails) {
  auto decision = Run(
      MakePolicy(fmt::format(R"({{"any":[{}]}})", Nft("eip155:1", kNft, R"(,"token_ids":["5"])"))));
  ASSERT_TRUE(decision) << decision.error().ToString();
  const Error error = DenialError(*decision);
  EXPECT_EQ(error.code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(error.message, decision->Explain());
  const boost::json::value details = boost::json::parse(error.details);
  EXPECT_EQ(details,
            boost::json::parse(
                R"({"unmet_conditions":[{"path":"any[0]","chain":"eip155:1","standard":"erc721",)"
                R"("contract":"0x1111111111111111111111111111111111111111","token_ids":["5"],)"
                R"("min_balance":"1","have":"0"}]})"));
}

}  // namespace
}  // namespace sg::plugins::auth
