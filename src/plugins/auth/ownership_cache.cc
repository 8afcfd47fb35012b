#include "plugins/auth/ownership_cache.h"

#include <algorithm>
#include <functional>

#include "core/api/hex.h"

namespace sg::plugins::auth {
namespace {

void AppendLower(std::string& out, std::string_view text) {
  for (char c : text) {
    out.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c);
  }
}

std::string Lower(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  AppendLower(out, text);
  return out;
}

}  // namespace

bool AnyNonZero(const BalanceAnswer& answer) {
  return std::any_of(answer.balances.begin(), answer.balances.end(),
                     [](const Uint256& value) { return !value.IsZero(); });
}

OwnershipCache::OwnershipCache(const Clock& clock, OwnershipCacheOptions options)
    : clock_(clock),
      positive_ttl_ns_(options.positive_ttl.count()),
      negative_ttl_ns_(options.negative_ttl.count()) {
  const std::size_t shards = std::max<std::size_t>(1, options.shards);
  per_shard_capacity_ = std::max<std::size_t>(1, options.max_entries / shards);
  shards_.reserve(shards);
  for (std::size_t i = 0; i < shards; ++i) {
    shards_.push_back(std::make_unique<Shard>());
  }
}

std::string OwnershipCache::Key(const BalanceQuery& query) {
  std::string key;
  key.reserve(query.chain.size() + query.contract.size() + query.owner.size() + 16 +
              query.token_ids.size() * 65);
  // Fields are separated by a byte none of them contains.
  key.append(query.chain);
  key.push_back('\x1f');
  key.append(TokenStandardName(query.standard));
  key.push_back('\x1f');
  AppendLower(key, query.contract);
  key.push_back('\x1f');
  AppendLower(key, query.owner);
  for (const Uint256& id : query.token_ids) {
    key.push_back('\x1f');
    key.append(HexEncode(id.bytes));
  }
  return key;
}

OwnershipCache::Shard& OwnershipCache::ShardFor(const std::string& key) {
  return *shards_[std::hash<std::string>{}(key) % shards_.size()];
}

std::optional<BalanceAnswer> OwnershipCache::Get(const BalanceQuery& query) {
  return Get(query, AnyNonZero);
}

std::optional<BalanceAnswer> OwnershipCache::Get(const BalanceQuery& query,
                                                 const IsPositiveFn& is_positive) {
  const std::string key = Key(query);
  Shard& shard = ShardFor(key);
  const SteadyTime now = clock_.Now();
  const Duration positive_ttl = this->positive_ttl();
  const Duration negative_ttl = this->negative_ttl();
  std::lock_guard lock(shard.mutex);
  auto found = shard.index.find(key);
  if (found == shard.index.end()) {
    return std::nullopt;
  }
  const Entry& entry = *found->second;
  const Duration age = now - entry.fetched_at;
  // Past both TTLs nothing can read it again: drop it now rather than wait for LRU.
  if (age >= std::max(positive_ttl, negative_ttl)) {
    shard.lru.erase(found->second);
    shard.index.erase(found);
    return std::nullopt;
  }
  const Duration ttl = is_positive(entry.answer) ? positive_ttl : negative_ttl;
  if (age >= ttl) {
    return std::nullopt;
  }
  shard.lru.splice(shard.lru.begin(), shard.lru, found->second);
  return entry.answer;
}

void OwnershipCache::Put(const BalanceQuery& query, BalanceAnswer answer) {
  std::string key = Key(query);
  Shard& shard = ShardFor(key);
  const SteadyTime now = clock_.Now();
  std::lock_guard lock(shard.mutex);
  if (auto found = shard.index.find(key); found != shard.index.end()) {
    found->second->answer = std::move(answer);
    found->second->fetched_at = now;
    shard.lru.splice(shard.lru.begin(), shard.lru, found->second);
    return;
  }
  while (shard.lru.size() >= per_shard_capacity_) {
    shard.index.erase(shard.lru.back().key);
    shard.lru.pop_back();
  }
  shard.lru.push_front(Entry{key, Lower(query.owner), std::move(answer), now});
  shard.index.emplace(std::move(key), shard.lru.begin());
}

void OwnershipCache::ForgetOwner(std::string_view owner) {
  const std::string lower = Lower(owner);
  for (auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    for (auto it = shard->lru.begin(); it != shard->lru.end();) {
      if (it->owner == lower) {
        shard->index.erase(it->key);
        it = shard->lru.erase(it);
      } else {
        ++it;
      }
    }
  }
}

void OwnershipCache::Clear() {
  for (auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    shard->index.clear();
    shard->lru.clear();
  }
}

std::size_t OwnershipCache::size() const {
  std::size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    total += shard->lru.size();
  }
  return total;
}

void OwnershipCache::SetTtls(Duration positive_ttl, Duration negative_ttl) {
  positive_ttl_ns_.store(positive_ttl.count());
  negative_ttl_ns_.store(negative_ttl.count());
}

}  // namespace sg::plugins::auth
