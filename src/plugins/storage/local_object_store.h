#pragma once
/// The embedded ObjectStore adapter: objects are files under one root directory.
///
/// Layout (docs in README.md):
///   <root>/<key>                         objects
///   <root>/.tmp/<random>                 Put in progress (renamed over the key when whole)
///   <root>/.multipart/<upload_id>/data   the multipart object, each part written in place
///   <root>/.multipart/<upload_id>/plan   "part_size,total_size,key"
///   <root>/.multipart/<upload_id>/part-<n>  marker: part n is wholly stored (holds its size)
///
/// The two top-level names `.tmp` and `.multipart` are reserved: keys whose first segment
/// is one of them are kInvalidArgument here, although ValidateObjectKey accepts them.
///
/// Thread-safe: every method may be called from any thread; the only shared mutable state
/// besides the filesystem is the cache of open files (open_file_cache.h).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "core/api/clock.h"
#include "core/api/plugin.h"
#include "core/api/services/object_store.h"
#include "plugins/storage/open_file_cache.h"

namespace sg::plugins::storage {

/// What statvfs(2) and access(2) say about the filesystem holding the root.
struct DiskStatus {
  bool writable = false;
  /// Why the root is not usable (empty when writable).
  std::string problem;
  std::uint64_t free_bytes = 0;  ///< available to unprivileged users
  std::uint64_t total_bytes = 0;
};

/// ok / degraded (< 5% or < 1 GiB free) / down (not writable).
Health EvaluateDiskHealth(const DiskStatus& status);

class LocalObjectStore final : public ObjectStore {
 public:
  struct Options {
    std::filesystem::path root;
    /// fsync files and directories so an acknowledged write survives power loss.
    bool fsync = true;
    /// The size of the one buffer each streaming operation uses.
    std::size_t io_buffer = 256 * 1024;
    /// Open files kept for Get (see open_file_cache.h).
    OpenFileCache::Options open_files;
  };

  /// Creates the root and its private folders when missing. `clock` must outlive the store.
  static Result<std::shared_ptr<LocalObjectStore>> Open(Options options, const Clock& clock);

  Result<ObjectInfo> Put(std::string_view key, ByteSource& source) override;
  Result<ObjectInfo> Stat(std::string_view key) override;
  Result<std::unique_ptr<ObjectReader>> Get(std::string_view key, ByteRange range = {}) override;
  Result<ObjectListPage> List(std::string_view prefix, std::string_view start_after,
                              std::size_t limit) override;
  Result<> Delete(std::string_view key) override;
  Result<std::uint64_t> DeletePrefix(std::string_view prefix) override;

  Result<std::string> CreateMultipart(std::string_view key, const MultipartPlan& plan) override;
  Result<PartInfo> UploadPart(std::string_view key, std::string_view upload_id,
                              std::uint32_t part_number, ByteSource& source,
                              std::uint64_t expected_size) override;
  Result<ObjectInfo> CompleteMultipart(std::string_view key, std::string_view upload_id,
                                       std::span<const PartInfo> parts) override;
  Result<> AbortMultipart(std::string_view key, std::string_view upload_id) override;
  Result<std::unique_ptr<ByteSource>> ReadPart(std::string_view key, std::string_view upload_id,
                                               std::uint32_t part_number,
                                               std::uint64_t size) override;

  std::optional<std::filesystem::path> LocalPath(std::string_view key) override;

  /// Removes files in <root>/.tmp last modified more than `older_than` ago (left by a
  /// crash mid-Put); returns how many.
  Result<std::uint64_t> RemoveStaleTemporaryFiles(std::chrono::seconds older_than);

  /// statvfs + access on the root; cheap, for CheckHealth.
  DiskStatus ProbeDisk() const;

  const std::filesystem::path& root() const noexcept { return options_.root; }

  /// The largest number of parts of one multipart upload (as S3).
  static constexpr std::uint64_t kMaxParts = 10'000;

 private:
  struct Plan {
    std::uint64_t part_size = 0;
    std::uint64_t total_size = 0;
    std::string key;
    std::uint64_t PartCount() const;
    std::uint64_t PartSize(std::uint64_t part_number) const;
  };

  LocalObjectStore(Options options, const Clock& clock);

  Result<Plan> ReadPlan(std::string_view key, std::string_view upload_id) const;
  std::filesystem::path UploadDir(std::string_view upload_id) const;
  /// mkdir -p of the key's parent folders below the root (fsynced when created).
  Result<> CreateParents(std::string_view key) const;
  /// rmdir of the key's parent folders while empty, stopping at the root.
  void PruneEmptyParents(std::string_view key) const;
  Result<> SyncDir(const std::filesystem::path& dir, std::string_view what) const;
  /// Moves `from` over the key, creating parent folders and retrying when a concurrent
  /// Delete pruned them in between.
  Result<> RenameIntoPlace(const std::filesystem::path& from, std::string_view key);

  Options options_;
  const Clock& clock_;
  std::filesystem::path tmp_dir_;
  std::filesystem::path multipart_dir_;
  OpenFileCache open_files_;
};

}  // namespace sg::plugins::storage
