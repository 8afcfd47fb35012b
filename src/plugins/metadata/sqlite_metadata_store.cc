#include "plugins/metadata/sqlite_metadata_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

#include "plugins/metadata/migrations.h"
#include "plugins/metadata/search_query.h"
#include "support/sqlite/sqlite_support.h"

namespace sg::plugins::metadata {
namespace {

namespace json = boost::json;
using Db = SQLite::Database;
using sqlite::BindAll;
using sqlite::FromMs;
using sqlite::Param;
using sqlite::ToMs;

constexpr std::string_view kWhat = "metadata";

constexpr std::size_t kMaxLimit = 100;
// Health checks must answer quickly even while a long write holds the lock.
constexpr int kPingBusyTimeoutMs = 250;

// Library exceptions stop here: every public method runs its body through this.
template <class F>
auto Guarded(std::string_view op, F&& body) -> decltype(body()) {
  return sqlite::Guarded(kWhat, op, std::forward<F>(body));
}

std::int64_t AsInt(std::uint64_t value) { return static_cast<std::int64_t>(value); }

std::string TagsJson(const std::vector<std::string>& tags) {
  json::array array;
  for (const auto& tag : tags) {
    array.emplace_back(tag);
  }
  return json::serialize(array);
}

std::vector<std::string> TagsFromJson(const std::string& text) {
  std::vector<std::string> tags;
  const json::value parsed = json::parse(text);  // must outlive the loop over its array
  for (const auto& value : parsed.as_array()) {
    tags.emplace_back(value.as_string());
  }
  return tags;
}

std::string JoinTags(const std::vector<std::string>& tags) {
  std::string joined;
  for (const auto& tag : tags) {
    if (!joined.empty()) {
      joined += ' ';
    }
    joined += tag;
  }
  return joined;
}

// ---- contents

constexpr std::string_view kContentColumns =
    "c.id, c.owner, c.title, c.description, c.category, c.visibility, c.status, "
    "c.status_reason, c.filename, c.content_type, c.object_key, c.size, c.sha256, "
    "c.probe_json, c.duration_seconds, c.width, c.height, c.created_at, c.updated_at, "
    "c.frame_rate, c.poster_key, c.access_policy";
// A search with text selects its score right after the content columns.
constexpr int kContentColumnCount = 22;

ContentRecord ReadContentRow(SQLite::Statement& row) {
  ContentRecord c;
  c.id = row.getColumn(0).getString();
  c.owner = row.getColumn(1).getString();
  c.title = row.getColumn(2).getString();
  c.description = row.getColumn(3).getString();
  c.category = row.getColumn(4).getString();
  c.visibility = row.getColumn(5).getString();
  c.status = row.getColumn(6).getString();
  c.status_reason = row.getColumn(7).getString();
  c.filename = row.getColumn(8).getString();
  c.content_type = row.getColumn(9).getString();
  c.object_key = row.getColumn(10).getString();
  c.size = static_cast<std::uint64_t>(row.getColumn(11).getInt64());
  c.sha256 = row.getColumn(12).getString();
  c.probe_json = row.getColumn(13).getString();
  c.duration_seconds = row.getColumn(14).getDouble();
  c.width = row.getColumn(15).getInt64();
  c.height = row.getColumn(16).getInt64();
  c.created_at = FromMs(row.getColumn(17).getInt64());
  c.updated_at = FromMs(row.getColumn(18).getInt64());
  c.frame_rate = row.getColumn(19).getDouble();
  c.poster_key = row.getColumn(20).getString();
  c.access_policy = row.getColumn(21).getString();
  return c;
}

std::vector<std::string> LoadTags(Db& db, const std::string& content_id) {
  SQLite::Statement query(db,
                          "SELECT tag FROM content_tags WHERE content_id = ? ORDER BY position");
  query.bind(1, content_id);
  std::vector<std::string> tags;
  while (query.executeStep()) {
    tags.push_back(query.getColumn(0).getString());
  }
  return tags;
}

std::optional<ContentRecord> LoadContent(Db& db, std::string_view id) {
  SQLite::Statement query(db,
                          fmt::format("SELECT {} FROM contents c WHERE c.id = ?", kContentColumns));
  query.bind(1, std::string(id));
  if (!query.executeStep()) {
    return std::nullopt;
  }
  ContentRecord record = ReadContentRow(query);
  record.tags = LoadTags(db, record.id);
  return record;
}

std::optional<std::int64_t> ContentSeq(Db& db, std::string_view id) {
  SQLite::Statement query(db, "SELECT seq FROM contents WHERE id = ?");
  query.bind(1, std::string(id));
  if (!query.executeStep()) {
    return std::nullopt;
  }
  return query.getColumn(0).getInt64();
}

void InsertTags(Db& db, const std::string& content_id, const std::vector<std::string>& tags) {
  // Tags arrive normalised (lower-case, unique, sorted) from the caller; a repeated tag is
  // kept once, at its first position.
  SQLite::Statement insert(
      db, "INSERT OR IGNORE INTO content_tags (content_id, tag, position) VALUES (?, ?, ?)");
  std::int64_t position = 0;
  for (const auto& tag : tags) {
    insert.reset();
    insert.bind(1, content_id);
    insert.bind(2, tag);
    insert.bind(3, position++);
    insert.exec();
  }
}

void ReplaceFtsRow(Db& db, std::int64_t seq, const ContentRecord& record) {
  SQLite::Statement remove(db, "DELETE FROM contents_fts WHERE rowid = ?");
  remove.bind(1, seq);
  remove.exec();
  SQLite::Statement insert(
      db, "INSERT INTO contents_fts (rowid, title, description, tags) VALUES (?, ?, ?, ?)");
  insert.bind(1, seq);
  insert.bind(2, record.title);
  insert.bind(3, record.description);
  insert.bind(4, JoinTags(record.tags));
  insert.exec();
}

// ---- uploads

constexpr std::string_view kUploadColumns =
    "id, owner, protocol, filename, content_type, size, chunk_size, total_chunks, "
    "declared_sha256, title, description, tags_json, metadata_json, state, object_key, "
    "multipart_id, content_id, created_at, expires_at, visibility";

UploadSession ReadUploadRow(SQLite::Statement& row) {
  UploadSession u;
  u.id = row.getColumn(0).getString();
  u.owner = row.getColumn(1).getString();
  u.protocol = row.getColumn(2).getString();
  u.filename = row.getColumn(3).getString();
  u.content_type = row.getColumn(4).getString();
  u.size = static_cast<std::uint64_t>(row.getColumn(5).getInt64());
  u.chunk_size = static_cast<std::uint64_t>(row.getColumn(6).getInt64());
  u.total_chunks = static_cast<std::uint32_t>(row.getColumn(7).getInt64());
  u.declared_sha256 = row.getColumn(8).getString();
  u.title = row.getColumn(9).getString();
  u.description = row.getColumn(10).getString();
  u.tags = TagsFromJson(row.getColumn(11).getString());
  u.metadata_json = row.getColumn(12).getString();
  u.state = row.getColumn(13).getString();
  u.object_key = row.getColumn(14).getString();
  u.multipart_id = row.getColumn(15).getString();
  u.content_id = row.getColumn(16).getString();
  u.created_at = FromMs(row.getColumn(17).getInt64());
  u.expires_at = FromMs(row.getColumn(18).getInt64());
  u.visibility = row.getColumn(19).getString();
  return u;
}

bool UploadExists(Db& db, std::string_view id) {
  SQLite::Statement query(db, "SELECT 1 FROM upload_sessions WHERE id = ?");
  query.bind(1, std::string(id));
  return query.executeStep();
}

// ---- renditions and segments

constexpr std::size_t kMaxRenditionNameLength = 32;

// The name becomes a path segment of object keys and URLs: keep it to [a-z0-9_-]{1,32}.
bool IsValidRenditionName(std::string_view name) {
  if (name.empty() || name.size() > kMaxRenditionNameLength) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
  });
}

// SQLite integers are signed 64-bit: a larger unsigned value would come back negative.
bool FitsInt64(std::uint64_t value) {
  return value <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
}

bool IsNonNegative(double value) { return std::isfinite(value) && value >= 0; }

Result<> ValidateRendition(const RenditionRecord& r) {
  if (!IsValidId(r.content_id)) {
    return MakeError(ErrorCode::kInvalidArgument, "invalid content id \"{}\"", r.content_id);
  }
  if (!IsValidRenditionName(r.name)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid rendition name \"{}\": use 1 to {} of [a-z0-9_-]", r.name,
                     kMaxRenditionNameLength);
  }
  if (r.kind != "video" && r.kind != "audio") {
    return MakeError(ErrorCode::kInvalidArgument,
                     "rendition {} has kind \"{}\", expected video or audio", r.name, r.kind);
  }
  if (!FitsInt64(r.bandwidth) || r.width < 0 || r.height < 0 || !IsNonNegative(r.frame_rate) ||
      r.sample_rate < 0 || r.channels < 0 || !IsNonNegative(r.target_segment_seconds)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "rendition {} has a negative or out-of-range number (bandwidth {}, "
                     "{}x{}, {} fps, {} Hz, {} channels, {} s segments)",
                     r.name, r.bandwidth, r.width, r.height, r.frame_rate, r.sample_rate,
                     r.channels, r.target_segment_seconds);
  }
  return {};
}

Result<> ValidateSegment(const SegmentRecord& s) {
  if (!IsValidId(s.content_id)) {
    return MakeError(ErrorCode::kInvalidArgument, "invalid content id \"{}\"", s.content_id);
  }
  if (!IsValidRenditionName(s.rendition)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid rendition name \"{}\": use 1 to {} of [a-z0-9_-]", s.rendition,
                     kMaxRenditionNameLength);
  }
  if (!IsNonNegative(s.duration_seconds) || !FitsInt64(s.bytes)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "segment {} of rendition {} has a negative or out-of-range number "
                     "(duration {} s, {} bytes)",
                     s.number, s.rendition, s.duration_seconds, s.bytes);
  }
  return {};
}

constexpr std::string_view kRenditionColumns =
    "content_id, name, kind, codec, bandwidth, width, height, frame_rate, sample_rate, "
    "channels, init_key, target_segment_seconds, complete, created_at";

RenditionRecord ReadRenditionRow(SQLite::Statement& row) {
  RenditionRecord r;
  r.content_id = row.getColumn(0).getString();
  r.name = row.getColumn(1).getString();
  r.kind = row.getColumn(2).getString();
  r.codec = row.getColumn(3).getString();
  r.bandwidth = static_cast<std::uint64_t>(row.getColumn(4).getInt64());
  r.width = row.getColumn(5).getInt64();
  r.height = row.getColumn(6).getInt64();
  r.frame_rate = row.getColumn(7).getDouble();
  r.sample_rate = row.getColumn(8).getInt64();
  r.channels = row.getColumn(9).getInt64();
  r.init_key = row.getColumn(10).getString();
  r.target_segment_seconds = row.getColumn(11).getDouble();
  r.complete = row.getColumn(12).getInt64() != 0;
  r.created_at = FromMs(row.getColumn(13).getInt64());
  return r;
}

// ---- connections

std::unique_ptr<Db> OpenReader(const std::filesystem::path& path, int busy_ms) {
  auto db =
      std::make_unique<Db>(path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_NOMUTEX, busy_ms);
  // Read-write open but query_only: a read-only open cannot create the WAL index when it
  // is missing, and query_only still refuses every write through this connection.
  db->exec("PRAGMA query_only = ON");
  return db;
}

}  // namespace

struct SqliteMetadataStore::Impl {
  Options options;
  const Clock* clock = nullptr;

  std::mutex write_mutex;
  std::unique_ptr<Db> writer;

  std::mutex pool_mutex;
  std::condition_variable pool_returned;
  std::vector<std::unique_ptr<Db>> idle_readers;
  std::size_t readers_out = 0;
  bool closed = false;

  std::mutex ping_mutex;
  std::unique_ptr<Db> ping_connection;

  // A read connection for the duration of one call.
  class Lease {
   public:
    Lease(Impl* impl, std::unique_ptr<Db> db) : impl_(impl), db_(std::move(db)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
      {
        std::lock_guard lock(impl_->pool_mutex);
        impl_->idle_readers.push_back(std::move(db_));
        --impl_->readers_out;
      }
      impl_->pool_returned.notify_all();
    }
    Db& db() { return *db_; }

   private:
    Impl* impl_;
    std::unique_ptr<Db> db_;
  };

  Result<std::unique_ptr<Lease>> AcquireReader() {
    std::unique_lock lock(pool_mutex);
    pool_returned.wait(lock, [this] { return closed || !idle_readers.empty(); });
    if (closed) {
      return MakeError(ErrorCode::kUnavailable, "metadata store is closed");
    }
    auto db = std::move(idle_readers.back());
    idle_readers.pop_back();
    ++readers_out;
    return std::make_unique<Lease>(this, std::move(db));
  }

  template <class T, class F>
  Result<T> Read(std::string_view op, F&& body) {
    SG_ASSIGN_OR_RETURN(auto lease, AcquireReader());
    return Guarded(op, [&]() -> Result<T> { return body(lease->db()); });
  }

  // One short IMMEDIATE transaction, committed only when `body` succeeds.
  template <class T, class F>
  Result<T> Write(std::string_view op, F&& body) {
    std::lock_guard lock(write_mutex);
    if (!writer) {
      return MakeError(ErrorCode::kUnavailable, "metadata store is closed");
    }
    return Guarded(op, [&]() -> Result<T> {
      SQLite::Transaction transaction(*writer, SQLite::TransactionBehavior::IMMEDIATE);
      Result<T> result = body(*writer);
      if (result) {
        transaction.commit();
      }
      return result;
    });
  }
};

SqliteMetadataStore::SqliteMetadataStore(std::unique_ptr<Impl> impl, int schema_version)
    : impl_(std::move(impl)), schema_version_(schema_version) {}

SqliteMetadataStore::~SqliteMetadataStore() { Close(); }

Result<std::shared_ptr<SqliteMetadataStore>> SqliteMetadataStore::Open(const Options& options,
                                                                       const Clock& clock) {
  return Open(options, clock, Migrations());
}

Result<std::shared_ptr<SqliteMetadataStore>> SqliteMetadataStore::Open(
    const Options& options, const Clock& clock, std::span<const std::string_view> migrations) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->clock = &clock;
  const int busy_ms = static_cast<int>(options.busy_timeout.count());
  const std::string path = options.path.string();
  auto opened = Guarded("open " + path, [&]() -> Result<int> {
    impl->writer = std::make_unique<Db>(
        path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX, busy_ms);
    Db& db = *impl->writer;
    // journal_mode is stored in the file; it answers the mode actually in effect.
    std::string mode = db.execAndGet("PRAGMA journal_mode = WAL").getString();
    if (mode != "wal") {
      return MakeError(ErrorCode::kUnavailable,
                       "database {} cannot use WAL mode (journal_mode is {}); put it on a "
                       "local file system",
                       path, mode);
    }
    db.exec(options.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    db.exec("PRAGMA foreign_keys = ON");
    SG_ASSIGN_OR_RETURN(int version,
                        sqlite::Migrate(db, clock, migrations, options.path, "database"));
    for (std::size_t i = 0; i < std::max<std::size_t>(options.read_connections, 1); ++i) {
      impl->idle_readers.push_back(OpenReader(options.path, busy_ms));
    }
    impl->ping_connection = OpenReader(options.path, kPingBusyTimeoutMs);
    return version;
  });
  if (!opened) {
    return MakeError(opened.error());
  }
  return std::shared_ptr<SqliteMetadataStore>(new SqliteMetadataStore(std::move(impl), *opened));
}

void SqliteMetadataStore::Close() noexcept {
  if (!impl_) {
    return;
  }
  {
    std::unique_lock lock(impl_->pool_mutex);
    impl_->closed = true;
    impl_->pool_returned.notify_all();
    impl_->pool_returned.wait(lock, [this] { return impl_->readers_out == 0; });
    impl_->idle_readers.clear();
  }
  {
    std::lock_guard lock(impl_->ping_mutex);
    impl_->ping_connection.reset();
  }
  std::lock_guard lock(impl_->write_mutex);
  impl_->writer.reset();  // the last connection to close checkpoints the WAL
}

Result<> SqliteMetadataStore::Ping() {
  std::lock_guard lock(impl_->ping_mutex);
  if (!impl_->ping_connection) {
    return MakeError(ErrorCode::kUnavailable, "metadata store is closed");
  }
  auto result = Guarded("ping", [&]() -> Result<> {
    // Reads a real table: `SELECT 1` alone never touches the file.
    impl_->ping_connection->execAndGet("SELECT 1 FROM schema_migrations LIMIT 1");
    return {};
  });
  if (!result) {
    return MakeError(ErrorCode::kUnavailable, "{}", result.error().message);
  }
  return {};
}

// ---- contents

Result<> SqliteMetadataStore::CreateContent(const ContentRecord& content) {
  if (!IsValidId(content.id)) {
    return MakeError(ErrorCode::kInvalidArgument, "invalid content id \"{}\"", content.id);
  }
  return impl_->Write<void>("create content", [&](Db& db) -> Result<> {
    if (ContentSeq(db, content.id)) {
      return MakeError(ErrorCode::kAlreadyExists, "content {} already exists", content.id);
    }
    const WallTime now = impl_->clock->WallNow();
    const WallTime created = content.created_at == WallTime{} ? now : content.created_at;
    const WallTime updated = content.updated_at == WallTime{} ? created : content.updated_at;
    SQLite::Statement insert(
        db,
        "INSERT INTO contents (id, owner, title, description, category, visibility, status, "
        "status_reason, filename, content_type, object_key, size, sha256, probe_json, "
        "duration_seconds, width, height, created_at, updated_at, frame_rate, poster_key, "
        "access_policy) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    BindAll(insert, {content.id,           content.owner,         content.title,
                     content.description,  content.category,      content.visibility,
                     content.status,       content.status_reason, content.filename,
                     content.content_type, content.object_key,    AsInt(content.size),
                     content.sha256,       content.probe_json,    content.duration_seconds,
                     content.width,        content.height,        ToMs(created),
                     ToMs(updated),        content.frame_rate,    content.poster_key,
                     content.access_policy});
    insert.exec();
    const std::int64_t seq = db.getLastInsertRowid();
    InsertTags(db, content.id, content.tags);
    ContentRecord stored = content;
    stored.tags = LoadTags(db, content.id);
    ReplaceFtsRow(db, seq, stored);
    return {};
  });
}

Result<ContentRecord> SqliteMetadataStore::GetContent(std::string_view id) {
  return impl_->Read<ContentRecord>("get content", [&](Db& db) -> Result<ContentRecord> {
    auto record = LoadContent(db, id);
    if (!record) {
      return MakeError(ErrorCode::kNotFound, "content {} does not exist", id);
    }
    return std::move(*record);
  });
}

Result<ContentRecord> SqliteMetadataStore::UpdateContent(std::string_view id,
                                                         const ContentPatch& patch) {
  return impl_->Write<ContentRecord>("update content", [&](Db& db) -> Result<ContentRecord> {
    auto seq = ContentSeq(db, id);
    if (!seq) {
      return MakeError(ErrorCode::kNotFound, "content {} does not exist", id);
    }
    std::string sets = "updated_at = ?";
    std::vector<Param> params{ToMs(impl_->clock->WallNow())};
    auto set = [&](std::string_view column, const auto& value) {
      if (value) {
        sets += fmt::format(", {} = ?", column);
        params.emplace_back(*value);
      }
    };
    set("title", patch.title);
    set("description", patch.description);
    set("category", patch.category);
    set("visibility", patch.visibility);
    set("status", patch.status);
    set("status_reason", patch.status_reason);
    set("probe_json", patch.probe_json);
    set("duration_seconds", patch.duration_seconds);
    set("width", patch.width);
    set("height", patch.height);
    set("frame_rate", patch.frame_rate);
    set("poster_key", patch.poster_key);
    set("access_policy", patch.access_policy);
    params.emplace_back(std::string(id));
    SQLite::Statement update(db, fmt::format("UPDATE contents SET {} WHERE id = ?", sets));
    BindAll(update, params);
    update.exec();
    if (patch.tags) {
      SQLite::Statement clear(db, "DELETE FROM content_tags WHERE content_id = ?");
      clear.bind(1, std::string(id));
      clear.exec();
      InsertTags(db, std::string(id), *patch.tags);
    }
    auto record = LoadContent(db, id);
    SG_CHECK(record.has_value(), "content vanished inside its own write transaction");
    ReplaceFtsRow(db, *seq, *record);
    return std::move(*record);
  });
}

Result<> SqliteMetadataStore::DeleteContent(std::string_view id) {
  return impl_->Write<void>("delete content", [&](Db& db) -> Result<> {
    auto seq = ContentSeq(db, id);
    if (!seq) {
      return MakeError(ErrorCode::kNotFound, "content {} does not exist", id);
    }
    SQLite::Statement remove_fts(db, "DELETE FROM contents_fts WHERE rowid = ?");
    remove_fts.bind(1, *seq);
    remove_fts.exec();
    // Tags and renditions cascade; renditions take their segments with them.
    SQLite::Statement remove(db, "DELETE FROM contents WHERE seq = ?");
    remove.bind(1, *seq);
    remove.exec();
    return {};
  });
}

Result<ContentPage> SqliteMetadataStore::SearchContent(const ContentQuery& query) {
  if (query.limit < 1 || query.limit > kMaxLimit) {
    return MakeError(ErrorCode::kInvalidArgument, "limit must be 1..{}, got {}", kMaxLimit,
                     query.limit);
  }
  const std::uint64_t fingerprint = QueryFingerprint(query);
  const bool has_text = query.text.find_first_not_of(" \t\r\n\f\v") != std::string::npos;
  const std::string match = MakeFtsMatch(query.text);
  std::optional<SearchCursor> after;
  if (!query.cursor.empty()) {
    SG_ASSIGN_OR_RETURN(after, DecodeCursor(query.cursor));
    if (after->fingerprint != fingerprint || after->score.has_value() != has_text) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "invalid cursor: it belongs to a different query");
    }
  }
  if (has_text && match.empty()) {
    return ContentPage{};  // only punctuation: no word can match
  }

  std::vector<Param> params;
  std::string sql;
  if (has_text) {
    // Column weights: a word in the title counts 4x, in the tags 2x, in the description 1x.
    // bm25 is lower for better matches.
    sql = fmt::format(
        "SELECT {}, s.score FROM (SELECT rowid AS seq, bm25(contents_fts, 4.0, 1.0, 2.0) "
        "AS score FROM contents_fts WHERE contents_fts MATCH ?) s "
        "JOIN contents c ON c.seq = s.seq WHERE 1",
        kContentColumns);
    params.emplace_back(match);
  } else {
    sql = fmt::format("SELECT {} FROM contents c WHERE 1", kContentColumns);
  }
  if (!query.tag.empty()) {
    sql += " AND EXISTS (SELECT 1 FROM content_tags t WHERE t.content_id = c.id AND t.tag = ?)";
    params.emplace_back(query.tag);
  }
  if (!query.status.empty()) {
    sql += " AND c.status = ?";
    params.emplace_back(query.status);
  }
  if (!query.owner.empty()) {
    sql += " AND c.owner = ?";
    params.emplace_back(query.owner);
  }
  if (!query.visibilities.empty()) {
    sql += " AND (c.visibility IN (";
    for (std::size_t i = 0; i < query.visibilities.size(); ++i) {
      sql += i == 0 ? "?" : ", ?";
      params.emplace_back(query.visibilities[i]);
    }
    sql += ")";
    if (!query.visible_to_owner.empty()) {
      sql += " OR c.owner = ?";
      params.emplace_back(query.visible_to_owner);
    }
    sql += ")";
  }
  if (after) {
    // Keyset: strictly after the last item of the previous page in the sort order.
    std::string newer = "(c.created_at < ? OR (c.created_at = ? AND c.id < ?))";
    if (has_text) {
      sql += " AND (s.score > ? OR (s.score = ? AND " + newer + "))";
      params.emplace_back(*after->score);
      params.emplace_back(*after->score);
    } else {
      sql += " AND " + newer;
    }
    params.emplace_back(after->created_at_ms);
    params.emplace_back(after->created_at_ms);
    params.emplace_back(after->id);
  }
  sql += has_text ? " ORDER BY s.score, c.created_at DESC, c.id DESC"
                  : " ORDER BY c.created_at DESC, c.id DESC";
  sql += " LIMIT ?";
  params.emplace_back(
      static_cast<std::int64_t>(query.limit + 1));  // one more: is there a next page?

  return impl_->Read<ContentPage>("search content", [&](Db& db) -> Result<ContentPage> {
    SQLite::Statement statement(db, sql);
    BindAll(statement, params);
    ContentPage page;
    std::optional<double> last_score;
    bool more = false;
    while (statement.executeStep()) {
      if (page.items.size() == query.limit) {
        more = true;
        break;
      }
      page.items.push_back(ReadContentRow(statement));
      if (has_text) {
        last_score = statement.getColumn(kContentColumnCount).getDouble();
      }
    }
    for (auto& item : page.items) {
      item.tags = LoadTags(db, item.id);
    }
    if (more) {
      const auto& last = page.items.back();
      page.next_cursor = EncodeCursor({.fingerprint = fingerprint,
                                       .created_at_ms = ToMs(last.created_at),
                                       .id = last.id,
                                       .score = last_score});
    }
    return page;
  });
}

// ---- uploads

Result<> SqliteMetadataStore::CreateUpload(const UploadSession& upload) {
  if (upload.id.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "upload id is empty");
  }
  return impl_->Write<void>("create upload", [&](Db& db) -> Result<> {
    if (UploadExists(db, upload.id)) {
      return MakeError(ErrorCode::kAlreadyExists, "upload {} already exists", upload.id);
    }
    const WallTime created =
        upload.created_at == WallTime{} ? impl_->clock->WallNow() : upload.created_at;
    SQLite::Statement insert(db, fmt::format("INSERT INTO upload_sessions ({}) VALUES "
                                             "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                                             "?, ?, ?, ?)",
                                             kUploadColumns));
    BindAll(insert, {upload.id, upload.owner, upload.protocol, upload.filename, upload.content_type,
                     AsInt(upload.size), AsInt(upload.chunk_size),
                     static_cast<std::int64_t>(upload.total_chunks), upload.declared_sha256,
                     upload.title, upload.description, TagsJson(upload.tags), upload.metadata_json,
                     upload.state, upload.object_key, upload.multipart_id, upload.content_id,
                     ToMs(created), ToMs(upload.expires_at)});
    insert.bind(20, upload.visibility);  // the last of kUploadColumns
    insert.exec();
    return {};
  });
}

Result<UploadSession> SqliteMetadataStore::GetUpload(std::string_view id) {
  return impl_->Read<UploadSession>("get upload", [&](Db& db) -> Result<UploadSession> {
    SQLite::Statement query(
        db, fmt::format("SELECT {} FROM upload_sessions WHERE id = ?", kUploadColumns));
    query.bind(1, std::string(id));
    if (!query.executeStep()) {
      return MakeError(ErrorCode::kNotFound, "upload {} does not exist", id);
    }
    return ReadUploadRow(query);
  });
}

Result<> SqliteMetadataStore::TransitionUpload(std::string_view id, std::string_view from,
                                               std::string_view to, std::string_view content_id) {
  return impl_->Write<void>("transition upload", [&](Db& db) -> Result<> {
    // Compare-and-set: only a row still in `from` changes, so of two concurrent callers
    // exactly one sees a change.
    SQLite::Statement update(db,
                             "UPDATE upload_sessions SET state = ?1, "
                             "content_id = CASE WHEN ?2 = '' THEN content_id ELSE ?2 END "
                             "WHERE id = ?3 AND state = ?4");
    update.bind(1, std::string(to));
    update.bind(2, std::string(content_id));
    update.bind(3, std::string(id));
    update.bind(4, std::string(from));
    if (update.exec() == 1) {
      return {};
    }
    SQLite::Statement current(db, "SELECT state FROM upload_sessions WHERE id = ?");
    current.bind(1, std::string(id));
    if (!current.executeStep()) {
      return MakeError(ErrorCode::kNotFound, "upload {} does not exist", id);
    }
    return MakeError(ErrorCode::kAlreadyExists, "upload {} is {}, not {}", id,
                     current.getColumn(0).getString(), from);
  });
}

Result<ChunkPutOutcome> SqliteMetadataStore::PutChunk(std::string_view upload_id,
                                                      const StoredChunk& chunk) {
  return impl_->Write<ChunkPutOutcome>("put chunk", [&](Db& db) -> Result<ChunkPutOutcome> {
    if (!UploadExists(db, upload_id)) {
      return MakeError(ErrorCode::kNotFound, "upload {} does not exist", upload_id);
    }
    SQLite::Statement insert(
        db,
        "INSERT INTO upload_chunks (upload_id, idx, size, sha256, etag) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (upload_id, idx) DO NOTHING");
    BindAll(insert, {std::string(upload_id), static_cast<std::int64_t>(chunk.index),
                     AsInt(chunk.size), chunk.sha256, chunk.etag});
    if (insert.exec() == 1) {
      return ChunkPutOutcome::kStored;
    }
    SQLite::Statement existing(db,
                               "SELECT sha256 FROM upload_chunks WHERE upload_id = ? AND idx = ?");
    existing.bind(1, std::string(upload_id));
    existing.bind(2, static_cast<std::int64_t>(chunk.index));
    SG_CHECK(existing.executeStep(), "a conflicting chunk row must exist");
    if (existing.getColumn(0).getString() == chunk.sha256) {
      return ChunkPutOutcome::kIdenticalAlreadyStored;
    }
    return MakeError(ErrorCode::kAlreadyExists,
                     "chunk {} of upload {} is already stored with a different sha256", chunk.index,
                     upload_id);
  });
}

Result<> SqliteMetadataStore::DeleteChunks(std::string_view upload_id,
                                           const std::vector<std::uint32_t>& indices) {
  return impl_->Write<void>("delete chunks", [&](Db& db) -> Result<> {
    SQLite::Statement remove(db, "DELETE FROM upload_chunks WHERE upload_id = ? AND idx = ?");
    for (std::uint32_t index : indices) {
      remove.reset();
      remove.bind(1, std::string(upload_id));
      remove.bind(2, static_cast<std::int64_t>(index));
      remove.exec();
    }
    return {};
  });
}

Result<std::vector<StoredChunk>> SqliteMetadataStore::ListChunks(std::string_view upload_id) {
  return impl_->Read<std::vector<StoredChunk>>(
      "list chunks", [&](Db& db) -> Result<std::vector<StoredChunk>> {
        SQLite::Statement query(db,
                                "SELECT idx, size, sha256, etag FROM upload_chunks "
                                "WHERE upload_id = ? ORDER BY idx");
        query.bind(1, std::string(upload_id));
        std::vector<StoredChunk> chunks;
        while (query.executeStep()) {
          chunks.push_back({.index = static_cast<std::uint32_t>(query.getColumn(0).getInt64()),
                            .size = static_cast<std::uint64_t>(query.getColumn(1).getInt64()),
                            .sha256 = query.getColumn(2).getString(),
                            .etag = query.getColumn(3).getString()});
        }
        return chunks;
      });
}

Result<std::vector<UploadSession>> SqliteMetadataStore::ListExpiredUploads(WallTime now,
                                                                           std::size_t limit) {
  return impl_->Read<std::vector<UploadSession>>(
      "list expired uploads", [&](Db& db) -> Result<std::vector<UploadSession>> {
        SQLite::Statement query(
            db, fmt::format("SELECT {} FROM upload_sessions WHERE state <> 'completed' AND "
                            "expires_at < ? ORDER BY expires_at, id LIMIT ?",
                            kUploadColumns));
        query.bind(1, ToMs(now));
        query.bind(2, static_cast<std::int64_t>(limit));
        std::vector<UploadSession> uploads;
        while (query.executeStep()) {
          uploads.push_back(ReadUploadRow(query));
        }
        return uploads;
      });
}

Result<> SqliteMetadataStore::DeleteUpload(std::string_view id) {
  return impl_->Write<void>("delete upload", [&](Db& db) -> Result<> {
    SQLite::Statement remove(db, "DELETE FROM upload_sessions WHERE id = ?");  // chunks cascade
    remove.bind(1, std::string(id));
    remove.exec();
    return {};
  });
}

Result<std::uint64_t> SqliteMetadataStore::CountOpenUploads(std::string_view owner) {
  return impl_->Read<std::uint64_t>("count open uploads", [&](Db& db) -> Result<std::uint64_t> {
    SQLite::Statement query(db,
                            "SELECT COUNT(*) FROM upload_sessions WHERE owner = ? AND "
                            "state NOT IN ('completed', 'failed')");
    query.bind(1, std::string(owner));
    query.executeStep();
    return static_cast<std::uint64_t>(query.getColumn(0).getInt64());
  });
}

Result<std::uint64_t> SqliteMetadataStore::StorageUsed(std::string_view owner) {
  return impl_->Read<std::uint64_t>("storage used", [&](Db& db) -> Result<std::uint64_t> {
    SQLite::Statement query(
        db,
        "SELECT (SELECT COALESCE(SUM(size), 0) FROM contents WHERE owner = ?1) + "
        "(SELECT COALESCE(SUM(size), 0) FROM upload_sessions WHERE owner = ?1 AND "
        "state NOT IN ('completed', 'failed'))");
    query.bind(1, std::string(owner));
    query.executeStep();
    return static_cast<std::uint64_t>(query.getColumn(0).getInt64());
  });
}

// ---- renditions and segments

Result<> SqliteMetadataStore::PutRendition(const RenditionRecord& rendition) {
  SG_RETURN_IF_ERROR(ValidateRendition(rendition));
  return impl_->Write<void>("put rendition", [&](Db& db) -> Result<> {
    if (!ContentSeq(db, rendition.content_id)) {
      return MakeError(ErrorCode::kNotFound, "content {} does not exist", rendition.content_id);
    }
    const bool created_unset = rendition.created_at == WallTime{};
    const WallTime created = created_unset ? impl_->clock->WallNow() : rendition.created_at;
    // An upsert, not INSERT OR REPLACE: REPLACE deletes the old row first, and the cascade
    // would take every segment recorded so far with it.
    SQLite::Statement upsert(
        db,
        fmt::format("INSERT INTO renditions ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (content_id, name) DO UPDATE SET kind = excluded.kind, "
                    "codec = excluded.codec, bandwidth = excluded.bandwidth, "
                    "width = excluded.width, height = excluded.height, "
                    "frame_rate = excluded.frame_rate, sample_rate = excluded.sample_rate, "
                    "channels = excluded.channels, init_key = excluded.init_key, "
                    "target_segment_seconds = excluded.target_segment_seconds, "
                    "complete = excluded.complete, created_at = {}",
                    kRenditionColumns,
                    created_unset ? "renditions.created_at" : "excluded.created_at"));
    BindAll(upsert, {rendition.content_id, rendition.name, rendition.kind, rendition.codec,
                     AsInt(rendition.bandwidth), rendition.width, rendition.height,
                     rendition.frame_rate, rendition.sample_rate, rendition.channels,
                     rendition.init_key, rendition.target_segment_seconds,
                     static_cast<std::int64_t>(rendition.complete ? 1 : 0), ToMs(created)});
    upsert.exec();
    return {};
  });
}

Result<> SqliteMetadataStore::PutSegment(const SegmentRecord& segment) {
  SG_RETURN_IF_ERROR(ValidateSegment(segment));
  return impl_->Write<void>("put segment", [&](Db& db) -> Result<> {
    SQLite::Statement exists(db, "SELECT 1 FROM renditions WHERE content_id = ? AND name = ?");
    exists.bind(1, segment.content_id);
    exists.bind(2, segment.rendition);
    if (!exists.executeStep()) {
      return MakeError(ErrorCode::kNotFound, "rendition {} of content {} does not exist",
                       segment.rendition, segment.content_id);
    }
    const WallTime created =
        segment.created_at == WallTime{} ? impl_->clock->WallNow() : segment.created_at;
    SQLite::Statement upsert(
        db,
        "INSERT INTO segments (content_id, rendition, number, duration_seconds, bytes, "
        "object_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (content_id, rendition, number) DO UPDATE SET "
        "duration_seconds = excluded.duration_seconds, bytes = excluded.bytes, "
        "object_key = excluded.object_key, created_at = excluded.created_at");
    BindAll(upsert,
            {segment.content_id, segment.rendition, static_cast<std::int64_t>(segment.number),
             segment.duration_seconds, AsInt(segment.bytes), segment.object_key, ToMs(created)});
    upsert.exec();
    return {};
  });
}

Result<std::vector<RenditionRecord>> SqliteMetadataStore::ListRenditions(
    std::string_view content_id) {
  return impl_->Read<std::vector<RenditionRecord>>(
      "list renditions", [&](Db& db) -> Result<std::vector<RenditionRecord>> {
        // Video first by height (the ladder bottom-up), then audio; bandwidth and name make
        // the order total.
        SQLite::Statement query(db, fmt::format("SELECT {} FROM renditions WHERE content_id = ? "
                                                "ORDER BY kind = 'audio', height, bandwidth, name",
                                                kRenditionColumns));
        query.bind(1, std::string(content_id));
        std::vector<RenditionRecord> renditions;
        while (query.executeStep()) {
          renditions.push_back(ReadRenditionRow(query));
        }
        return renditions;
      });
}

Result<std::vector<SegmentRecord>> SqliteMetadataStore::ListSegments(std::string_view content_id,
                                                                     std::string_view rendition) {
  return impl_->Read<std::vector<SegmentRecord>>(
      "list segments", [&](Db& db) -> Result<std::vector<SegmentRecord>> {
        // One range scan of the primary key, already in number order (no sort step).
        SQLite::Statement query(db,
                                "SELECT number, duration_seconds, bytes, object_key, created_at "
                                "FROM segments WHERE content_id = ? AND rendition = ? "
                                "ORDER BY number");
        query.bind(1, std::string(content_id));
        query.bind(2, std::string(rendition));
        std::vector<SegmentRecord> segments;
        while (query.executeStep()) {
          segments.push_back({.content_id = std::string(content_id),
                              .rendition = std::string(rendition),
                              .number = static_cast<std::uint32_t>(query.getColumn(0).getInt64()),
                              .duration_seconds = query.getColumn(1).getDouble(),
                              .bytes = static_cast<std::uint64_t>(query.getColumn(2).getInt64()),
                              .object_key = query.getColumn(3).getString(),
                              .created_at = FromMs(query.getColumn(4).getInt64())});
        }
        return segments;
      });
}

Result<> SqliteMetadataStore::DeleteMedia(std::string_view content_id) {
  return impl_->Write<void>("delete media", [&](Db& db) -> Result<> {
    // The cascade would remove the segments too; deleting them first by their key prefix
    // does not depend on it.
    SQLite::Statement segments(db, "DELETE FROM segments WHERE content_id = ?");
    segments.bind(1, std::string(content_id));
    segments.exec();
    SQLite::Statement renditions(db, "DELETE FROM renditions WHERE content_id = ?");
    renditions.bind(1, std::string(content_id));
    renditions.exec();
    return {};
  });
}

// ---- playback statistics

namespace {

constexpr std::size_t kMaxViewerKeyLength = 128;

Result<> ValidateDelta(const ViewDelta& delta) {
  if (!IsValidId(delta.content_id)) {
    return MakeError(ErrorCode::kInvalidArgument, "invalid content id \"{}\"", delta.content_id);
  }
  if (!FitsInt64(delta.views) || !FitsInt64(delta.bytes)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "view delta of content {} is out of range ({} views, {} bytes)",
                     delta.content_id, delta.views, delta.bytes);
  }
  for (const auto& viewer : delta.new_viewers) {
    if (viewer.empty() || viewer.size() > kMaxViewerKeyLength) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "viewer key of content {} must have 1 to {} characters, not {}",
                       delta.content_id, kMaxViewerKeyLength, viewer.size());
    }
  }
  return {};
}

}  // namespace

Result<> SqliteMetadataStore::RecordViews(const std::vector<ViewDelta>& deltas) {
  for (const auto& delta : deltas) {
    SG_RETURN_IF_ERROR(ValidateDelta(delta));
  }
  if (deltas.empty()) {
    return {};
  }
  return impl_->Write<void>("record views", [&](Db& db) -> Result<> {
    const std::int64_t now = ToMs(impl_->clock->WallNow());
    SQLite::Statement viewer(db,
                             "INSERT OR IGNORE INTO content_viewers (content_id, viewer_hash, "
                             "first_seen_at) VALUES (?, ?, ?)");
    SQLite::Statement upsert(
        db,
        "INSERT INTO content_stats (content_id, views, unique_viewers, bytes_served, "
        "updated_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (content_id) DO UPDATE SET "
        "views = views + excluded.views, unique_viewers = unique_viewers + "
        "excluded.unique_viewers, bytes_served = bytes_served + excluded.bytes_served, "
        "updated_at = excluded.updated_at");
    for (const auto& delta : deltas) {
      if (!ContentSeq(db, delta.content_id)) {
        continue;  // deleted since the views were counted
      }
      std::int64_t inserted = 0;
      for (const auto& key : delta.new_viewers) {
        viewer.reset();
        BindAll(viewer, {delta.content_id, key, now});
        inserted += viewer.exec();
      }
      if (delta.views == 0 && delta.bytes == 0 && inserted == 0) {
        continue;
      }
      upsert.reset();
      BindAll(upsert, {delta.content_id, AsInt(delta.views), inserted, AsInt(delta.bytes), now});
      upsert.exec();
    }
    return {};
  });
}

Result<ContentStats> SqliteMetadataStore::GetStats(std::string_view content_id) {
  return impl_->Read<ContentStats>("get stats", [&](Db& db) -> Result<ContentStats> {
    // One query tells an unknown content (no row) from one never viewed (NULL counters).
    SQLite::Statement query(db,
                            "SELECT s.views, s.unique_viewers, s.bytes_served FROM contents c "
                            "LEFT JOIN content_stats s ON s.content_id = c.id WHERE c.id = ?");
    query.bind(1, std::string(content_id));
    if (!query.executeStep()) {
      return MakeError(ErrorCode::kNotFound, "content {} does not exist", content_id);
    }
    ContentStats stats{.content_id = std::string(content_id)};
    if (!query.getColumn(0).isNull()) {
      stats.views = static_cast<std::uint64_t>(query.getColumn(0).getInt64());
      stats.unique_viewers = static_cast<std::uint64_t>(query.getColumn(1).getInt64());
      stats.bytes_served = static_cast<std::uint64_t>(query.getColumn(2).getInt64());
    }
    return stats;
  });
}

}  // namespace sg::plugins::metadata
