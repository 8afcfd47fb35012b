#include "core/api/retry.h"

#include <algorithm>
#include <cmath>

namespace sg {

Duration BackoffDelay(const BackoffPolicy& policy, int attempt, Random& random) {
  const double cap = static_cast<double>(std::max(policy.max.count(), Duration::rep{0}));
  const double initial = static_cast<double>(std::max(policy.initial.count(), Duration::rep{0}));
  const int exponent = std::max(attempt, 1) - 1;
  // Computed in double so that a large attempt number saturates at the cap instead of
  // overflowing the integer nanosecond count.
  double delay = initial * std::pow(std::max(policy.multiplier, 1.0), exponent);
  if (!std::isfinite(delay) || delay > cap) {
    delay = cap;
  }
  if (policy.full_jitter) {
    delay *= random.NextUnit();
  } else if (policy.jitter > 0) {
    double jitter = std::min(policy.jitter, 1.0);
    delay *= 1.0 + jitter * (2.0 * random.NextUnit() - 1.0);
  }
  delay = std::clamp(delay, 0.0, cap);
  return Duration(static_cast<Duration::rep>(std::llround(delay)));
}

bool IsRetryableByDefault(const Error& error) {
  return error.code == ErrorCode::kUnavailable || error.code == ErrorCode::kResourceExhausted;
}

}  // namespace sg
