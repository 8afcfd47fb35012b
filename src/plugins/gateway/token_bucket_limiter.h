#pragma once
/// The embedded RateLimiter adapter: token buckets in memory, sharded by key hash so
/// concurrent requests from different clients rarely share a lock.
///
/// Memory is bounded twice: every `sweep_interval` operations a shard drops buckets that
/// have refilled completely (a full bucket is the same as no bucket), walking from the
/// least recently used end; and a shard never holds more than `max_keys_per_shard`
/// buckets (the least recently used is evicted, which can only make a limit more lenient).
///
/// A rule with rate <= 0 or burst <= 0 means "no limit": Take always allows.

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/api/clock.h"
#include "core/api/services/rate_limiter.h"

namespace sg::plugins::gateway {

struct TokenBucketOptions {
  std::size_t shards = 16;
  std::size_t max_keys_per_shard = 8192;
  /// A shard sweeps full buckets once every this many Take calls on it.
  std::size_t sweep_interval = 1024;
};

class TokenBucketLimiter final : public RateLimiter {
 public:
  /// `clock` must outlive the limiter.
  explicit TokenBucketLimiter(const Clock& clock, TokenBucketOptions options = {});
  ~TokenBucketLimiter() override;

  RateLimitDecision Take(std::string_view key, const RateLimitRule& rule,
                         double cost = 1.0) override;

  /// Buckets currently held, over all shards (for tests and metrics).
  std::size_t Size() const;

 private:
  struct Bucket {
    std::string key;
    double tokens = 0;
    SteadyTime updated;
    double rate = 0;  // rule of the last Take, to tell when the bucket is full again
    double burst = 0;
  };
  struct Shard {
    mutable std::mutex mutex;
    std::list<Bucket> lru;  // front = most recently used
    std::unordered_map<std::string_view, std::list<Bucket>::iterator> index;
    std::size_t operations = 0;
  };

  void SweepFull(Shard& shard, SteadyTime now);

  const Clock& clock_;
  TokenBucketOptions options_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace sg::plugins::gateway
