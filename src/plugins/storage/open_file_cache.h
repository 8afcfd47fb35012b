#pragma once
/// Open files of recently read objects, so that a popular segment costs no open(2), fstat(2)
/// and close(2) per request (nginx's open_file_cache, for the same reason). One descriptor
/// serves any number of readers at once: pread(2) and sendfile(2) take their offset
/// explicitly and never move a shared file position.
///
/// Freshness: the store drops an object's entry whenever it replaces or deletes it
/// (RenameIntoPlace, Delete, DeletePrefix), so within one process a cached file is never
/// stale. Changes made behind the store's back (another process, an operator's `rm`) are
/// seen after `valid` at most. A reader that races a replacement cannot put the old file
/// back: an insert is refused when any invalidation happened since the caller's lookup.

#include <sys/stat.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/api/clock.h"

namespace sg::plugins::storage {

/// A file descriptor closed when its last holder (cache entry or reader) lets go.
class SharedFile {
 public:
  explicit SharedFile(int fd) noexcept : fd_(fd) {}
  SharedFile(const SharedFile&) = delete;
  SharedFile& operator=(const SharedFile&) = delete;
  ~SharedFile();
  int fd() const noexcept { return fd_; }

 private:
  int fd_;
};

struct CachedFile {
  std::shared_ptr<const SharedFile> file;
  struct stat st {};
};

class OpenFileCache {
 public:
  struct Options {
    /// Most files kept open; 0 turns the cache off.
    std::size_t max_files = 512;
    /// How long an entry is trusted without looking at the file system again.
    Duration valid = std::chrono::seconds(10);
  };

  OpenFileCache(Options options, const Clock& clock);

  bool enabled() const noexcept { return options_.max_files > 0; }

  /// Taken before opening a file, passed to Insert: see the class comment.
  std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }

  /// The entry for `key` if present and younger than `valid` (an old one is dropped).
  std::optional<CachedFile> Find(std::string_view key);
  /// Keeps `file` for `key` unless something was invalidated since `generation` was read;
  /// evicts the least recently used entry of its shard when full.
  void Insert(std::string_view key, CachedFile file, std::uint64_t generation);
  void Erase(std::string_view key);
  void ErasePrefix(std::string_view prefix);
  std::size_t size() const;

 private:
  struct Entry {
    std::string key;
    CachedFile file;
    SteadyTime opened;
  };
  struct Shard {
    mutable std::mutex mutex;
    std::list<Entry> lru;  ///< most recently used first
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index;  ///< views into lru
  };

  Shard& ShardFor(std::string_view key);

  Options options_;
  const Clock& clock_;
  std::size_t per_shard_;
  std::vector<Shard> shards_;
  std::atomic<std::uint64_t> generation_{0};
};

}  // namespace sg::plugins::storage
