#include "core/api/circuit_breaker.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "core/testing/fake_clock.h"

namespace sg {
namespace {

using namespace std::chrono_literals;
using State = CircuitBreaker::State;
using testing::FakeClock;

CircuitBreaker::Options SmallOptions() {
  CircuitBreaker::Options options;
  options.failure_threshold = 3;
  options.open_for = 10s;
  options.half_open_max_probes = 1;
  options.success_threshold = 1;
  return options;
}

void Fail(CircuitBreaker& breaker, int times) {
  for (int i = 0; i < times; ++i) {
    ASSERT_TRUE(breaker.Allow());
    breaker.RecordFailure();
  }
}

TEST(CircuitBreakerTest, StartsClosedAndAllowsCalls) {
  FakeClock clock;
  CircuitBreaker breaker(SmallOptions(), clock);
  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_TRUE(breaker.Allow());
}

TEST(CircuitBreakerTest, OpensAfterConsecutiveFailuresAndRejects) {
  FakeClock clock;
  CircuitBreaker breaker(SmallOptions(), clock);

  Fail(breaker, 2);
  EXPECT_EQ(breaker.state(), State::kClosed);
  Fail(breaker, 1);

  EXPECT_EQ(breaker.state(), State::kOpen);
  EXPECT_FALSE(breaker.Allow());
}

TEST(CircuitBreakerTest, SuccessResetsTheFailureCount) {
  FakeClock clock;
  CircuitBreaker breaker(SmallOptions(), clock);

  Fail(breaker, 2);
  breaker.RecordSuccess();
  Fail(breaker, 2);

  EXPECT_EQ(breaker.state(), State::kClosed);
}

TEST(CircuitBreakerTest, HalfOpensAfterOpenForAndAllowsLimitedProbes) {
  FakeClock clock;
  CircuitBreaker::Options options = SmallOptions();
  options.half_open_max_probes = 2;
  CircuitBreaker breaker(options, clock);
  Fail(breaker, 3);

  clock.Advance(9s);
  EXPECT_FALSE(breaker.Allow());
  EXPECT_EQ(breaker.state(), State::kOpen);
  clock.Advance(1s);

  EXPECT_EQ(breaker.state(), State::kHalfOpen);
  EXPECT_TRUE(breaker.Allow());
  EXPECT_TRUE(breaker.Allow());
  EXPECT_FALSE(breaker.Allow());  // both probe slots are in flight
}

TEST(CircuitBreakerTest, SuccessfulProbeCloses) {
  FakeClock clock;
  CircuitBreaker breaker(SmallOptions(), clock);
  Fail(breaker, 3);
  clock.Advance(10s);

  ASSERT_TRUE(breaker.Allow());
  breaker.RecordSuccess();

  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_TRUE(breaker.Allow());
}

TEST(CircuitBreakerTest, SuccessThresholdNeedsSeveralProbes) {
  FakeClock clock;
  CircuitBreaker::Options options = SmallOptions();
  options.success_threshold = 2;
  CircuitBreaker breaker(options, clock);
  Fail(breaker, 3);
  clock.Advance(10s);

  ASSERT_TRUE(breaker.Allow());
  breaker.RecordSuccess();
  EXPECT_EQ(breaker.state(), State::kHalfOpen);
  ASSERT_TRUE(breaker.Allow());  // the first probe's slot was freed
  breaker.RecordSuccess();

  EXPECT_EQ(breaker.state(), State::kClosed);
}

TEST(CircuitBreakerTest, FailedProbeReopensForAnotherFullPeriod) {
  FakeClock clock;
  CircuitBreaker breaker(SmallOptions(), clock);
  Fail(breaker, 3);
  clock.Advance(15s);

  ASSERT_TRUE(breaker.Allow());
  breaker.RecordFailure();

  EXPECT_EQ(breaker.state(), State::kOpen);
  clock.Advance(9s);
  EXPECT_FALSE(breaker.Allow());
  clock.Advance(1s);
  EXPECT_TRUE(breaker.Allow());
}

TEST(CircuitBreakerTest, LateResultsWhileOpenChangeNothing) {
  FakeClock clock;
  CircuitBreaker breaker(SmallOptions(), clock);
  Fail(breaker, 3);
  clock.Advance(5s);

  breaker.RecordFailure();  // from a call admitted before the breaker opened
  breaker.RecordSuccess();
  clock.Advance(5s);

  EXPECT_EQ(breaker.state(), State::kHalfOpen);  // the open period was not extended
}

TEST(CircuitBreakerTest, AbandonedProbeSlotIsReclaimedAfterOpenFor) {
  FakeClock clock;
  CircuitBreaker breaker(SmallOptions(), clock);
  Fail(breaker, 3);
  clock.Advance(10s);
  ASSERT_TRUE(breaker.Allow());  // a probe whose caller never reports back
  EXPECT_FALSE(breaker.Allow());

  clock.Advance(10s);

  EXPECT_TRUE(breaker.Allow());
}

TEST(CircuitBreakerTest, TransitionsAreReported) {
  FakeClock clock;
  std::vector<std::string> transitions;
  CircuitBreaker::Options options = SmallOptions();
  options.on_transition = [&](State from, State to) {
    transitions.push_back(std::string(CircuitBreaker::StateName(from)) + "->" +
                          std::string(CircuitBreaker::StateName(to)));
  };
  CircuitBreaker breaker(options, clock);

  Fail(breaker, 3);
  clock.Advance(10s);
  ASSERT_TRUE(breaker.Allow());
  breaker.RecordFailure();
  clock.Advance(10s);
  ASSERT_TRUE(breaker.Allow());
  breaker.RecordSuccess();

  EXPECT_EQ(transitions,
            (std::vector<std::string>{"closed->open", "open->half_open", "half_open->open",
                                      "open->half_open", "half_open->closed"}));
}

}  // namespace
}  // namespace sg
