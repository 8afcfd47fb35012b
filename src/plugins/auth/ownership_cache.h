#pragma once
/// A bounded, sharded cache of chain balance answers, so that a viewer's manifest requests
/// within a few seconds do not each ask a chain. Keyed by everything that determines the
/// answer: (chain, standard, contract, owner, token ids), addresses compared lower-case.
///
/// Freshness depends on what the answer says, because the two mistakes differ in cost:
/// - a POSITIVE answer lives `positive_ttl` (default 60 s): after a transfer, the old
///   holder keeps access at most this long (the issue accepts "within the cache TTL");
/// - a NEGATIVE answer lives `negative_ttl` (default 10 s): a viewer who just bought the
///   token waits at most this long.
/// Which answers are positive is the caller's call (`Get` takes a predicate): the
/// evaluator calls an answer positive when it SATISFIES the condition that reads it, so a
/// non-zero ERC-20 balance below the threshold is re-read after 10 s, not 60 s. Without a
/// predicate, positive means "at least one balance is non-zero".
///
/// Thread-safe. Time comes from the injected Clock (steady time). An entry older than the
/// larger TTL is dead and removed when met; each shard evicts its least recently used
/// entry when full.

#include <atomic>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/api/clock.h"
#include "core/api/services/chain.h"

namespace sg::plugins::auth {

struct OwnershipCacheOptions {
  /// How long an answer that grants stays fresh (`access.ownership_ttl`).
  Duration positive_ttl = std::chrono::seconds(60);
  /// How long an answer that denies stays fresh (`access.negative_ttl`).
  Duration negative_ttl = std::chrono::seconds(10);
  /// Upper bound on entries over all shards (each shard holds max_entries / shards, >= 1).
  std::size_t max_entries = 100'000;
  /// Independent locks, so that concurrent manifest requests rarely contend.
  std::size_t shards = 16;
};

class OwnershipCache {
 public:
  using IsPositiveFn = std::function<bool(const BalanceAnswer&)>;

  OwnershipCache(const Clock& clock, OwnershipCacheOptions options = {});
  OwnershipCache(const OwnershipCache&) = delete;
  OwnershipCache& operator=(const OwnershipCache&) = delete;

  /// The cached answer to `query` when fresh: younger than positive_ttl when
  /// `is_positive(answer)`, younger than negative_ttl otherwise. nullopt when absent or stale.
  std::optional<BalanceAnswer> Get(const BalanceQuery& query, const IsPositiveFn& is_positive);
  /// Same, with "positive" = at least one non-zero balance.
  std::optional<BalanceAnswer> Get(const BalanceQuery& query);

  /// Stores a fresh answer (read from a chain now), replacing any older one.
  void Put(const BalanceQuery& query, BalanceAnswer answer);

  /// Forgets every answer about `owner` (e.g. on logout or an explicit refresh).
  void ForgetOwner(std::string_view owner);
  void Clear();
  /// Entries currently held (live or not yet swept).
  std::size_t size() const;

  /// Applies reloaded TTLs; entries already stored are judged by the new TTLs.
  void SetTtls(Duration positive_ttl, Duration negative_ttl);
  Duration positive_ttl() const { return Duration(positive_ttl_ns_.load()); }
  Duration negative_ttl() const { return Duration(negative_ttl_ns_.load()); }

  /// The cache key: chain, standard, lower-case contract and owner, token ids. Exposed for
  /// tests and for callers that deduplicate queries.
  static std::string Key(const BalanceQuery& query);

 private:
  struct Entry {
    std::string key;
    std::string owner;  // lower-case, for ForgetOwner
    BalanceAnswer answer;
    SteadyTime fetched_at;
  };
  struct Shard {
    mutable std::mutex mutex;
    std::list<Entry> lru;  // front = most recently used
    std::unordered_map<std::string, std::list<Entry>::iterator> index;
  };

  Shard& ShardFor(const std::string& key);

  const Clock& clock_;
  std::size_t per_shard_capacity_;
  std::atomic<Duration::rep> positive_ttl_ns_;
  std::atomic<Duration::rep> negative_ttl_ns_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

/// True when any balance in `answer` is non-zero.
bool AnyNonZero(const BalanceAnswer& answer);

}  // namespace sg::plugins::auth
