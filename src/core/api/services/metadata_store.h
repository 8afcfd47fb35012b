#pragma once
/// MetadataStore port: content records, upload sessions and their chunks, tags, search.
/// Embedded adapter: SQLite (WAL, versioned migrations, FTS5); distributed: PostgreSQL with
/// the same schema and queries. Every call is a short transaction and is safe from any
/// thread; calls block (run them on the handler pool, never on an I/O thread).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/clock.h"
#include "core/api/result.h"

namespace sg {

/// Content lifecycle: uploaded -> processing -> ready | failed.
struct ContentRecord {
  std::string id;     ///< server-generated (see IsValidId)
  std::string owner;  ///< Principal id of the uploader
  std::string title;
  std::string description;
  std::vector<std::string> tags;  ///< lower-case, unique, sorted
  std::string category;
  std::string visibility = "public";  ///< public | unlisted | private
  std::string status = "uploaded";    ///< uploaded | processing | ready | failed
  std::string status_reason;          ///< why it failed, for a person
  std::string filename;               ///< as uploaded
  std::string content_type;
  std::string object_key;  ///< the source file in the ObjectStore
  std::uint64_t size = 0;
  std::string sha256;      ///< hex of the whole source file
  std::string probe_json;  ///< ffprobe's summary, JSON text
  double duration_seconds = 0;
  std::int64_t width = 0;
  std::int64_t height = 0;
  double frame_rate = 0;   ///< of the source, frames per second (0 = unknown / no video)
  std::string poster_key;  ///< JPEG in the ObjectStore; empty until transcoded
  /// Who may watch beyond visibility: the access plugin's policy as canonical JSON text
  /// (`{"public":true}` or an any/all tree of token conditions); empty = none.
  std::string access_policy;
  WallTime created_at{};
  WallTime updated_at{};
};

/// Fields a PATCH may change; unset = unchanged.
struct ContentPatch {
  std::optional<std::string> title;
  std::optional<std::string> description;
  std::optional<std::vector<std::string>> tags;
  std::optional<std::string> category;
  std::optional<std::string> visibility;
  std::optional<std::string> status;
  std::optional<std::string> status_reason;
  std::optional<std::string> probe_json;
  std::optional<double> duration_seconds;
  std::optional<std::int64_t> width;
  std::optional<std::int64_t> height;
  std::optional<double> frame_rate;
  std::optional<std::string> poster_key;
  std::optional<std::string> access_policy;
};

struct ContentQuery {
  std::string text;    ///< full-text over title, description, tags (FTS5 syntax-safe)
  std::string tag;     ///< exact tag
  std::string status;  ///< exact status
  std::string owner;   ///< exact owner
  /// Which visibilities to include; empty = all (callers restrict for anonymous viewers).
  std::vector<std::string> visibilities;
  /// Also include this owner's items whatever their visibility (a signed-in viewer sees
  /// public content plus their own in one listing). Empty = no exception.
  std::string visible_to_owner;
  std::size_t limit = 20;  ///< 1..100
  std::string cursor;      ///< opaque, from the previous page
};

struct ContentPage {
  std::vector<ContentRecord> items;  ///< ranked by relevance with text, else newest first
  std::string next_cursor;           ///< empty = last page
};

/// An upload session (seed chunked API or tus). Chunk n covers bytes
/// [n * chunk_size, min(size, (n + 1) * chunk_size)), n from 0.
struct UploadSession {
  std::string id;
  std::string owner;
  std::string protocol = "chunked";  ///< chunked | tus
  std::string filename;
  std::string content_type;
  std::uint64_t size = 0;
  std::uint64_t chunk_size = 0;
  std::uint32_t total_chunks = 0;
  std::string declared_sha256;  ///< hex, empty when not declared
  std::string title;
  std::string description;
  std::vector<std::string> tags;
  /// Of the content created at completion, so it is never listed before it is hidden:
  /// public | unlisted | private.
  std::string visibility = "public";
  std::string metadata_json;   ///< tus Upload-Metadata, decoded, as a JSON object
  std::string state = "open";  ///< open | completing | completed | failed
  std::string object_key;      ///< where the finished file goes
  std::string multipart_id;    ///< the ObjectStore multipart upload
  std::string content_id;      ///< set when completed
  WallTime created_at{};
  WallTime expires_at{};
};

struct StoredChunk {
  std::uint32_t index = 0;  ///< 0-based
  std::uint64_t size = 0;
  std::string sha256;  ///< hex
  std::string etag;    ///< the ObjectStore part's etag
};

enum class ChunkPutOutcome { kStored, kIdenticalAlreadyStored };

/// One rendition of a transcoded content: a CMAF track (`init.mp4` + `segment_<n>.m4s`)
/// under `<content prefix>/<name>/`. Written by transcode, read by streaming.
struct RenditionRecord {
  std::string content_id;
  std::string name;             ///< "360p", "720p", "audio" ([a-z0-9_-])
  std::string kind = "video";   ///< video | audio
  std::string codec;            ///< RFC 6381: "avc1.64001f", "mp4a.40.2"
  std::uint64_t bandwidth = 0;  ///< bits/s, the encoder's target (peak for HLS BANDWIDTH)
  std::int64_t width = 0;       ///< video only
  std::int64_t height = 0;
  double frame_rate = 0;
  std::int64_t sample_rate = 0;  ///< audio only
  std::int64_t channels = 0;
  std::string init_key;               ///< ObjectStore key of init.mp4
  double target_segment_seconds = 0;  ///< the configured segment length
  bool complete = false;              ///< every segment is recorded (HLS ENDLIST, DASH static)
  WallTime created_at{};
};

/// One finished media segment; recorded as soon as it is final and stored.
struct SegmentRecord {
  std::string content_id;
  std::string rendition;
  std::uint32_t number = 0;  ///< segment_<number>.m4s, from 0, contiguous
  double duration_seconds = 0;
  std::uint64_t bytes = 0;
  std::string object_key;
  WallTime created_at{};  ///< when it was recorded (the benchmark's time-to-first-segment)
};

/// What a batch of viewing adds to one content's statistics (streaming's view counter
/// flushes these). `new_viewers` are opaque viewer keys (keyed hashes, never an IP);
/// ones already recorded for the content are ignored, so unique_viewers counts each once.
struct ViewDelta {
  std::string content_id;
  std::uint64_t views = 0;
  std::uint64_t bytes = 0;
  std::vector<std::string> new_viewers;  ///< 1 to 128 characters each
};

/// A content's playback statistics since it was created.
struct ContentStats {
  std::string content_id;
  std::uint64_t views = 0;
  std::uint64_t unique_viewers = 0;
  std::uint64_t bytes_served = 0;
};

class MetadataStore {
 public:
  static constexpr std::string_view kServiceName = "MetadataStore";
  virtual ~MetadataStore() = default;

  // ---- contents
  /// kAlreadyExists on a duplicate id.
  virtual Result<> CreateContent(const ContentRecord& content) = 0;
  /// kNotFound when absent.
  virtual Result<ContentRecord> GetContent(std::string_view id) = 0;
  /// Applies the patch and bumps updated_at; returns the new record. kNotFound.
  virtual Result<ContentRecord> UpdateContent(std::string_view id, const ContentPatch& patch) = 0;
  /// kNotFound when absent.
  virtual Result<> DeleteContent(std::string_view id) = 0;
  /// kInvalidArgument for a bad cursor or limit.
  virtual Result<ContentPage> SearchContent(const ContentQuery& query) = 0;

  // ---- upload sessions
  virtual Result<> CreateUpload(const UploadSession& upload) = 0;
  virtual Result<UploadSession> GetUpload(std::string_view id) = 0;
  /// Compare-and-set of the state: succeeds only when the stored state is `from` (so two
  /// concurrent completes cannot both win). kAlreadyExists naming the current state when it
  /// is not `from`; kNotFound. `content_id` is stored when non-empty.
  virtual Result<> TransitionUpload(std::string_view id, std::string_view from, std::string_view to,
                                    std::string_view content_id = {}) = 0;
  /// Records a stored chunk. Same index with the same sha256: kIdenticalAlreadyStored;
  /// with a different sha256: kAlreadyExists. kNotFound for an unknown upload.
  virtual Result<ChunkPutOutcome> PutChunk(std::string_view upload_id,
                                           const StoredChunk& chunk) = 0;
  /// Forgets chunks (tus: a PATCH whose checksum failed). Unknown indices are ignored.
  virtual Result<> DeleteChunks(std::string_view upload_id,
                                const std::vector<std::uint32_t>& indices) = 0;
  /// Sorted by index.
  virtual Result<std::vector<StoredChunk>> ListChunks(std::string_view upload_id) = 0;
  /// Sessions not completed whose expires_at is before `now`.
  virtual Result<std::vector<UploadSession>> ListExpiredUploads(WallTime now,
                                                                std::size_t limit) = 0;
  /// Deletes the session and its chunk records (idempotent).
  virtual Result<> DeleteUpload(std::string_view id) = 0;
  /// Open (not completed, not failed) sessions of `owner`.
  virtual Result<std::uint64_t> CountOpenUploads(std::string_view owner) = 0;
  /// Bytes of `owner`'s contents plus the declared sizes of their open sessions.
  virtual Result<std::uint64_t> StorageUsed(std::string_view owner) = 0;

  // ---- renditions and segments (transcode writes, streaming reads)
  /// Inserts or replaces the rendition (content_id, name). kNotFound for an unknown content.
  virtual Result<> PutRendition(const RenditionRecord& rendition) = 0;
  /// Inserts or replaces segment (content_id, rendition, number): a re-run job may record the
  /// same segment again. kNotFound when the rendition is unknown.
  virtual Result<> PutSegment(const SegmentRecord& segment) = 0;
  /// Sorted: video by height ascending, then audio.
  virtual Result<std::vector<RenditionRecord>> ListRenditions(std::string_view content_id) = 0;
  /// Sorted by number. Empty for an unknown rendition.
  virtual Result<std::vector<SegmentRecord>> ListSegments(std::string_view content_id,
                                                          std::string_view rendition) = 0;
  /// Forgets every rendition and segment of the content (a transcode starting over;
  /// deleting a content does this too). Idempotent.
  virtual Result<> DeleteMedia(std::string_view content_id) = 0;

  // ---- playback statistics (streaming writes in batches, the stats route reads)
  /// Adds every delta in one transaction. Deltas for a content that no longer exists are
  /// skipped (it was deleted after the views were counted), not an error. kInvalidArgument
  /// for a malformed content id or viewer key (then nothing is stored).
  virtual Result<> RecordViews(const std::vector<ViewDelta>& deltas) = 0;
  /// Zeros for a content never viewed; kNotFound for an unknown content. Deleting a
  /// content deletes its statistics.
  virtual Result<ContentStats> GetStats(std::string_view content_id) = 0;
};

/// Server-generated ids: 16 to 64 characters of [a-z0-9]. Everything on a path is checked
/// with this before it reaches a store.
bool IsValidId(std::string_view id) noexcept;
/// A fresh id: 20 lower-case base32 characters (100 random bits) from the OS CSPRNG.
std::string NewId();

}  // namespace sg
