#pragma once
/// Cache port: a string-keyed, string-valued cache with per-entry TTLs, shaped so that the
/// in-process L1 (the `cache` plugin) and a later Redis L2 (or an L1-in-front-of-L2 adapter)
/// are interchangeable. Values are opaque bytes; callers serialise what they store.
///
/// Key convention (invalidation depends on it):
///   - keys are printable ASCII without spaces, 1..kMaxKeyBytes bytes, `:`-separated;
///   - everything derived from one content starts with `content:<content_id>:`
///     (`content:<id>:hls:master`, `content:<id>:hls:<rendition>`, `content:<id>:dash`,
///     `content:<id>:record`). The cache plugin drops the prefix `content:<id>:` on
///     `streamgate.transcoding.*`, `streamgate.content.updated` and
///     `streamgate.content.deleted`, so nothing derived from a content outlives a change.
///   Use ContentKeyPrefix() to build the prefix.
///
/// A cache may forget anything at any time (eviction, TTL, a restart): it is never the
/// only copy. Invalidation is the only way to drop entries on purpose, and it is by key or
/// by prefix only, both of which a distributed adapter can publish to other nodes (Redis
/// pub/sub or the EventBus) as `{"key": ...}` / `{"prefix": ...}`; there is deliberately no
/// "invalidate where predicate" that could not cross a process boundary. Invalidation is
/// per node for the L1: the content events it reacts to reach every node through the bus.
///
/// Errors: kInvalidArgument for a malformed key or prefix or a negative TTL. The L1 never
/// fails otherwise; a remote adapter returns kUnavailable when its server cannot be
/// reached, and callers should then treat the cache as a miss (it is an optimisation).
///
/// All methods are thread-safe.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/api/clock.h"
#include "core/api/result.h"

namespace sg {

/// Produces the value of a missing key for Cache::GetOrLoad.
using CacheLoader = std::function<Result<std::string>()>;

class Cache {
 public:
  static constexpr std::string_view kServiceName = "Cache";
  /// Longest key or prefix accepted (Redis takes far more; this keeps memory accounting
  /// honest and catches keys built from unbounded input).
  static constexpr std::size_t kMaxKeyBytes = 512;
  /// A TTL of zero means the adapter's configured default (`cache.default_ttl`).
  static constexpr Duration kDefaultTtl = Duration::zero();

  virtual ~Cache() = default;

  /// The value, or nullopt when absent or expired.
  virtual Result<std::optional<std::string>> Get(std::string_view key) = 0;

  /// Stores `value` for `ttl` (kDefaultTtl = the configured default), replacing any value.
  /// Success does not promise a later hit: an entry larger than the cache can hold is not
  /// stored (and the old value of the key is dropped, so a reader never sees it again).
  virtual Result<> Set(std::string_view key, std::string value, Duration ttl) = 0;

  /// Drops `key` (no error when absent). A GetOrLoad of that key running concurrently
  /// still returns its value to its callers but does not store it: it may predate the
  /// change that caused the invalidation.
  virtual Result<> Invalidate(std::string_view key) = 0;

  /// Drops every key starting with `prefix` (non-empty), with the same effect on loads in
  /// flight as Invalidate.
  virtual Result<> InvalidatePrefix(std::string_view prefix) = 0;

  /// Read-through: the cached value of `key`, else the value `loader` returns, stored for
  /// `ttl`. Concurrent misses of one key call `loader` once (single flight): the other
  /// callers wait for it and get the same result. A loader error is returned to every
  /// waiting caller and NOT cached (the next call tries again); an exception escaping the
  /// loader becomes kInternal. The loader runs on the calling thread without any cache
  /// lock held, but it must not GetOrLoad its own key (it would wait on itself).
  /// Returns kInvalidArgument for a bad key or TTL without calling the loader.
  virtual Result<std::string> GetOrLoad(std::string_view key, Duration ttl,
                                        const CacheLoader& loader) = 0;
};

/// "content:<content_id>:", the prefix of every key derived from that content.
inline std::string ContentKeyPrefix(std::string_view content_id) {
  std::string prefix;
  prefix.reserve(content_id.size() + 9);
  prefix.append("content:").append(content_id).append(":");
  return prefix;
}

/// Checks a key or prefix: 1..kMaxKeyBytes bytes of printable ASCII without spaces.
inline Result<> ValidateCacheKey(std::string_view key) {
  if (key.empty() || key.size() > Cache::kMaxKeyBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "cache key must be 1..{} bytes, got {}",
                     Cache::kMaxKeyBytes, key.size());
  }
  for (char c : key) {
    if (c <= ' ' || c > '~') {
      return MakeError(ErrorCode::kInvalidArgument,
                       "cache key must be printable ASCII without spaces");
    }
  }
  return {};
}

}  // namespace sg
