#include "plugins/storage/open_file_cache.h"

#include <unistd.h>

#include <functional>

namespace sg::plugins::storage {
namespace {

// Enough shards that the I/O threads rarely meet on one lock; few enough that a small
// cache still holds useful entries per shard.
constexpr std::size_t kShards = 8;

}  // namespace

SharedFile::~SharedFile() {
  if (fd_ >= 0) {
    ::close(fd_);  // not retried on EINTR: on Linux the descriptor is released either way
  }
}

OpenFileCache::OpenFileCache(Options options, const Clock& clock)
    : options_(options),
      clock_(clock),
      per_shard_(std::max<std::size_t>(1, (options.max_files + kShards - 1) / kShards)),
      shards_(kShards) {}

OpenFileCache::Shard& OpenFileCache::ShardFor(std::string_view key) {
  return shards_[std::hash<std::string_view>{}(key) % shards_.size()];
}

std::optional<CachedFile> OpenFileCache::Find(std::string_view key) {
  if (!enabled()) {
    return std::nullopt;
  }
  Shard& shard = ShardFor(key);
  std::lock_guard lock(shard.mutex);
  auto found = shard.index.find(key);
  if (found == shard.index.end()) {
    return std::nullopt;
  }
  auto entry = found->second;
  if (clock_.Now() - entry->opened >= options_.valid) {
    shard.index.erase(found);
    shard.lru.erase(entry);
    return std::nullopt;
  }
  shard.lru.splice(shard.lru.begin(), shard.lru, entry);
  return entry->file;
}

void OpenFileCache::Insert(std::string_view key, CachedFile file, std::uint64_t generation) {
  if (!enabled()) {
    return;
  }
  Shard& shard = ShardFor(key);
  std::lock_guard lock(shard.mutex);
  // Checked under the shard lock: Erase bumps the generation under the same lock, so an
  // invalidation of this key either happened before (refused here) or comes after (and
  // removes what we insert).
  if (generation_.load(std::memory_order_acquire) != generation) {
    return;
  }
  if (auto found = shard.index.find(key); found != shard.index.end()) {
    auto entry = found->second;
    shard.index.erase(found);
    shard.lru.erase(entry);
  }
  while (shard.lru.size() >= per_shard_) {
    shard.index.erase(shard.lru.back().key);
    shard.lru.pop_back();
  }
  shard.lru.push_front(Entry{std::string(key), std::move(file), clock_.Now()});
  shard.index.emplace(shard.lru.front().key, shard.lru.begin());
}

void OpenFileCache::Erase(std::string_view key) {
  if (!enabled()) {
    return;
  }
  Shard& shard = ShardFor(key);
  std::lock_guard lock(shard.mutex);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  if (auto found = shard.index.find(key); found != shard.index.end()) {
    auto entry = found->second;
    shard.index.erase(found);
    shard.lru.erase(entry);
  }
}

void OpenFileCache::ErasePrefix(std::string_view prefix) {
  if (!enabled()) {
    return;
  }
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    for (auto entry = shard.lru.begin(); entry != shard.lru.end();) {
      if (std::string_view(entry->key).starts_with(prefix)) {
        shard.index.erase(entry->key);
        entry = shard.lru.erase(entry);
      } else {
        ++entry;
      }
    }
  }
}

std::size_t OpenFileCache::size() const {
  std::size_t total = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total += shard.lru.size();
  }
  return total;
}

}  // namespace sg::plugins::storage
