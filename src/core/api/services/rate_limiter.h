#pragma once
/// RateLimiter port: token buckets keyed by an opaque string (the gateway uses
/// "<route class>|<client ip>"). The embedded adapter keeps buckets in memory; a Redis
/// adapter (GCRA in an atomic script) shares them between nodes.

#include <chrono>
#include <string_view>

namespace sg {

struct RateLimitRule {
  /// Sustained rate: tokens added per second.
  double rate_per_second = 10;
  /// Bucket capacity: how many requests may arrive at once after a quiet period.
  double burst = 20;
};

struct RateLimitDecision {
  bool allowed = true;
  /// For `RateLimit-Limit`: the bucket capacity.
  double limit = 0;
  /// For `RateLimit-Remaining`: whole tokens left after this request.
  double remaining = 0;
  /// For `RateLimit-Reset`: time until the bucket is full again.
  std::chrono::milliseconds reset{0};
  /// For `Retry-After` when refused: time until one token is available.
  std::chrono::milliseconds retry_after{0};
};

class RateLimiter {
 public:
  static constexpr std::string_view kServiceName = "RateLimiter";
  virtual ~RateLimiter() = default;
  /// Takes `cost` tokens from `key`'s bucket if it has them. Thread-safe, never blocks on
  /// I/O for the embedded adapter. A limiter that cannot decide (Redis down) allows and
  /// counts the failure: rate limiting fails open, access control never does.
  virtual RateLimitDecision Take(std::string_view key, const RateLimitRule& rule,
                                 double cost = 1.0) = 0;
};

}  // namespace sg
