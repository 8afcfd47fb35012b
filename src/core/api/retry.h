#pragma once
/// Retry with exponential backoff and jitter, driven by `Clock` and `Random` so that tests
/// run it instantly and deterministically (FakeClock, FakeRandom).
///
/// ```cpp
/// sg::BackoffPolicy policy{.initial = 200ms, .max_attempts = 4};
/// sg::Result<Balance> balance = sg::Retry(policy, clock, random, [&](int attempt) {
///   return rpc.GetBalance(address);
/// });
/// ```

#include <chrono>
#include <concepts>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>

#include "core/api/clock.h"
#include "core/api/random.h"
#include "core/api/result.h"

namespace sg {

struct BackoffPolicy {
  /// Delay before the first retry.
  Duration initial = std::chrono::milliseconds(100);
  /// Upper bound of every delay, jitter included.
  Duration max = std::chrono::seconds(30);
  /// Growth per retry: retry n waits initial * multiplier^(n-1), capped at `max`.
  double multiplier = 2.0;
  /// Proportional jitter: the delay is scaled by a uniform factor in [1 - jitter, 1 + jitter]
  /// (0.2 = ±20 %), so that clients that failed together do not retry together while the
  /// delay still grows. 0 = no jitter.
  double jitter = 0.2;
  /// "Full jitter" (AWS Architecture Blog, "Exponential Backoff and Jitter"): the delay is
  /// uniform in [0, capped exponential]. Spreads retries the most, at the price of
  /// sometimes retrying almost at once; replaces `jitter` when true.
  bool full_jitter = false;
  /// Total tries including the first call (1 = no retry).
  int max_attempts = 5;
};

/// The delay before retry number `attempt` (1-based: 1 is the delay after the first
/// failure). Never negative, never above `policy.max`. Uses one `random.NextUnit()` unless
/// jitter is off.
Duration BackoffDelay(const BackoffPolicy& policy, int attempt, Random& random);

/// The default retry condition: only errors that mean "try again later" — kUnavailable and
/// kResourceExhausted.
bool IsRetryableByDefault(const Error& error);

/// Calls `op(attempt)` (attempt is 1-based) until it succeeds, fails with an error that is
/// not `retryable`, or `policy.max_attempts` calls were made, sleeping `BackoffDelay`
/// through `clock.SleepFor` between calls. Returns the first success, or the last error;
/// when more than one call was made, its message is prefixed with "after N attempts".
template <class T>
Result<T> Retry(const BackoffPolicy& policy, const Clock& clock, Random& random,
                const std::function<Result<T>(int attempt)>& op,
                const std::function<bool(const Error&)>& retryable = IsRetryableByDefault) {
  const int max_attempts = policy.max_attempts < 1 ? 1 : policy.max_attempts;
  for (int attempt = 1;; ++attempt) {
    Result<T> result = op(attempt);
    if (result) {
      return result;
    }
    if (attempt >= max_attempts || !retryable(result.error())) {
      if (attempt == 1) {
        return result;
      }
      return MakeError(
          result.error().WithContext("after " + std::to_string(attempt) + " attempts"));
    }
    clock.SleepFor(BackoffDelay(policy, attempt, random));
  }
}

/// The same for any callable `Result<T>(int)`, so that lambdas need no explicit `<T>`.
// clang-format 14 mangles requires-clauses.
// clang-format off
template <class Op>
  requires std::invocable<Op&, int> &&
           (!std::is_same_v<std::remove_cvref_t<Op>,
                            std::function<std::invoke_result_t<Op&, int>(int)>>)
auto Retry(const BackoffPolicy& policy, const Clock& clock, Random& random, Op&& op,
           const std::function<bool(const Error&)>& retryable = IsRetryableByDefault)
    -> std::invoke_result_t<Op&, int> {
  // clang-format on
  using R = std::invoke_result_t<Op&, int>;
  using T = typename R::value_type;
  const std::function<Result<T>(int)> wrapped = [&op](int attempt) -> Result<T> {
    return op(attempt);
  };
  return Retry<T>(policy, clock, random, wrapped, retryable);
}

}  // namespace sg
