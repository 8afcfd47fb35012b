#include "plugins/metadata/migrations.h"

#include <array>

namespace sg::plugins::metadata {
namespace {

// Version 1: contents with tags and full-text search, upload sessions and their chunks.
// Times are integer milliseconds since the Unix epoch (UTC).
constexpr std::string_view kV1 = R"sql(
CREATE TABLE contents (
  seq INTEGER PRIMARY KEY,  -- rowid alias, joins the FTS table
  id TEXT NOT NULL UNIQUE,
  owner TEXT NOT NULL,
  title TEXT NOT NULL DEFAULT '',
  description TEXT NOT NULL DEFAULT '',
  category TEXT NOT NULL DEFAULT '',
  visibility TEXT NOT NULL CHECK (visibility IN ('public', 'unlisted', 'private')),
  status TEXT NOT NULL CHECK (status IN ('uploaded', 'processing', 'ready', 'failed')),
  status_reason TEXT NOT NULL DEFAULT '',
  filename TEXT NOT NULL DEFAULT '',
  content_type TEXT NOT NULL DEFAULT '',
  object_key TEXT NOT NULL DEFAULT '',
  size INTEGER NOT NULL DEFAULT 0,
  sha256 TEXT NOT NULL DEFAULT '',
  probe_json TEXT NOT NULL DEFAULT '',
  duration_seconds REAL NOT NULL DEFAULT 0,
  width INTEGER NOT NULL DEFAULT 0,
  height INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX contents_newest ON contents (created_at DESC, id DESC);
CREATE INDEX contents_owner ON contents (owner);
CREATE INDEX contents_status ON contents (status);

CREATE TABLE content_tags (
  content_id TEXT NOT NULL REFERENCES contents (id) ON DELETE CASCADE,
  tag TEXT NOT NULL,
  position INTEGER NOT NULL,  -- keeps the order the tags were given in
  PRIMARY KEY (content_id, tag)
) WITHOUT ROWID;
CREATE INDEX content_tags_tag ON content_tags (tag);

-- Full-text index, rowid = contents.seq. Kept in sync by the store in the same
-- transaction as every change of contents or content_tags (tags live in another table,
-- so triggers on contents alone could not see them).
CREATE VIRTUAL TABLE contents_fts USING fts5 (title, description, tags);

CREATE TABLE upload_sessions (
  id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  protocol TEXT NOT NULL,
  filename TEXT NOT NULL DEFAULT '',
  content_type TEXT NOT NULL DEFAULT '',
  size INTEGER NOT NULL,
  chunk_size INTEGER NOT NULL,
  total_chunks INTEGER NOT NULL,
  declared_sha256 TEXT NOT NULL DEFAULT '',
  title TEXT NOT NULL DEFAULT '',
  description TEXT NOT NULL DEFAULT '',
  tags_json TEXT NOT NULL DEFAULT '[]',
  metadata_json TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL,
  object_key TEXT NOT NULL DEFAULT '',
  multipart_id TEXT NOT NULL DEFAULT '',
  content_id TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX upload_sessions_owner_state ON upload_sessions (owner, state);
CREATE INDEX upload_sessions_expiry ON upload_sessions (expires_at);

CREATE TABLE upload_chunks (
  upload_id TEXT NOT NULL REFERENCES upload_sessions (id) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  etag TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (upload_id, idx)
) WITHOUT ROWID;
)sql";

// Version 2: transcoded media. The source's frame rate and the poster on contents;
// renditions (one CMAF track each) and their segments, recorded one by one while the
// transcode runs. Deleting a content deletes its renditions, which delete their segments
// (foreign_keys is on for every connection that writes). Both tables are clustered on
// their primary key (WITHOUT ROWID), so one rendition's segments are a single range scan
// already in segment order.
constexpr std::string_view kV2 = R"sql(
ALTER TABLE contents ADD COLUMN frame_rate REAL NOT NULL DEFAULT 0 CHECK (frame_rate >= 0);
ALTER TABLE contents ADD COLUMN poster_key TEXT NOT NULL DEFAULT '';

CREATE TABLE renditions (
  content_id TEXT NOT NULL REFERENCES contents (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('video', 'audio')),
  codec TEXT NOT NULL DEFAULT '',
  bandwidth INTEGER NOT NULL DEFAULT 0 CHECK (bandwidth >= 0),
  width INTEGER NOT NULL DEFAULT 0 CHECK (width >= 0),
  height INTEGER NOT NULL DEFAULT 0 CHECK (height >= 0),
  frame_rate REAL NOT NULL DEFAULT 0 CHECK (frame_rate >= 0),
  sample_rate INTEGER NOT NULL DEFAULT 0 CHECK (sample_rate >= 0),
  channels INTEGER NOT NULL DEFAULT 0 CHECK (channels >= 0),
  init_key TEXT NOT NULL DEFAULT '',
  target_segment_seconds REAL NOT NULL DEFAULT 0 CHECK (target_segment_seconds >= 0),
  complete INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (content_id, name)
) WITHOUT ROWID;

CREATE TABLE segments (
  content_id TEXT NOT NULL,
  rendition TEXT NOT NULL,
  number INTEGER NOT NULL CHECK (number >= 0),
  duration_seconds REAL NOT NULL DEFAULT 0 CHECK (duration_seconds >= 0),
  bytes INTEGER NOT NULL DEFAULT 0 CHECK (bytes >= 0),
  object_key TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  PRIMARY KEY (content_id, rendition, number),
  FOREIGN KEY (content_id, rendition) REFERENCES renditions (content_id, name)
    ON DELETE CASCADE
) WITHOUT ROWID;
)sql";

// Version 3: playback statistics. One counter row per viewed content, and the distinct
// viewer keys (keyed hashes from the streaming plugin, never an address) per content so
// that unique_viewers is exact: a key is inserted or ignored and the counter grows only on
// an insert. Both go with their content (cascade).
constexpr std::string_view kV3 = R"sql(
CREATE TABLE content_stats (
  content_id TEXT PRIMARY KEY REFERENCES contents (id) ON DELETE CASCADE,
  views INTEGER NOT NULL DEFAULT 0 CHECK (views >= 0),
  unique_viewers INTEGER NOT NULL DEFAULT 0 CHECK (unique_viewers >= 0),
  bytes_served INTEGER NOT NULL DEFAULT 0 CHECK (bytes_served >= 0),
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE content_viewers (
  content_id TEXT NOT NULL REFERENCES contents (id) ON DELETE CASCADE,
  viewer_hash TEXT NOT NULL,
  first_seen_at INTEGER NOT NULL,
  PRIMARY KEY (content_id, viewer_hash)
) WITHOUT ROWID;
)sql";

// Version 4: access policies (issue 6). The policy is JSON text validated by the access
// plugin before it is stored; '' = none (visibility alone decides).
constexpr std::string_view kV4 = R"sql(
ALTER TABLE contents ADD COLUMN access_policy TEXT NOT NULL DEFAULT '';
)sql";

// Version 5: the visibility an upload asks for, given to the content its completion
// creates (so a private upload is never public, not even for a moment). Sessions opened
// before this version had none: they become public, as their contents always did.
constexpr std::string_view kV5 = R"sql(
ALTER TABLE upload_sessions ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public'
  CHECK (visibility IN ('public', 'unlisted', 'private'));
)sql";

constexpr std::array<std::string_view, 5> kMigrations{kV1, kV2, kV3, kV4, kV5};

}  // namespace

std::span<const std::string_view> Migrations() { return kMigrations; }

}  // namespace sg::plugins::metadata
