#pragma once
/// ObjectStore port: where source files, renditions and segments live. The embedded
/// adapter is a local directory (storage plugin); the distributed one is S3 (MinIO, AWS,
/// R2). Everything streams through ByteSource in bounded buffers.
///
/// Keys are relative paths of `[A-Za-z0-9._-]` segments separated by `/` (at most 512
/// bytes, no empty, `.` or `..` segment, no leading `/`); anything else is
/// kInvalidArgument, so a key can never escape the store.
///
/// Multipart uploads mirror S3 so that upload chunk n is part n: parts may arrive in any
/// order and in parallel, each is either wholly stored or absent, and completing stitches
/// them without copying where the store can (the local adapter writes each part in place at
/// (n-1) * part_size of one file and completes with a rename).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/byte_source.h"
#include "core/api/clock.h"
#include "core/api/result.h"

namespace sg {

struct ObjectInfo {
  std::string key;
  std::uint64_t size = 0;
  WallTime modified{};
  /// Changes whenever the content changes (local: size+mtime+inode; S3: its ETag).
  std::string etag;
};

/// [offset, offset + length) of an object; no length = to the end.
struct ByteRange {
  std::uint64_t offset = 0;
  std::optional<std::uint64_t> length;
};

class ObjectReader : public ByteSource {
 public:
  /// The whole object's info (not just the range).
  virtual const ObjectInfo& info() const noexcept = 0;
  /// Bytes this reader will return in total (the range clamped to the object).
  virtual std::uint64_t length() const noexcept = 0;
  /// Local stores: the open file and where the range starts, for sendfile(2). The fd is
  /// owned by the reader.
  struct FileSpan {
    int fd = -1;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
  };
  virtual std::optional<FileSpan> file_span() const noexcept { return std::nullopt; }
  /// Bytes already in memory (the range, not the whole object) that stay valid while the
  /// reader lives: the gateway writes them from there without a copy (static files).
  virtual std::optional<std::span<const char>> memory_span() const noexcept { return std::nullopt; }
};

struct ObjectListPage {
  std::vector<ObjectInfo> objects;  ///< sorted by key
  /// Pass as `start_after` for the next page; empty = no more.
  std::string next_start_after;
};

struct MultipartPlan {
  /// Every part but the last has exactly this size (the upload's chunk size).
  std::uint64_t part_size = 0;
  /// The size of the finished object.
  std::uint64_t total_size = 0;
};

struct PartInfo {
  std::uint32_t part_number = 0;  ///< 1-based
  std::uint64_t size = 0;
  std::string etag;
};

class ObjectStore {
 public:
  static constexpr std::string_view kServiceName = "ObjectStore";
  virtual ~ObjectStore() = default;

  /// Streams `source` to its end into `key`, replacing any object there. Atomic: readers
  /// see the old object or the whole new one, never a part (temp file + fsync + rename).
  virtual Result<ObjectInfo> Put(std::string_view key, ByteSource& source) = 0;
  /// kNotFound when absent.
  virtual Result<ObjectInfo> Stat(std::string_view key) = 0;
  /// A reader of `range`. kNotFound when absent; kInvalidArgument when the range starts
  /// beyond the end (an empty range at the end is fine).
  virtual Result<std::unique_ptr<ObjectReader>> Get(std::string_view key, ByteRange range = {}) = 0;
  /// Objects whose key starts with `prefix`, after `start_after`, at most `limit`.
  virtual Result<ObjectListPage> List(std::string_view prefix, std::string_view start_after,
                                      std::size_t limit) = 0;
  /// Removes the object; absent is success (idempotent).
  virtual Result<> Delete(std::string_view key) = 0;
  /// Removes every object under `prefix` (which must end in `/`); returns how many.
  virtual Result<std::uint64_t> DeletePrefix(std::string_view prefix) = 0;

  /// Starts a multipart upload to `key`; returns its upload id.
  virtual Result<std::string> CreateMultipart(std::string_view key, const MultipartPlan& plan) = 0;
  /// Stores part `part_number` (1-based) from `source`, which must yield exactly
  /// `expected_size` bytes (the plan's part_size, or the remainder for the last part);
  /// otherwise kInvalidArgument and the part is absent. Re-uploading a part replaces it.
  /// Different parts may be uploaded concurrently; the same part must not be.
  virtual Result<PartInfo> UploadPart(std::string_view key, std::string_view upload_id,
                                      std::uint32_t part_number, ByteSource& source,
                                      std::uint64_t expected_size) = 0;
  /// Finishes the object from `parts` (all of them, in order). kInvalidArgument when parts
  /// are missing or sizes do not add up to the plan. Idempotent once it succeeded.
  virtual Result<ObjectInfo> CompleteMultipart(std::string_view key, std::string_view upload_id,
                                               std::span<const PartInfo> parts) = 0;
  /// Discards the upload and its parts; unknown ids are success.
  virtual Result<> AbortMultipart(std::string_view key, std::string_view upload_id) = 0;
  /// Reads back a stored part (to verify it or compare a re-sent chunk).
  virtual Result<std::unique_ptr<ByteSource>> ReadPart(std::string_view key,
                                                       std::string_view upload_id,
                                                       std::uint32_t part_number,
                                                       std::uint64_t size) = 0;

  /// Local stores: the object's path, for child processes (ffprobe, ffmpeg). nullopt for
  /// remote stores (callers then stream the object to a temporary file).
  virtual std::optional<std::filesystem::path> LocalPath(std::string_view key) = 0;
};

/// The key rule above, for callers that build keys from ids.
Result<> ValidateObjectKey(std::string_view key);

}  // namespace sg
