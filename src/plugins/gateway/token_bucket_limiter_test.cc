#include "plugins/gateway/token_bucket_limiter.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "core/testing/fake_clock.h"

namespace sg::plugins::gateway {
namespace {

using std::chrono::milliseconds;

class TokenBucketLimiterTest : public ::testing::Test {
 protected:
  testing::FakeClock clock_;
  RateLimitRule rule_{/*rate_per_second=*/2, /*burst=*/5};
};

TEST_F(TokenBucketLimiterTest, AllowsBurstThenRefuses) {
  TokenBucketLimiter limiter(clock_);

  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(limiter.Take("read|1.2.3.4", rule_).allowed) << i;
  }
  RateLimitDecision refused = limiter.Take("read|1.2.3.4", rule_);

  EXPECT_FALSE(refused.allowed);
}

TEST_F(TokenBucketLimiterTest, RefillsAtTheConfiguredRate) {
  TokenBucketLimiter limiter(clock_);
  for (int i = 0; i < 5; ++i) {
    limiter.Take("k", rule_);
  }

  clock_.Advance(milliseconds(499));
  EXPECT_FALSE(limiter.Take("k", rule_).allowed);  // 0.998 tokens
  clock_.Advance(milliseconds(1));
  EXPECT_TRUE(limiter.Take("k", rule_).allowed);  // one token after 500 ms at 2/s
  EXPECT_FALSE(limiter.Take("k", rule_).allowed);
}

TEST_F(TokenBucketLimiterTest, DecisionReportsLimitRemainingResetAndRetryAfter) {
  TokenBucketLimiter limiter(clock_);

  RateLimitDecision first = limiter.Take("k", rule_);
  EXPECT_EQ(first.limit, 5);
  EXPECT_EQ(first.remaining, 4);
  EXPECT_EQ(first.reset, milliseconds(500));  // one token missing at 2/s
  EXPECT_EQ(first.retry_after, milliseconds(0));

  for (int i = 0; i < 4; ++i) {
    limiter.Take("k", rule_);
  }
  RateLimitDecision refused = limiter.Take("k", rule_);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.remaining, 0);
  EXPECT_EQ(refused.retry_after, milliseconds(500));
  EXPECT_EQ(refused.reset, milliseconds(2500));
}

TEST_F(TokenBucketLimiterTest, RetryAfterShrinksAsTimePasses) {
  TokenBucketLimiter limiter(clock_);
  for (int i = 0; i < 5; ++i) {
    limiter.Take("k", rule_);
  }
  clock_.Advance(milliseconds(200));

  RateLimitDecision refused = limiter.Take("k", rule_);

  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, milliseconds(300));
}

TEST_F(TokenBucketLimiterTest, KeysHaveSeparateBuckets) {
  TokenBucketLimiter limiter(clock_);
  for (int i = 0; i < 5; ++i) {
    limiter.Take("read|10.0.0.1", rule_);
  }

  EXPECT_FALSE(limiter.Take("read|10.0.0.1", rule_).allowed);
  EXPECT_TRUE(limiter.Take("read|10.0.0.2", rule_).allowed);
  EXPECT_TRUE(limiter.Take("write|10.0.0.1", rule_).allowed);
}

TEST_F(TokenBucketLimiterTest, CostAboveOneTakesSeveralTokens) {
  TokenBucketLimiter limiter(clock_);

  EXPECT_TRUE(limiter.Take("k", rule_, 4).allowed);
  RateLimitDecision refused = limiter.Take("k", rule_, 2);

  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, milliseconds(500));
}

TEST_F(TokenBucketLimiterTest, RuleWithoutRateNeverLimits) {
  TokenBucketLimiter limiter(clock_);
  RateLimitRule unlimited{0, 0};

  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(limiter.Take("k", unlimited).allowed);
  }
  EXPECT_EQ(limiter.Size(), 0u);
}

TEST_F(TokenBucketLimiterTest, KeyCountPerShardIsCapped) {
  TokenBucketLimiter limiter(clock_,
                             {.shards = 2, .max_keys_per_shard = 10, .sweep_interval = 1'000'000});

  for (int i = 0; i < 1000; ++i) {
    limiter.Take("client-" + std::to_string(i), rule_);
  }

  EXPECT_LE(limiter.Size(), 20u);
  EXPECT_GT(limiter.Size(), 0u);
}

TEST_F(TokenBucketLimiterTest, FullBucketsAreSweptAway) {
  TokenBucketLimiter limiter(clock_,
                             {.shards = 1, .max_keys_per_shard = 1000, .sweep_interval = 10});
  for (int i = 0; i < 50; ++i) {
    limiter.Take("client-" + std::to_string(i), rule_);
  }
  ASSERT_EQ(limiter.Size(), 50u);

  clock_.Advance(std::chrono::seconds(3));  // 1 token missing refills in 0.5 s
  for (int i = 0; i < 10; ++i) {
    limiter.Take("active", rule_);
  }

  EXPECT_EQ(limiter.Size(), 1u);
}

TEST_F(TokenBucketLimiterTest, EvictedKeyStartsWithAFullBucket) {
  TokenBucketLimiter limiter(clock_,
                             {.shards = 1, .max_keys_per_shard = 1, .sweep_interval = 1'000'000});
  for (int i = 0; i < 5; ++i) {
    limiter.Take("a", rule_);
  }
  ASSERT_FALSE(limiter.Take("a", rule_).allowed);

  limiter.Take("b", rule_);  // evicts "a"

  EXPECT_TRUE(limiter.Take("a", rule_).allowed);
}

}  // namespace
}  // namespace sg::plugins::gateway
