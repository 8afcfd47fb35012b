#include "plugins/auth/ownership_cache.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "core/testing/fake_clock.h"

namespace sg::plugins::auth {
namespace {

using std::chrono::seconds;

BalanceQuery Query(std::string owner = "0xabcdef0123456789abcdef0123456789abcdef01",
                   std::vector<Uint256> ids = {}) {
  return BalanceQuery{.chain = "eip155:1",
                      .standard = ids.empty() ? TokenStandard::kErc721 : TokenStandard::kErc1155,
                      .contract = "0x1111111111111111111111111111111111111111",
                      .owner = std::move(owner),
                      .token_ids = std::move(ids)};
}

BalanceAnswer Answer(std::uint64_t value) { return BalanceAnswer{{Uint256::FromU64(value)}}; }

class OwnershipCacheTest : public ::testing::Test {
 protected:
  sg::testing::FakeClock clock_;
  OwnershipCache cache_{clock_};
};

TEST_F(OwnershipCacheTest, MissIsEmpty) { EXPECT_FALSE(cache_.Get(Query())); }

TEST_F(OwnershipCacheTest, PositiveAnswerLivesSixtySeconds) {
  cache_.Put(Query(), Answer(3));
  clock_.Advance(seconds(59));
  auto hit = cache_.Get(Query());
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->balances[0], Uint256::FromU64(3));
  clock_.Advance(seconds(1));
  EXPECT_FALSE(cache_.Get(Query()));
}

TEST_F(OwnershipCacheTest, NegativeAnswerLivesTenSeconds) {
  cache_.Put(Query(), Answer(0));
  clock_.Advance(seconds(9));
  EXPECT_TRUE(cache_.Get(Query()));
  clock_.Advance(seconds(1));
  EXPECT_FALSE(cache_.Get(Query()));
}

TEST_F(OwnershipCacheTest, CallerDecidesWhatIsPositive) {
  cache_.Put(Query(), Answer(5));
  auto at_least_ten = [](const BalanceAnswer& a) { return a.balances[0] >= Uint256::FromU64(10); };
  clock_.Advance(seconds(10));
  EXPECT_FALSE(cache_.Get(Query(), at_least_ten)) << "5 < 10 is a denial: negative TTL";
  EXPECT_TRUE(cache_.Get(Query())) << "non-zero is positive by default";
}

TEST_F(OwnershipCacheTest, PutReplacesAndRestartsTheClock) {
  cache_.Put(Query(), Answer(1));
  clock_.Advance(seconds(50));
  cache_.Put(Query(), Answer(2));
  clock_.Advance(seconds(50));
  auto hit = cache_.Get(Query());
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->balances[0], Uint256::FromU64(2));
}

TEST_F(OwnershipCacheTest, AddressesAreCaseInsensitive) {
  cache_.Put(Query("0xABCDEF0123456789ABCDEF0123456789ABCDEF01"), Answer(1));
  EXPECT_TRUE(cache_.Get(Query("0xabcdef0123456789abcdef0123456789abcdef01")));
  BalanceQuery upper = Query();
  upper.contract = "0xAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  BalanceQuery lower = Query();
  lower.contract = "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  EXPECT_EQ(OwnershipCache::Key(upper), OwnershipCache::Key(lower));
}

TEST_F(OwnershipCacheTest, EveryKeyFieldSeparatesEntries) {
  const BalanceQuery base =
      Query("0xabcdef0123456789abcdef0123456789abcdef01", {Uint256::FromU64(1)});
  std::vector<BalanceQuery> variants(5, base);
  variants[0].chain = "eip155:137";
  variants[1].standard = TokenStandard::kErc721;
  variants[2].contract = "0x2222222222222222222222222222222222222222";
  variants[3].owner = "0x0000000000000000000000000000000000000001";
  variants[4].token_ids = {Uint256::FromU64(2)};
  cache_.Put(base, Answer(1));
  for (const BalanceQuery& variant : variants) {
    EXPECT_FALSE(cache_.Get(variant)) << OwnershipCache::Key(variant);
  }
  EXPECT_TRUE(cache_.Get(base));
}

TEST_F(OwnershipCacheTest, IdListsAreOrderedAndNotConcatenated) {
  cache_.Put(Query("0xabcdef0123456789abcdef0123456789abcdef01",
                   {Uint256::FromU64(1), Uint256::FromU64(2)}),
             BalanceAnswer{{Uint256::FromU64(1), Uint256::FromU64(0)}});
  EXPECT_FALSE(cache_.Get(Query("0xabcdef0123456789abcdef0123456789abcdef01",
                                {Uint256::FromU64(2), Uint256::FromU64(1)})));
  EXPECT_FALSE(
      cache_.Get(Query("0xabcdef0123456789abcdef0123456789abcdef01", {Uint256::FromU64(1)})));
}

TEST(OwnershipCacheBoundsTest, EvictsTheLeastRecentlyUsedWhenFull) {
  sg::testing::FakeClock clock;
  OwnershipCache cache(clock, {.max_entries = 2, .shards = 1});
  auto owner = [](int i) { return fmt::format("0x{:040x}", i); };
  cache.Put(Query(owner(1)), Answer(1));
  cache.Put(Query(owner(2)), Answer(1));
  ASSERT_TRUE(cache.Get(Query(owner(1))));  // 1 is now the most recent
  cache.Put(Query(owner(3)), Answer(1));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_TRUE(cache.Get(Query(owner(1))));
  EXPECT_FALSE(cache.Get(Query(owner(2))));
  EXPECT_TRUE(cache.Get(Query(owner(3))));
}

TEST(OwnershipCacheBoundsTest, NeverHoldsMoreThanItsBound) {
  sg::testing::FakeClock clock;
  OwnershipCache cache(clock, {.max_entries = 64, .shards = 8});
  for (int i = 0; i < 1000; ++i) {
    cache.Put(Query(fmt::format("0x{:040x}", i)), Answer(1));
  }
  EXPECT_LE(cache.size(), 64u);
}

TEST_F(OwnershipCacheTest, DeadEntriesAreDroppedWhenMet) {
  cache_.Put(Query(), Answer(1));
  clock_.Advance(seconds(61));
  EXPECT_FALSE(cache_.Get(Query()));
  EXPECT_EQ(cache_.size(), 0u);
}

TEST_F(OwnershipCacheTest, ForgetOwnerDropsOnlyThatOwner) {
  cache_.Put(Query("0x000000000000000000000000000000000000000a"), Answer(1));
  cache_.Put(Query("0x000000000000000000000000000000000000000b"), Answer(1));
  cache_.ForgetOwner("0x000000000000000000000000000000000000000A");
  EXPECT_FALSE(cache_.Get(Query("0x000000000000000000000000000000000000000a")));
  EXPECT_TRUE(cache_.Get(Query("0x000000000000000000000000000000000000000b")));
}

TEST_F(OwnershipCacheTest, ReloadedTtlsApplyToStoredEntries) {
  cache_.Put(Query(), Answer(1));
  cache_.SetTtls(seconds(5), seconds(1));
  clock_.Advance(seconds(5));
  EXPECT_FALSE(cache_.Get(Query()));
  EXPECT_EQ(cache_.positive_ttl(), seconds(5));
  EXPECT_EQ(cache_.negative_ttl(), seconds(1));
}

TEST_F(OwnershipCacheTest, ConcurrentUseIsSafe) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 500; ++i) {
        BalanceQuery query = Query(fmt::format("0x{:040x}", (t * 1000 + i) % 97));
        cache_.Put(query, Answer(static_cast<std::uint64_t>(i)));
        (void)cache_.Get(query);
        if (i % 100 == 0) {
          cache_.ForgetOwner(query.owner);
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_LE(cache_.size(), 97u);
}

}  // namespace
}  // namespace sg::plugins::auth
