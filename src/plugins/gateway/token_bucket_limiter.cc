#include "plugins/gateway/token_bucket_limiter.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>

namespace sg::plugins::gateway {
namespace {

// Refills are added in small floating-point steps; without a tolerance 0.998 + 0.002 tokens
// could fall just short of the 1 token it is.
constexpr double kEpsilon = 1e-9;

double Seconds(Duration duration) { return std::chrono::duration<double>(duration).count(); }

std::chrono::milliseconds CeilMillis(double seconds) {
  if (!(seconds > 0)) {
    return std::chrono::milliseconds(0);
  }
  return std::chrono::milliseconds(
      static_cast<std::int64_t>(std::ceil(seconds * 1000.0 - kEpsilon * 1000.0)));
}

double Refilled(double tokens, SteadyTime updated, SteadyTime now, double rate, double burst) {
  double elapsed = std::max(0.0, Seconds(now - updated));
  return std::min(burst, tokens + elapsed * rate);
}

}  // namespace

TokenBucketLimiter::TokenBucketLimiter(const Clock& clock, TokenBucketOptions options)
    : clock_(clock), options_(options) {
  options_.shards = std::max<std::size_t>(1, options_.shards);
  options_.max_keys_per_shard = std::max<std::size_t>(1, options_.max_keys_per_shard);
  options_.sweep_interval = std::max<std::size_t>(1, options_.sweep_interval);
  shards_.reserve(options_.shards);
  for (std::size_t i = 0; i < options_.shards; ++i) {
    shards_.push_back(std::make_unique<Shard>());
  }
}

TokenBucketLimiter::~TokenBucketLimiter() = default;

RateLimitDecision TokenBucketLimiter::Take(std::string_view key, const RateLimitRule& rule,
                                           double cost) {
  RateLimitDecision decision;
  if (!(rule.rate_per_second > 0) || !(rule.burst > 0)) {
    decision.allowed = true;
    return decision;
  }
  decision.limit = rule.burst;
  Shard& shard = *shards_[std::hash<std::string_view>{}(key) % shards_.size()];
  SteadyTime now = clock_.Now();

  std::lock_guard lock(shard.mutex);
  if (++shard.operations % options_.sweep_interval == 0) {
    SweepFull(shard, now);
  }
  auto found = shard.index.find(key);
  std::list<Bucket>::iterator bucket;
  if (found == shard.index.end()) {
    if (shard.lru.size() >= options_.max_keys_per_shard) {
      SweepFull(shard, now);
    }
    while (shard.lru.size() >= options_.max_keys_per_shard) {
      shard.index.erase(shard.lru.back().key);
      shard.lru.pop_back();
    }
    shard.lru.push_front(
        Bucket{std::string(key), rule.burst, now, rule.rate_per_second, rule.burst});
    bucket = shard.lru.begin();
    shard.index.emplace(bucket->key, bucket);
  } else {
    bucket = found->second;
    shard.lru.splice(shard.lru.begin(), shard.lru, bucket);
    bucket->tokens =
        Refilled(bucket->tokens, bucket->updated, now, rule.rate_per_second, rule.burst);
    bucket->updated = now;
    bucket->rate = rule.rate_per_second;
    bucket->burst = rule.burst;
  }

  if (bucket->tokens + kEpsilon >= cost) {
    bucket->tokens = std::max(0.0, bucket->tokens - cost);
    decision.allowed = true;
  } else {
    decision.allowed = false;
    decision.retry_after = CeilMillis((cost - bucket->tokens) / rule.rate_per_second);
  }
  decision.remaining = std::max(0.0, std::floor(bucket->tokens + kEpsilon));
  decision.reset = CeilMillis((rule.burst - bucket->tokens) / rule.rate_per_second);
  return decision;
}

void TokenBucketLimiter::SweepFull(Shard& shard, SteadyTime now) {
  // Least recently used first; stop at the first bucket still refilling, since more
  // recently used ones are (with the same rule) at most as full.
  while (!shard.lru.empty()) {
    const Bucket& oldest = shard.lru.back();
    double tokens = Refilled(oldest.tokens, oldest.updated, now, oldest.rate, oldest.burst);
    if (tokens + kEpsilon < oldest.burst) {
      return;
    }
    shard.index.erase(oldest.key);
    shard.lru.pop_back();
  }
}

std::size_t TokenBucketLimiter::Size() const {
  std::size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    total += shard->lru.size();
  }
  return total;
}

}  // namespace sg::plugins::gateway
