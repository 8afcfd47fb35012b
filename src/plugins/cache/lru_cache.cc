#include "plugins/cache/lru_cache.h"

#include <exception>
#include <functional>
#include <utility>

namespace sg::plugins::cache {
namespace {

Counter& MakeCounter(MetricsRegistry& metrics, std::string name, std::string help) {
  return metrics.CounterFamily(std::move(name), std::move(help)).WithLabels({});
}

Gauge& MakeGauge(MetricsRegistry& metrics, std::string name, std::string help) {
  return metrics.GaugeFamily(std::move(name), std::move(help)).WithLabels({});
}

}  // namespace

LruCache::LruCache(Options options, const Clock& clock, MetricsRegistry& metrics)
    : options_(options),
      shard_capacity_(options.max_bytes / (options.shards == 0 ? 1 : options.shards)),
      clock_(clock),
      hits_(MakeCounter(metrics, "streamgate_cache_hits_total",
                        "Cache lookups that found a fresh value")),
      misses_(MakeCounter(metrics, "streamgate_cache_misses_total",
                          "Cache lookups that found no fresh value")),
      evictions_(MakeCounter(metrics, "streamgate_cache_evictions_total",
                             "Cache entries dropped to make room for others")),
      bytes_gauge_(MakeGauge(metrics, "streamgate_cache_bytes",
                             "Bytes charged to cache entries (key + value + overhead)")),
      entries_gauge_(MakeGauge(metrics, "streamgate_cache_entries", "Entries in the cache")) {
  SG_CHECK(options_.shards >= 1, "a cache needs at least one shard");
  SG_CHECK(options_.default_ttl > Duration::zero(), "the default TTL must be positive");
  shards_.reserve(options_.shards);
  for (std::size_t i = 0; i < options_.shards; ++i) {
    shards_.push_back(std::make_unique<Shard>());
  }
}

LruCache::~LruCache() {
  // The gauges may be shared with other caches on the registry: take back our part only.
  Usage left = usage();
  bytes_gauge_.Dec(static_cast<double>(left.bytes));
  entries_gauge_.Dec(static_cast<double>(left.entries));
}

LruCache::Shard& LruCache::ShardFor(std::string_view key) {
  return *shards_[std::hash<std::string_view>{}(key) % shards_.size()];
}

Result<Duration> LruCache::EffectiveTtl(Duration ttl) const {
  if (ttl < Duration::zero()) {
    return MakeError(ErrorCode::kInvalidArgument, "cache TTL must not be negative");
  }
  return ttl == kDefaultTtl ? options_.default_ttl : ttl;
}

std::optional<std::string> LruCache::Lookup(Shard& shard, std::string_view key, SteadyTime now) {
  auto found = shard.index.find(key);
  if (found == shard.index.end()) {
    return std::nullopt;
  }
  auto node = found->second;
  if (node->expires <= now) {
    Erase(shard, node);
    return std::nullopt;
  }
  shard.lru.splice(shard.lru.begin(), shard.lru, node);
  return node->value;
}

void LruCache::Erase(Shard& shard, std::list<Node>::iterator node) {
  shard.index.erase(node->key);
  shard.bytes -= node->charge;
  bytes_gauge_.Dec(static_cast<double>(node->charge));
  entries_gauge_.Dec();
  shard.lru.erase(node);
}

void LruCache::Store(Shard& shard, std::string_view key, std::string value, SteadyTime expires) {
  if (auto old = shard.index.find(key); old != shard.index.end()) {
    Erase(shard, old->second);
  }
  std::size_t charge = key.size() + value.size() + kEntryOverhead;
  if (charge > shard_capacity_) {
    return;  // would evict a whole shard for one entry; the old value is gone (see port)
  }
  SteadyTime now = clock_.Now();
  while (shard.bytes + charge > shard_capacity_) {
    auto victim = std::prev(shard.lru.end());
    if (victim->expires > now) {
      evictions_.Inc();
    }
    Erase(shard, victim);
  }
  shard.lru.push_front(Node{std::string(key), std::move(value), expires, charge});
  shard.index.emplace(shard.lru.front().key, shard.lru.begin());
  shard.bytes += charge;
  bytes_gauge_.Inc(static_cast<double>(charge));
  entries_gauge_.Inc();
}

Result<std::optional<std::string>> LruCache::Get(std::string_view key) {
  SG_RETURN_IF_ERROR(ValidateCacheKey(key));
  Shard& shard = ShardFor(key);
  std::lock_guard lock(shard.mutex);
  auto value = Lookup(shard, key, clock_.Now());
  (value ? hits_ : misses_).Inc();
  return value;
}

Result<> LruCache::Set(std::string_view key, std::string value, Duration ttl) {
  SG_RETURN_IF_ERROR(ValidateCacheKey(key));
  SG_ASSIGN_OR_RETURN(Duration lifetime, EffectiveTtl(ttl));
  Shard& shard = ShardFor(key);
  std::lock_guard lock(shard.mutex);
  if (auto flight = shard.flights.find(key); flight != shard.flights.end()) {
    flight->second->stale = true;  // this value is newer than what the load will bring
  }
  Store(shard, key, std::move(value), clock_.Now() + lifetime);
  return {};
}

Result<> LruCache::Invalidate(std::string_view key) {
  SG_RETURN_IF_ERROR(ValidateCacheKey(key));
  Shard& shard = ShardFor(key);
  std::lock_guard lock(shard.mutex);
  if (auto found = shard.index.find(key); found != shard.index.end()) {
    Erase(shard, found->second);
  }
  if (auto flight = shard.flights.find(key); flight != shard.flights.end()) {
    flight->second->stale = true;
  }
  return {};
}

Result<> LruCache::InvalidatePrefix(std::string_view prefix) {
  SG_RETURN_IF_ERROR(ValidateCacheKey(prefix));
  for (auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    for (auto it = shard->index.lower_bound(prefix);
         it != shard->index.end() && it->first.starts_with(prefix);) {
      auto node = it->second;
      ++it;  // Erase invalidates the current index iterator only
      Erase(*shard, node);
    }
    for (auto it = shard->flights.lower_bound(prefix);
         it != shard->flights.end() && std::string_view(it->first).starts_with(prefix); ++it) {
      it->second->stale = true;
    }
  }
  return {};
}

Result<std::string> LruCache::GetOrLoad(std::string_view key, Duration ttl,
                                        const CacheLoader& loader) {
  SG_RETURN_IF_ERROR(ValidateCacheKey(key));
  SG_ASSIGN_OR_RETURN(Duration lifetime, EffectiveTtl(ttl));
  Shard& shard = ShardFor(key);
  std::shared_ptr<Flight> flight;
  bool leader = false;
  {
    std::lock_guard lock(shard.mutex);
    if (auto value = Lookup(shard, key, clock_.Now())) {
      hits_.Inc();
      return std::move(*value);
    }
    misses_.Inc();
    auto [it, inserted] = shard.flights.try_emplace(std::string(key));
    if (inserted) {
      it->second = std::make_shared<Flight>();
    }
    flight = it->second;
    leader = inserted;
  }
  if (!leader) {
    return flight->future.get();  // a copy: every follower gets its own string
  }

  Result<std::string> result = MakeError(ErrorCode::kInternal, "cache loader did not run");
  try {
    result = loader();
  } catch (const std::exception& e) {
    result = MakeError(ErrorCode::kInternal, "cache loader for {} threw: {}", key, e.what());
  } catch (...) {
    result = MakeError(ErrorCode::kInternal, "cache loader for {} threw", key);
  }
  {
    std::lock_guard lock(shard.mutex);
    shard.flights.erase(shard.flights.find(key));
    if (result && !flight->stale) {
      Store(shard, key, *result, clock_.Now() + lifetime);
    }
  }
  // Outside the lock: waking the followers must not make them queue on the shard.
  flight->promise.set_value(result);
  return result;
}

LruCache::Usage LruCache::usage() const {
  Usage total;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    total.entries += shard->index.size();
    total.bytes += shard->bytes;
  }
  return total;
}

}  // namespace sg::plugins::cache
