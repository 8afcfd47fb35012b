#pragma once

#include <chrono>
#include <cstdint>

#include "core/api/config.h"

namespace sg::plugins::cache {

struct CacheConfig {
  /// Budget of the in-process cache: keys + values + a fixed overhead per entry.
  ByteSize max_bytes{64 * 1024 * 1024};
  /// Independent LRU shards (one lock each); max_bytes is split evenly between them.
  std::int64_t shards = 16;
  /// TTL of entries stored without an explicit one (Cache::kDefaultTtl).
  ConfigDuration default_ttl{std::chrono::seconds(30)};

  void Visit(ConfigVisitor& v) {
    v.Field("max_bytes", max_bytes,
            {.doc = "memory budget of the in-process cache (keys + values + overhead)",
             .min = 64 * 1024,
             .max = 64.0 * 1024 * 1024 * 1024});
    v.Field("shards", shards,
            {.doc = "independent LRU shards, one lock each; max_bytes is split between them",
             .min = 1,
             .max = 256});
    v.Field("default_ttl", default_ttl,
            {.doc = "TTL of entries stored without one", .min = 1, .max = 7 * 24 * 3600 * 1000.0});
  }

  Result<> Validate() const {
    // Each shard must hold a few typical manifests, or everything is evicted at once.
    constexpr std::uint64_t kMinShardBytes = 16 * 1024;
    if (max_bytes.bytes / static_cast<std::uint64_t>(shards) < kMinShardBytes) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "max_bytes: must give each of the {} shards at least 16 KiB, got {} bytes",
                       shards, max_bytes.bytes);
    }
    return {};
  }
};

}  // namespace sg::plugins::cache
