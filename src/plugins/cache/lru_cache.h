#pragma once
/// The in-process L1 adapter of the Cache port: a sharded LRU bounded in bytes.
///
/// Keys are spread over `shards` shards by hash, each with its own mutex, LRU list and
/// byte budget (`max_bytes / shards`), so concurrent readers of different keys rarely
/// contend. An entry is charged `key + value + kEntryOverhead` bytes (the overhead
/// approximates the list node, the index node and the two string headers). Storing an
/// entry evicts least recently used entries of its shard until it fits; an entry larger
/// than a whole shard is not stored. Expired entries are dropped when they are read or
/// reach the LRU tail; until then they only occupy budget.
///
/// Each shard keeps its index ordered, so InvalidatePrefix costs one ordered range scan
/// per shard (O(shards * log n + matches)), cheap enough to run on every content event.
///
/// Metrics (created in the registry given to the constructor; several caches on one
/// registry share them): streamgate_cache_hits_total, streamgate_cache_misses_total,
/// streamgate_cache_evictions_total (entries dropped to make room, not expiries or
/// invalidations), streamgate_cache_bytes and streamgate_cache_entries (gauges).

#include <cstddef>
#include <cstdint>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/clock.h"
#include "core/api/metrics.h"
#include "core/api/result.h"
#include "core/api/services/cache.h"

namespace sg::plugins::cache {

class LruCache final : public Cache {
 public:
  /// Bytes charged per entry on top of its key and value.
  static constexpr std::size_t kEntryOverhead = 128;

  struct Options {
    std::size_t max_bytes = 64 * 1024 * 1024;
    std::size_t shards = 16;                          ///< >= 1
    Duration default_ttl = std::chrono::seconds(30);  ///< > 0; used for a TTL of kDefaultTtl
  };

  /// `clock` and `metrics` must outlive the cache.
  LruCache(Options options, const Clock& clock, MetricsRegistry& metrics);
  ~LruCache() override;
  LruCache(const LruCache&) = delete;
  LruCache& operator=(const LruCache&) = delete;

  Result<std::optional<std::string>> Get(std::string_view key) override;
  Result<> Set(std::string_view key, std::string value, Duration ttl) override;
  Result<> Invalidate(std::string_view key) override;
  Result<> InvalidatePrefix(std::string_view prefix) override;
  Result<std::string> GetOrLoad(std::string_view key, Duration ttl,
                                const CacheLoader& loader) override;

  /// Totals over all shards (takes every shard lock; for tests and health).
  struct Usage {
    std::size_t entries = 0;
    std::size_t bytes = 0;
  };
  Usage usage() const;
  std::size_t shard_capacity() const { return shard_capacity_; }

 private:
  struct Node {
    std::string key;
    std::string value;
    SteadyTime expires;
    std::size_t charge = 0;
  };
  // A GetOrLoad in progress; the leader fulfils the promise, followers wait on the future.
  struct Flight {
    std::promise<Result<std::string>> promise;
    std::shared_future<Result<std::string>> future = promise.get_future().share();
    bool stale = false;  // invalidated or overwritten while loading: do not store the result
  };
  struct Shard {
    mutable std::mutex mutex;
    std::list<Node> lru;  // front = most recently used
    // Views point into the nodes' keys, which never move (list nodes are stable).
    std::map<std::string_view, std::list<Node>::iterator, std::less<>> index;
    std::map<std::string, std::shared_ptr<Flight>, std::less<>> flights;
    std::size_t bytes = 0;
  };

  Shard& ShardFor(std::string_view key);
  Result<Duration> EffectiveTtl(Duration ttl) const;
  // The fresh value of `key`, moved to the LRU front; drops an expired entry. Locked.
  std::optional<std::string> Lookup(Shard& shard, std::string_view key, SteadyTime now);
  // Replaces the value of `key` (evicting as needed). Locked.
  void Store(Shard& shard, std::string_view key, std::string value, SteadyTime expires);
  // Drops one entry. Locked.
  void Erase(Shard& shard, std::list<Node>::iterator node);

  const Options options_;
  const std::size_t shard_capacity_;
  const Clock& clock_;
  std::vector<std::unique_ptr<Shard>> shards_;
  Counter& hits_;
  Counter& misses_;
  Counter& evictions_;
  Gauge& bytes_gauge_;
  Gauge& entries_gauge_;
};

}  // namespace sg::plugins::cache
