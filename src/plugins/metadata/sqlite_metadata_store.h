#pragma once
/// The embedded MetadataStore adapter: one SQLite file in WAL mode.
///
/// Connections: one writer connection behind a mutex (SQLite allows one writer at a time
/// anyway, and every write is a short BEGIN IMMEDIATE transaction), plus a small pool of
/// read connections (`query_only`) so that reads run concurrently with each other and with
/// the writer (WAL readers see the last committed state and never block). A write's own
/// read-back (UpdateContent's result) runs on the writer connection inside its transaction.
///
/// Durability: WAL with synchronous=NORMAL by default. A commit is in the WAL file (the
/// OS page cache) before the call returns, so it survives a crash or kill -9 of the
/// process; only an OS crash or power cut can lose the last commits (never corrupt the
/// file). synchronous=FULL adds an fsync per commit for power-loss durability.

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/api/clock.h"
#include "core/api/result.h"
#include "core/api/services/metadata_store.h"

namespace sg::plugins::metadata {

class SqliteMetadataStore final : public MetadataStore {
 public:
  struct Options {
    std::filesystem::path path;
    std::chrono::milliseconds busy_timeout{5'000};
    std::size_t read_connections = 4;
    bool synchronous_full = false;
  };

  /// Opens (creating) the file, applies pending migrations, each in its own transaction.
  /// kInvalidArgument when the file's schema is newer than `migrations` knows (a downgrade)
  /// or is not a database; kUnavailable when it cannot be opened. `clock` must outlive the
  /// store.
  static Result<std::shared_ptr<SqliteMetadataStore>> Open(
      const Options& options, const Clock& clock, std::span<const std::string_view> migrations);
  /// The same with the migrations compiled into this binary.
  static Result<std::shared_ptr<SqliteMetadataStore>> Open(const Options& options,
                                                           const Clock& clock);

  ~SqliteMetadataStore() override;
  SqliteMetadataStore(const SqliteMetadataStore&) = delete;
  SqliteMetadataStore& operator=(const SqliteMetadataStore&) = delete;

  /// The schema version after migrations.
  int schema_version() const noexcept { return schema_version_; }
  /// Runs a trivial read of the file; kUnavailable with the reason when it fails. Waits at
  /// most a few hundred milliseconds for locks (health checks must not hang).
  Result<> Ping();
  /// Closes every connection (waits for calls in flight); later calls are kUnavailable.
  void Close() noexcept;

  Result<> CreateContent(const ContentRecord& content) override;
  Result<ContentRecord> GetContent(std::string_view id) override;
  Result<ContentRecord> UpdateContent(std::string_view id, const ContentPatch& patch) override;
  Result<> DeleteContent(std::string_view id) override;
  Result<ContentPage> SearchContent(const ContentQuery& query) override;

  Result<> CreateUpload(const UploadSession& upload) override;
  Result<UploadSession> GetUpload(std::string_view id) override;
  Result<> TransitionUpload(std::string_view id, std::string_view from, std::string_view to,
                            std::string_view content_id = {}) override;
  Result<ChunkPutOutcome> PutChunk(std::string_view upload_id, const StoredChunk& chunk) override;
  Result<> DeleteChunks(std::string_view upload_id,
                        const std::vector<std::uint32_t>& indices) override;
  Result<std::vector<StoredChunk>> ListChunks(std::string_view upload_id) override;
  Result<std::vector<UploadSession>> ListExpiredUploads(WallTime now, std::size_t limit) override;
  Result<> DeleteUpload(std::string_view id) override;
  Result<std::uint64_t> CountOpenUploads(std::string_view owner) override;
  Result<std::uint64_t> StorageUsed(std::string_view owner) override;

  /// An unset created_at becomes now on insert and keeps the first recorded time when the
  /// rendition is replaced (a transcode marks it complete at the end); segments are
  /// replaced whole, so a re-recorded segment gets the new time.
  Result<> PutRendition(const RenditionRecord& rendition) override;
  Result<> PutSegment(const SegmentRecord& segment) override;
  Result<std::vector<RenditionRecord>> ListRenditions(std::string_view content_id) override;
  Result<std::vector<SegmentRecord>> ListSegments(std::string_view content_id,
                                                  std::string_view rendition) override;
  Result<> DeleteMedia(std::string_view content_id) override;

  /// Stats rows are upserts that add; the unique counter grows by the number of viewer keys
  /// actually inserted (the primary key ignores repeats, also within one batch).
  Result<> RecordViews(const std::vector<ViewDelta>& deltas) override;
  Result<ContentStats> GetStats(std::string_view content_id) override;

  struct Impl;

 private:
  SqliteMetadataStore(std::unique_ptr<Impl> impl, int schema_version);

  std::unique_ptr<Impl> impl_;
  int schema_version_ = 0;
};

}  // namespace sg::plugins::metadata
