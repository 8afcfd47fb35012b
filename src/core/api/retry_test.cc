#include "core/api/retry.h"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "core/testing/fake_clock.h"
#include "core/testing/fake_random.h"

namespace sg {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::FakeRandom;

BackoffPolicy NoJitter() {
  BackoffPolicy policy;
  policy.initial = 100ms;
  policy.max = 1s;
  policy.multiplier = 2.0;
  policy.jitter = 0;
  policy.max_attempts = 5;
  return policy;
}

TEST(BackoffDelayTest, GrowsExponentiallyUpToTheCap) {
  FakeRandom random;
  BackoffPolicy policy = NoJitter();
  std::vector<Duration> delays;
  for (int attempt = 1; attempt <= 6; ++attempt) {
    delays.push_back(BackoffDelay(policy, attempt, random));
  }
  EXPECT_EQ(delays, (std::vector<Duration>{100ms, 200ms, 400ms, 800ms, 1s, 1s}));
}

TEST(BackoffDelayTest, HugeAttemptNumbersSaturateAtTheCapWithoutOverflow) {
  FakeRandom random;
  BackoffPolicy policy = NoJitter();
  EXPECT_EQ(BackoffDelay(policy, 10'000, random), 1s);
  EXPECT_EQ(BackoffDelay(policy, 0, random), 100ms);  // treated as the first retry
}

TEST(BackoffDelayTest, JitterScalesWithinPlusMinusTheFraction) {
  BackoffPolicy policy = NoJitter();
  policy.jitter = 0.2;
  FakeRandom low({0.0});
  FakeRandom middle({0.5});
  FakeRandom high({0.75});
  EXPECT_EQ(BackoffDelay(policy, 2, low), 160ms);     // 200ms * 0.8
  EXPECT_EQ(BackoffDelay(policy, 2, middle), 200ms);  // 200ms * 1.0
  EXPECT_EQ(BackoffDelay(policy, 2, high), 220ms);    // 200ms * 1.1
}

TEST(BackoffDelayTest, JitterNeverExceedsTheCap) {
  BackoffPolicy policy = NoJitter();
  policy.jitter = 0.5;
  FakeRandom high({0.99});
  EXPECT_EQ(BackoffDelay(policy, 20, high), 1s);
}

TEST(BackoffDelayTest, FullJitterIsUniformUpToTheExponentialDelay) {
  BackoffPolicy policy = NoJitter();
  policy.full_jitter = true;
  FakeRandom quarter({0.25});
  EXPECT_EQ(BackoffDelay(policy, 3, quarter), 100ms);  // 400ms * 0.25
}

TEST(RetryTest, RetriesRetryableErrorsUntilSuccessSleepingTheBackoff) {
  FakeClock clock;
  FakeRandom random;
  SteadyTime start = clock.Now();
  std::vector<int> attempts;

  Result<int> result = Retry(NoJitter(), clock, random, [&](int attempt) -> Result<int> {
    attempts.push_back(attempt);
    if (attempt < 3) {
      return MakeError(ErrorCode::kUnavailable, "connection refused");
    }
    return 42;
  });

  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_EQ(*result, 42);
  EXPECT_EQ(attempts, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(clock.sleeps(), 2);
  EXPECT_EQ(clock.Now() - start, 300ms);  // 100ms + 200ms
}

TEST(RetryTest, GivesUpAfterMaxAttemptsWithTheLastErrorInContext) {
  FakeClock clock;
  FakeRandom random;
  int calls = 0;

  Result<int> result = Retry(NoJitter(), clock, random, [&](int attempt) -> Result<int> {
    ++calls;
    return MakeError(ErrorCode::kResourceExhausted, "busy {}", attempt);
  });

  ASSERT_FALSE(result);
  EXPECT_EQ(calls, 5);
  EXPECT_EQ(clock.sleeps(), 4);
  EXPECT_EQ(result.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(result.error().message, "after 5 attempts: busy 5");
}

TEST(RetryTest, NonRetryableErrorIsReturnedAtOnceUnchanged) {
  FakeClock clock;
  FakeRandom random;
  int calls = 0;

  Result<int> result = Retry(NoJitter(), clock, random, [&](int) -> Result<int> {
    ++calls;
    return MakeError(ErrorCode::kPermissionDenied, "no");
  });

  ASSERT_FALSE(result);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(clock.sleeps(), 0);
  EXPECT_EQ(result.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(result.error().message, "no");
}

TEST(RetryTest, CustomPredicateDecidesWhatIsRetryable) {
  FakeClock clock;
  FakeRandom random;
  int calls = 0;
  auto not_found_is_transient = [](const Error& error) {
    return error.code == ErrorCode::kNotFound;
  };

  Result<void> result = Retry(
      NoJitter(), clock, random,
      [&](int attempt) -> Result<void> {
        ++calls;
        if (attempt == 1) {
          return MakeError(ErrorCode::kNotFound, "not yet visible");
        }
        return MakeError(ErrorCode::kUnavailable, "down");  // not retryable here
      },
      not_found_is_transient);

  ASSERT_FALSE(result);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(result.error().message, "after 2 attempts: down");
}

TEST(RetryTest, WorksWithVoidResultsAndExplicitStdFunction) {
  FakeClock clock;
  FakeRandom random;
  int calls = 0;
  std::function<Result<void>(int)> op = [&](int) -> Result<void> {
    if (++calls < 2) {
      return MakeError(ErrorCode::kUnavailable, "flaky");
    }
    return {};
  };

  Result<void> result = Retry<void>(NoJitter(), clock, random, op);

  EXPECT_TRUE(result);
  EXPECT_EQ(calls, 2);
}

TEST(RetryTest, SingleAttemptPolicyNeverSleeps) {
  FakeClock clock;
  FakeRandom random;
  BackoffPolicy policy = NoJitter();
  policy.max_attempts = 1;

  Result<int> result = Retry(policy, clock, random, [](int) -> Result<int> {
    return MakeError(ErrorCode::kUnavailable, "down");
  });

  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message, "down");
  EXPECT_EQ(clock.sleeps(), 0);
}

}  // namespace
}  // namespace sg
