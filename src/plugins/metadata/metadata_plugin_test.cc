#include <gtest/gtest.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "core/api/services/metadata_store.h"
#include "core/testing/fake_clock.h"
#include "core/testing/temp_dir.h"
#include "core/testing/test_context.h"
#include "plugins/metadata/metadata_config.h"
#include "plugins/metadata/metadata_plugin_internal.h"
#include "plugins/metadata/migrations.h"
#include "plugins/metadata/sqlite_metadata_store.h"

namespace sg::plugins::metadata {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

using sg::testing::TempDir;

WallTime FromMsForTest(std::int64_t ms) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(milliseconds(ms)));
}

ContentRecord MakeContent(std::string title, std::string description = "",
                          std::vector<std::string> tags = {}) {
  ContentRecord c;
  c.id = NewId();
  c.owner = "alice";
  c.title = std::move(title);
  c.description = std::move(description);
  c.tags = std::move(tags);
  c.filename = "clip.mp4";
  c.content_type = "video/mp4";
  c.object_key = "content/" + c.id + "/source";
  c.size = 1000;
  c.sha256 = std::string(64, 'a');
  return c;
}

UploadSession MakeUpload(std::string owner = "alice") {
  UploadSession u;
  u.id = NewId();
  u.owner = std::move(owner);
  u.filename = "big.mp4";
  u.content_type = "video/mp4";
  u.size = 10'000'000;
  u.chunk_size = 4'000'000;
  u.total_chunks = 3;
  u.tags = {"b", "a"};
  return u;
}

class MetadataStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  SqliteMetadataStore::Options Options() const {
    return {.path = dir_.path() / "streamgate.db", .busy_timeout = milliseconds(5000)};
  }

  void Reopen() {
    store_.reset();
    auto opened = SqliteMetadataStore::Open(Options(), clock_);
    ASSERT_TRUE(opened) << opened.error().ToString();
    store_ = *opened;
  }

  ContentRecord Create(ContentRecord content) {
    auto created = store_->CreateContent(content);
    EXPECT_TRUE(created) << created.error().ToString();
    clock_.Advance(milliseconds(10));  // distinct created_at for ordering
    return content;
  }

  std::vector<std::string> SearchIds(ContentQuery query) {
    auto page = store_->SearchContent(query);
    EXPECT_TRUE(page) << page.error().ToString();
    std::vector<std::string> ids;
    if (page) {
      for (const auto& item : page->items) {
        ids.push_back(item.id);
      }
    }
    return ids;
  }

  TempDir dir_;
  sg::testing::FakeClock clock_;
  std::shared_ptr<SqliteMetadataStore> store_;
};

// ---- migrations

TEST_F(MetadataStoreTest, MigratesAnEmptyFileToTheLatestVersion) {
  EXPECT_EQ(store_->schema_version(), static_cast<int>(Migrations().size()));
  SQLite::Database raw((dir_.path() / "streamgate.db").string());
  EXPECT_EQ(raw.execAndGet("SELECT COUNT(*) FROM schema_migrations").getInt(),
            static_cast<int>(Migrations().size()));
  EXPECT_EQ(raw.execAndGet("PRAGMA journal_mode").getString(), "wal");
  // FTS5 is compiled into the system SQLite: the migration created the virtual table.
  EXPECT_EQ(
      raw.execAndGet("SELECT COUNT(*) FROM sqlite_master WHERE name = 'contents_fts'").getInt(), 1);
}

TEST_F(MetadataStoreTest, ReopeningAppliesNothingTwice) {
  Reopen();
  Reopen();
  SQLite::Database raw((dir_.path() / "streamgate.db").string());
  EXPECT_EQ(raw.execAndGet("SELECT COUNT(*) FROM schema_migrations").getInt(),
            static_cast<int>(Migrations().size()));
}

TEST_F(MetadataStoreTest, AppliesOnlyThePendingMigrationsInOrder) {
  store_.reset();
  std::vector<std::string_view> more(Migrations().begin(), Migrations().end());
  more.push_back("CREATE TABLE extra (x INTEGER); INSERT INTO extra VALUES (42);");
  auto opened = SqliteMetadataStore::Open(Options(), clock_, more);
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_EQ((*opened)->schema_version(), static_cast<int>(more.size()));
  opened->reset();
  SQLite::Database raw((dir_.path() / "streamgate.db").string());
  EXPECT_EQ(raw.execAndGet("SELECT x FROM extra").getInt(), 42);
}

TEST_F(MetadataStoreTest, RefusesADatabaseWrittenByANewerBinary) {
  store_.reset();
  std::vector<std::string_view> newer(Migrations().begin(), Migrations().end());
  newer.push_back("CREATE TABLE extra (x INTEGER);");
  ASSERT_TRUE(SqliteMetadataStore::Open(Options(), clock_, newer));
  auto opened = SqliteMetadataStore::Open(Options(), clock_);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(opened.error().message.find(fmt::format("schema version {}", newer.size())),
            std::string::npos)
      << opened.error().message;
}

TEST_F(MetadataStoreTest, AFailingMigrationChangesNothing) {
  store_.reset();
  std::vector<std::string_view> broken(Migrations().begin(), Migrations().end());
  broken.push_back("CREATE TABLE half (x INTEGER); THIS IS NOT SQL;");
  ASSERT_FALSE(SqliteMetadataStore::Open(Options(), clock_, broken));
  Reopen();
  EXPECT_EQ(store_->schema_version(), static_cast<int>(Migrations().size()));
  SQLite::Database raw((dir_.path() / "streamgate.db").string());
  EXPECT_EQ(raw.execAndGet("SELECT COUNT(*) FROM sqlite_master WHERE name = 'half'").getInt(), 0);
}

TEST_F(MetadataStoreTest, AFileThatIsNotADatabaseIsAClearError) {
  auto path = dir_.path() / "junk.db";
  std::ofstream(path) << std::string(8192, 'x');
  auto options = Options();
  options.path = path;
  auto opened = SqliteMetadataStore::Open(options, clock_);
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().message.find("junk.db"), std::string::npos) << opened.error().message;
}

TEST_F(MetadataStoreTest, DataSurvivesReopeningTheFile) {
  auto content = Create(MakeContent("kept", "across restarts", {"x"}));
  auto upload = MakeUpload();
  ASSERT_TRUE(store_->CreateUpload(upload));
  ASSERT_TRUE(store_->PutChunk(upload.id, {.index = 0, .size = 4, .sha256 = "aa", .etag = "e"}));
  Reopen();
  auto got = store_->GetContent(content.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->title, "kept");
  EXPECT_EQ(SearchIds({.text = "restarts"}), std::vector<std::string>{content.id});
  auto chunks = store_->ListChunks(upload.id);
  ASSERT_TRUE(chunks);
  EXPECT_EQ(chunks->size(), 1u);
}

TEST_F(MetadataStoreTest, CallsAfterCloseAreUnavailable) {
  store_->Close();
  auto got = store_->GetContent(NewId());
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kUnavailable);
  auto created = store_->CreateContent(MakeContent("late"));
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, ErrorCode::kUnavailable);
  EXPECT_FALSE(store_->Ping());
}

// ---- contents

TEST_F(MetadataStoreTest, CreatedContentReadsBackWithEveryField) {
  ContentRecord c = MakeContent("Sunset", "over the sea", {"beach", "sea"});
  c.category = "travel";
  c.visibility = "unlisted";
  c.status = "ready";
  c.status_reason = "";
  c.probe_json = R"({"format":"mp4"})";
  c.duration_seconds = 12.5;
  c.width = 1920;
  c.height = 1080;
  c.created_at = clock_.WallNow() - milliseconds(5000);
  c.updated_at = clock_.WallNow();
  ASSERT_TRUE(store_->CreateContent(c));
  auto got = store_->GetContent(c.id);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->id, c.id);
  EXPECT_EQ(got->owner, c.owner);
  EXPECT_EQ(got->title, c.title);
  EXPECT_EQ(got->description, c.description);
  EXPECT_EQ(got->tags, c.tags);
  EXPECT_EQ(got->category, "travel");
  EXPECT_EQ(got->visibility, "unlisted");
  EXPECT_EQ(got->status, "ready");
  EXPECT_EQ(got->filename, c.filename);
  EXPECT_EQ(got->content_type, c.content_type);
  EXPECT_EQ(got->object_key, c.object_key);
  EXPECT_EQ(got->size, c.size);
  EXPECT_EQ(got->sha256, c.sha256);
  EXPECT_EQ(got->probe_json, c.probe_json);
  EXPECT_EQ(got->duration_seconds, 12.5);
  EXPECT_EQ(got->width, 1920);
  EXPECT_EQ(got->height, 1080);
  EXPECT_EQ(got->created_at, c.created_at);
  EXPECT_EQ(got->updated_at, c.updated_at);
}

TEST_F(MetadataStoreTest, UnsetTimesBecomeNow) {
  auto c = Create(MakeContent("t"));
  auto got = store_->GetContent(c.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->created_at, clock_.WallNow() - milliseconds(10));
  EXPECT_EQ(got->updated_at, got->created_at);
}

TEST_F(MetadataStoreTest, DuplicateIdIsAlreadyExists) {
  auto c = Create(MakeContent("one"));
  auto again = store_->CreateContent(c);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
}

TEST_F(MetadataStoreTest, InvalidIdOrVisibilityIsInvalidArgument) {
  auto c = MakeContent("bad");
  c.id = "../etc/passwd";
  auto created = store_->CreateContent(c);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, ErrorCode::kInvalidArgument);
  c = MakeContent("bad");
  c.visibility = "secret";
  created = store_->CreateContent(c);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(MetadataStoreTest, UnknownContentIsNotFound) {
  auto id = NewId();
  EXPECT_EQ(store_->GetContent(id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->UpdateContent(id, {.title = "x"}).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->DeleteContent(id).error().code, ErrorCode::kNotFound);
}

TEST_F(MetadataStoreTest, UpdateChangesOnlyPatchedFieldsAndBumpsUpdatedAt) {
  auto c = Create(MakeContent("old title", "old description", {"a"}));
  clock_.Advance(milliseconds(1000));
  auto updated = store_->UpdateContent(
      c.id, {.title = "new title", .tags = std::vector<std::string>{"b", "c"}, .width = 640});
  ASSERT_TRUE(updated) << updated.error().ToString();
  EXPECT_EQ(updated->title, "new title");
  EXPECT_EQ(updated->description, "old description");
  EXPECT_EQ(updated->tags, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(updated->width, 640);
  EXPECT_EQ(updated->updated_at, clock_.WallNow());
  EXPECT_LT(updated->created_at, updated->updated_at);
  auto got = store_->GetContent(c.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->title, "new title");
  EXPECT_EQ(got->tags, updated->tags);
}

TEST_F(MetadataStoreTest, UpdateWithBadStatusChangesNothing) {
  auto c = Create(MakeContent("t"));
  auto updated = store_->UpdateContent(c.id, {.title = "changed", .status = "exploded"});
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->GetContent(c.id)->title, "t");
}

TEST_F(MetadataStoreTest, TagsKeepTheGivenOrderAndRepeatsAreStoredOnce) {
  auto c = Create(MakeContent("t", "", {"zebra", "apple", "mango", "apple"}));
  auto got = store_->GetContent(c.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->tags, (std::vector<std::string>{"zebra", "apple", "mango"}));
}

TEST_F(MetadataStoreTest, DeleteRemovesTheRecordItsTagsAndItsSearchEntry) {
  auto c = Create(MakeContent("ephemeral", "", {"gone"}));
  ASSERT_TRUE(store_->DeleteContent(c.id));
  EXPECT_EQ(store_->GetContent(c.id).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(SearchIds({.text = "ephemeral"}).empty());
  EXPECT_TRUE(SearchIds({.tag = "gone"}).empty());
  SQLite::Database raw((dir_.path() / "streamgate.db").string());
  EXPECT_EQ(raw.execAndGet("SELECT COUNT(*) FROM content_tags").getInt(), 0);
  EXPECT_EQ(raw.execAndGet("SELECT COUNT(*) FROM contents_fts").getInt(), 0);
}

// ---- search

TEST_F(MetadataStoreTest, ATitleMatchOutranksADescriptionMatch) {
  auto in_description = Create(MakeContent("holiday", "a long walk at sunset on the beach"));
  auto in_title = Create(MakeContent("sunset", "a long walk on the beach"));
  EXPECT_EQ(SearchIds({.text = "sunset"}),
            (std::vector<std::string>{in_title.id, in_description.id}));
}

TEST_F(MetadataStoreTest, SearchCoversTagsAndFollowsUpdates) {
  auto c = Create(MakeContent("plain", "", {"kittens"}));
  EXPECT_EQ(SearchIds({.text = "kittens"}), std::vector<std::string>{c.id});
  ASSERT_TRUE(store_->UpdateContent(c.id, {.title = "renamed"}));
  EXPECT_TRUE(SearchIds({.text = "plain"}).empty());
  EXPECT_EQ(SearchIds({.text = "renamed"}), std::vector<std::string>{c.id});
  EXPECT_EQ(SearchIds({.text = "kittens"}), std::vector<std::string>{c.id});
}

TEST_F(MetadataStoreTest, WordsAreAndedAndMatchWholeTokensOnly) {
  auto both = Create(MakeContent("red car"));
  Create(MakeContent("red bike"));
  Create(MakeContent("videos"));
  EXPECT_EQ(SearchIds({.text = "car red"}), std::vector<std::string>{both.id});
  EXPECT_TRUE(SearchIds({.text = "video"}).empty());  // no prefix matching
  EXPECT_TRUE(SearchIds({.text = "vid*"}).empty());   // `*` is not a prefix operator
  EXPECT_EQ(SearchIds({.text = "RED CAR"}), std::vector<std::string>{both.id});
}

TEST_F(MetadataStoreTest, SpecialCharactersInQueriesNeverError) {
  auto c = Create(MakeContent("a b x near", "title: stuff"));
  for (std::string text : {"a\"b",
                           "NEAR(",
                           "*",
                           "-x",
                           "\"",
                           "(",
                           ")",
                           "^x",
                           "a*",
                           "title:x",
                           "AND",
                           "OR NOT",
                           "NEAR(a b, 2)",
                           "{title description}: x",
                           "x AND",
                           "'",
                           "--",
                           ";DROP TABLE contents;",
                           "\\",
                           "%",
                           "\xff\xfe",
                           "a\0b"}) {
    auto page = store_->SearchContent({.text = text});
    EXPECT_TRUE(page) << "query [" << text << "]: " << page.error().ToString();
  }
  EXPECT_EQ(SearchIds({.text = "a\"b"}), std::vector<std::string>{c.id});  // phrase "a b"
  EXPECT_EQ(SearchIds({.text = "-x"}), std::vector<std::string>{c.id});
  EXPECT_TRUE(SearchIds({.text = "*"}).empty());
}

TEST_F(MetadataStoreTest, WithoutTextNewestComesFirst) {
  auto first = Create(MakeContent("1"));
  auto second = Create(MakeContent("2"));
  auto third = Create(MakeContent("3"));
  EXPECT_EQ(SearchIds({}), (std::vector<std::string>{third.id, second.id, first.id}));
  EXPECT_EQ(SearchIds({.text = "   "}), (std::vector<std::string>{third.id, second.id, first.id}));
}

TEST_F(MetadataStoreTest, EqualScoresAreOrderedNewestFirst) {
  auto older = Create(MakeContent("same words"));
  auto newer = Create(MakeContent("same words"));
  EXPECT_EQ(SearchIds({.text = "same"}), (std::vector<std::string>{newer.id, older.id}));
}

TEST_F(MetadataStoreTest, FiltersByTagStatusOwnerAndVisibility) {
  auto a = MakeContent("a", "", {"cats"});
  a.visibility = "public";
  a.status = "ready";
  auto b = MakeContent("b", "", {"dogs"});
  b.visibility = "private";
  b.status = "ready";
  b.owner = "bob";
  auto c = MakeContent("c", "", {"cats", "dogs"});
  c.visibility = "unlisted";
  c.status = "processing";
  Create(a);
  Create(b);
  Create(c);
  EXPECT_EQ(SearchIds({.tag = "cats"}), (std::vector<std::string>{c.id, a.id}));
  EXPECT_EQ(SearchIds({.status = "ready"}), (std::vector<std::string>{b.id, a.id}));
  EXPECT_EQ(SearchIds({.owner = "bob"}), std::vector<std::string>{b.id});
  EXPECT_EQ(SearchIds({.visibilities = {"public"}}), std::vector<std::string>{a.id});
  EXPECT_EQ(SearchIds({.visibilities = {"public", "unlisted"}}),
            (std::vector<std::string>{c.id, a.id}));
  EXPECT_EQ(SearchIds({.tag = "dogs", .status = "processing"}), std::vector<std::string>{c.id});
  EXPECT_EQ(SearchIds({.text = "b", .visibilities = {"public"}}), std::vector<std::string>{});
}

void PageThroughAll(SqliteMetadataStore& store, ContentQuery query,
                    const std::set<std::string>& expected) {
  std::vector<std::string> seen;
  std::vector<std::size_t> sizes;
  for (int guard = 0; guard < 10; ++guard) {
    auto page = store.SearchContent(query);
    ASSERT_TRUE(page) << page.error().ToString();
    sizes.push_back(page->items.size());
    for (const auto& item : page->items) {
      seen.push_back(item.id);
    }
    if (page->next_cursor.empty()) {
      break;
    }
    query.cursor = page->next_cursor;
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{20, 20, 5}));
  EXPECT_EQ(seen.size(), expected.size());
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), expected);
}

TEST_F(MetadataStoreTest, PagingReturnsEachItemExactlyOnce) {
  std::set<std::string> ids;
  for (int i = 0; i < 45; ++i) {
    auto c = MakeContent(fmt::format("item {}", i), i % 3 == 0 ? "match match" : "match");
    ASSERT_TRUE(store_->CreateContent(c));
    ids.insert(c.id);
    if (i % 2 == 0) {
      clock_.Advance(milliseconds(1));  // pairs share created_at: ties break by id
    }
  }
  PageThroughAll(*store_, {.limit = 20}, ids);
  PageThroughAll(*store_, {.text = "match", .limit = 20}, ids);
}

TEST_F(MetadataStoreTest, BadCursorsAndLimitsAreInvalidArgument) {
  for (int i = 0; i < 3; ++i) {
    Create(MakeContent("x"));
  }
  auto first = store_->SearchContent({.limit = 1});
  ASSERT_TRUE(first);
  ASSERT_FALSE(first->next_cursor.empty());
  std::vector<ContentQuery> bad{
      {.limit = 0},
      {.limit = 101},
      {.cursor = "not a cursor"},
      {.cursor = "Zm9vfGJhcg"},                        // base64 of "foo|bar"
      {.tag = "other", .cursor = first->next_cursor},  // another query's cursor
      {.text = "x", .cursor = first->next_cursor},     // text search needs a scored cursor
  };
  for (const auto& query : bad) {
    auto page = store_->SearchContent(query);
    ASSERT_FALSE(page) << query.cursor;
    EXPECT_EQ(page.error().code, ErrorCode::kInvalidArgument) << page.error().ToString();
  }
  EXPECT_TRUE(store_->SearchContent({.limit = 100}));
}

// ---- uploads

TEST_F(MetadataStoreTest, UploadReadsBackWithEveryField) {
  auto u = MakeUpload();
  u.protocol = "tus";
  u.declared_sha256 = std::string(64, 'b');
  u.title = "T";
  u.description = "D";
  u.metadata_json = R"({"filename":"big.mp4"})";
  u.visibility = "unlisted";
  u.object_key = "uploads/" + u.id;
  u.multipart_id = "mp-1";
  u.created_at = clock_.WallNow();
  u.expires_at = clock_.WallNow() + std::chrono::hours(24);
  ASSERT_TRUE(store_->CreateUpload(u));
  auto got = store_->GetUpload(u.id);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->owner, u.owner);
  EXPECT_EQ(got->protocol, "tus");
  EXPECT_EQ(got->filename, u.filename);
  EXPECT_EQ(got->content_type, u.content_type);
  EXPECT_EQ(got->size, u.size);
  EXPECT_EQ(got->chunk_size, u.chunk_size);
  EXPECT_EQ(got->total_chunks, 3u);
  EXPECT_EQ(got->declared_sha256, u.declared_sha256);
  EXPECT_EQ(got->title, "T");
  EXPECT_EQ(got->description, "D");
  EXPECT_EQ(got->tags, u.tags);
  EXPECT_EQ(got->metadata_json, u.metadata_json);
  EXPECT_EQ(got->visibility, "unlisted");
  EXPECT_EQ(got->state, "open");
  EXPECT_EQ(got->object_key, u.object_key);
  EXPECT_EQ(got->multipart_id, "mp-1");
  EXPECT_EQ(got->created_at, u.created_at);
  EXPECT_EQ(got->expires_at, u.expires_at);
  EXPECT_EQ(store_->CreateUpload(u).error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(store_->GetUpload(NewId()).error().code, ErrorCode::kNotFound);
}

TEST_F(MetadataStoreTest, UploadVisibilityDefaultsToPublicAndOnlyKnownValuesAreStored) {
  auto plain = MakeUpload();
  ASSERT_TRUE(store_->CreateUpload(plain));
  EXPECT_EQ(store_->GetUpload(plain.id)->visibility, "public");
  for (std::string visibility : {"public", "unlisted", "private"}) {
    auto u = MakeUpload();
    u.visibility = visibility;
    ASSERT_TRUE(store_->CreateUpload(u)) << visibility;
    EXPECT_EQ(store_->GetUpload(u.id)->visibility, visibility);
  }
  for (std::string bad : {"secret", "", "Private"}) {
    auto u = MakeUpload();
    u.visibility = bad;
    auto created = store_->CreateUpload(u);
    ASSERT_FALSE(created) << "\"" << bad << "\" was stored";
    EXPECT_EQ(created.error().code, ErrorCode::kInvalidArgument) << bad;
    EXPECT_EQ(store_->GetUpload(u.id).error().code, ErrorCode::kNotFound) << bad;
  }
}

TEST_F(MetadataStoreTest, PutChunkDetectsIdenticalAndConflictingRepeats) {
  auto u = MakeUpload();
  ASSERT_TRUE(store_->CreateUpload(u));
  StoredChunk chunk{.index = 1, .size = 4'000'000, .sha256 = "11", .etag = "e1"};
  EXPECT_EQ(store_->PutChunk(u.id, chunk).value(), ChunkPutOutcome::kStored);
  EXPECT_EQ(store_->PutChunk(u.id, chunk).value(), ChunkPutOutcome::kIdenticalAlreadyStored);
  chunk.sha256 = "22";
  auto conflict = store_->PutChunk(u.id, chunk);
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(store_->ListChunks(u.id)->at(0).sha256, "11");  // the first one stays
  EXPECT_EQ(store_->PutChunk(NewId(), chunk).error().code, ErrorCode::kNotFound);
}

TEST_F(MetadataStoreTest, ChunksListSortedAndCanBeForgotten) {
  auto u = MakeUpload();
  ASSERT_TRUE(store_->CreateUpload(u));
  for (std::uint32_t index : {2u, 0u, 1u}) {
    ASSERT_TRUE(store_->PutChunk(u.id, {.index = index, .size = 1, .sha256 = "s"}));
  }
  auto chunks = store_->ListChunks(u.id);
  ASSERT_TRUE(chunks);
  ASSERT_EQ(chunks->size(), 3u);
  EXPECT_EQ((*chunks)[0].index, 0u);
  EXPECT_EQ((*chunks)[2].index, 2u);
  ASSERT_TRUE(store_->DeleteChunks(u.id, {1, 7}));
  chunks = store_->ListChunks(u.id);
  ASSERT_EQ(chunks->size(), 2u);
  EXPECT_EQ((*chunks)[1].index, 2u);
}

TEST_F(MetadataStoreTest, DeleteUploadRemovesItsChunksAndIsIdempotent) {
  auto u = MakeUpload();
  ASSERT_TRUE(store_->CreateUpload(u));
  ASSERT_TRUE(store_->PutChunk(u.id, {.index = 0, .size = 1, .sha256 = "s"}));
  ASSERT_TRUE(store_->DeleteUpload(u.id));
  ASSERT_TRUE(store_->DeleteUpload(u.id));
  EXPECT_EQ(store_->GetUpload(u.id).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(store_->ListChunks(u.id)->empty());
}

TEST_F(MetadataStoreTest, TransitionIsACompareAndSet) {
  auto u = MakeUpload();
  ASSERT_TRUE(store_->CreateUpload(u));
  auto wrong = store_->TransitionUpload(u.id, "completing", "completed");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, ErrorCode::kAlreadyExists);
  EXPECT_NE(wrong.error().message.find("is open"), std::string::npos) << wrong.error().message;
  ASSERT_TRUE(store_->TransitionUpload(u.id, "open", "completing"));
  auto content_id = NewId();
  ASSERT_TRUE(store_->TransitionUpload(u.id, "completing", "completed", content_id));
  auto got = store_->GetUpload(u.id);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->state, "completed");
  EXPECT_EQ(got->content_id, content_id);
  EXPECT_EQ(store_->TransitionUpload(NewId(), "open", "failed").error().code, ErrorCode::kNotFound);
}

TEST_F(MetadataStoreTest, OfTwoConcurrentTransitionsExactlyOneWins) {
  for (int round = 0; round < 20; ++round) {
    auto u = MakeUpload();
    ASSERT_TRUE(store_->CreateUpload(u));
    std::atomic<int> wins{0};
    std::atomic<int> conflicts{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&] {
        auto result = store_->TransitionUpload(u.id, "open", "completing");
        if (result) {
          ++wins;
        } else if (result.error().code == ErrorCode::kAlreadyExists) {
          ++conflicts;
        }
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
    EXPECT_EQ(wins.load(), 1);
    EXPECT_EQ(conflicts.load(), 1);
  }
}

TEST_F(MetadataStoreTest, ExpiredUploadsAreThoseNotCompletedPastTheirExpiry) {
  const WallTime now = clock_.WallNow();
  auto expired_open = MakeUpload();
  expired_open.expires_at = now - milliseconds(2);
  auto expired_failed = MakeUpload();
  expired_failed.expires_at = now - milliseconds(1);
  auto expired_completed = MakeUpload();
  expired_completed.expires_at = now - milliseconds(3);
  auto fresh = MakeUpload();
  fresh.expires_at = now + milliseconds(1);
  for (const auto& u : {expired_open, expired_failed, expired_completed, fresh}) {
    ASSERT_TRUE(store_->CreateUpload(u));
  }
  ASSERT_TRUE(store_->TransitionUpload(expired_failed.id, "open", "failed"));
  ASSERT_TRUE(store_->TransitionUpload(expired_completed.id, "open", "completed"));
  auto expired = store_->ListExpiredUploads(now, 10);
  ASSERT_TRUE(expired);
  std::vector<std::string> ids;
  for (const auto& u : *expired) {
    ids.push_back(u.id);
  }
  EXPECT_EQ(ids, (std::vector<std::string>{expired_open.id, expired_failed.id}));
  EXPECT_EQ(store_->ListExpiredUploads(now, 1)->size(), 1u);
}

TEST_F(MetadataStoreTest, OpenUploadsAndStorageUsedCountOnlyTheOwnersLiveData) {
  auto content = MakeContent("mine");
  content.size = 500;
  Create(content);
  auto other_content = MakeContent("theirs");
  other_content.owner = "bob";
  Create(other_content);
  auto open = MakeUpload();
  open.size = 100;
  auto completing = MakeUpload();
  completing.size = 20;
  auto failed = MakeUpload();
  failed.size = 7000;
  auto completed = MakeUpload();
  completed.size = 9000;
  auto bobs = MakeUpload("bob");
  for (const auto& u : {open, completing, failed, completed, bobs}) {
    ASSERT_TRUE(store_->CreateUpload(u));
  }
  ASSERT_TRUE(store_->TransitionUpload(completing.id, "open", "completing"));
  ASSERT_TRUE(store_->TransitionUpload(failed.id, "open", "failed"));
  ASSERT_TRUE(store_->TransitionUpload(completed.id, "open", "completed"));
  EXPECT_EQ(store_->CountOpenUploads("alice").value(), 2u);
  EXPECT_EQ(store_->CountOpenUploads("nobody").value(), 0u);
  EXPECT_EQ(store_->StorageUsed("alice").value(), 500u + 100u + 20u);
  EXPECT_EQ(store_->StorageUsed("nobody").value(), 0u);
}

TEST_F(MetadataStoreTest, ConcurrentReadersAndWritersDoNotFail) {
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        auto c = MakeContent(fmt::format("thread {} item {}", t, i));
        if (!store_->CreateContent(c)) {
          ++failures;
        }
        if (!store_->GetContent(c.id) || !store_->SearchContent({.text = "item"})) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store_->SearchContent({.text = "item", .limit = 100})->items.size(), 100u);
}

// ---- schema v2: frame rate and poster on contents

TEST_F(MetadataStoreTest, FrameRateAndPosterReadBackAndCanBePatched) {
  ContentRecord c = MakeContent("clip");
  c.frame_rate = 29.97;
  ASSERT_TRUE(store_->CreateContent(c));
  auto got = store_->GetContent(c.id);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_DOUBLE_EQ(got->frame_rate, 29.97);
  EXPECT_EQ(got->poster_key, "");
  auto updated =
      store_->UpdateContent(c.id, {.frame_rate = 25.0, .poster_key = "media/x/poster.jpg"});
  ASSERT_TRUE(updated) << updated.error().ToString();
  EXPECT_DOUBLE_EQ(updated->frame_rate, 25.0);
  EXPECT_EQ(updated->poster_key, "media/x/poster.jpg");
  EXPECT_EQ(updated->title, "clip");
  // Found by search too: the score column comes after every content column.
  auto page = store_->SearchContent({.text = "clip"});
  ASSERT_TRUE(page) << page.error().ToString();
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].poster_key, "media/x/poster.jpg");
}

// ---- schema v4: access policies

TEST_F(MetadataStoreTest, AccessPolicyIsStoredPatchedClearedAndFoundBySearch) {
  ContentRecord c = MakeContent("gated clip");
  c.access_policy = R"({"public":true})";
  ASSERT_TRUE(store_->CreateContent(c));
  EXPECT_EQ(store_->GetContent(c.id)->access_policy, R"({"public":true})");
  const std::string gated =
      R"({"any":[{"chain":"eip155:1","standard":"erc721","contract":"0x00000000000000000000000000000000000000aa","min_balance":"1"}]})";
  auto updated = store_->UpdateContent(c.id, {.access_policy = gated});
  ASSERT_TRUE(updated) << updated.error().ToString();
  EXPECT_EQ(updated->access_policy, gated);
  EXPECT_EQ(updated->title, "gated clip") << "a policy patch changes nothing else";
  auto page = store_->SearchContent({.text = "gated"});
  ASSERT_TRUE(page) << page.error().ToString();
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].access_policy, gated);
  ASSERT_TRUE(store_->UpdateContent(c.id, {.access_policy = std::string()}));
  EXPECT_EQ(store_->GetContent(c.id)->access_policy, "");
}

TEST_F(MetadataStoreTest, NegativeFrameRateIsInvalidArgument) {
  ContentRecord c = MakeContent("clip");
  c.frame_rate = -1;
  auto created = store_->CreateContent(c);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, ErrorCode::kInvalidArgument);
  auto ok = Create(MakeContent("clip"));
  auto updated = store_->UpdateContent(ok.id, {.frame_rate = -30.0});
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(MetadataStoreTest, AVersion1DatabaseUpgradesAndKeepsItsRows) {
  store_.reset();
  auto options = Options();
  options.path = dir_.path() / "v1.db";
  {
    auto v1 = SqliteMetadataStore::Open(options, clock_, Migrations().first(1));
    ASSERT_TRUE(v1) << v1.error().ToString();
    EXPECT_EQ((*v1)->schema_version(), 1);
  }
  const std::string id = NewId();
  {
    // Rows as the version-1 binary wrote them (its INSERT has no v2 columns).
    SQLite::Database raw(options.path.string(), SQLite::OPEN_READWRITE);
    raw.exec(fmt::format(
        "INSERT INTO contents (id, owner, title, visibility, status, size, duration_seconds, "
        "width, height, created_at, updated_at) VALUES ('{}', 'alice', 'old clip', 'public', "
        "'ready', 1234, 60.5, 1920, 1080, 1000, 2000)",
        id));
    raw.exec(fmt::format(
        "INSERT INTO content_tags (content_id, tag, position) VALUES ('{}', 'old', 0)", id));
    raw.exec(
        "INSERT INTO contents_fts (rowid, title, description, tags) "
        "VALUES (1, 'old clip', '', 'old')");
  }
  auto opened = SqliteMetadataStore::Open(options, clock_);
  ASSERT_TRUE(opened) << opened.error().ToString();
  auto& store = *opened;
  EXPECT_EQ(store->schema_version(), static_cast<int>(Migrations().size()));
  auto got = store->GetContent(id);
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_EQ(got->title, "old clip");
  EXPECT_EQ(got->tags, std::vector<std::string>{"old"});
  EXPECT_EQ(got->size, 1234u);
  EXPECT_EQ(got->duration_seconds, 60.5);
  EXPECT_EQ(got->height, 1080);
  EXPECT_EQ(got->frame_rate, 0);
  EXPECT_EQ(got->poster_key, "");
  EXPECT_EQ(got->created_at, FromMsForTest(1000));
  EXPECT_EQ(store->SearchContent({.text = "old"})->items.size(), 1u);
  // The upgraded file takes media for the old content, and deleting it cascades.
  ASSERT_TRUE(store->PutRendition({.content_id = id, .name = "360p", .height = 360}));
  ASSERT_TRUE(store->PutSegment({.content_id = id, .rendition = "360p", .number = 0}));
  ASSERT_TRUE(store->DeleteContent(id));
  store.reset();
  SQLite::Database raw(options.path.string());
  EXPECT_EQ(raw.execAndGet("SELECT COUNT(*) FROM renditions").getInt(), 0);
  EXPECT_EQ(raw.execAndGet("SELECT COUNT(*) FROM segments").getInt(), 0);
}

// ---- renditions and segments

TEST_F(MetadataStoreTest, RenditionReadsBackWithEveryField) {
  auto c = Create(MakeContent("clip"));
  RenditionRecord r{.content_id = c.id,
                    .name = "720p",
                    .kind = "video",
                    .codec = "avc1.64001f",
                    .bandwidth = 2'000'000,
                    .width = 1280,
                    .height = 720,
                    .frame_rate = 29.97,
                    .sample_rate = 0,
                    .channels = 0,
                    .init_key = "media/" + c.id + "/720p/init.mp4",
                    .target_segment_seconds = 4,
                    .complete = true,
                    .created_at = clock_.WallNow() - milliseconds(500)};
  ASSERT_TRUE(store_->PutRendition(r));
  RenditionRecord audio{.content_id = c.id,
                        .name = "audio",
                        .kind = "audio",
                        .codec = "mp4a.40.2",
                        .bandwidth = 128'000,
                        .sample_rate = 48'000,
                        .channels = 2};
  ASSERT_TRUE(store_->PutRendition(audio));
  auto list = store_->ListRenditions(c.id);
  ASSERT_TRUE(list) << list.error().ToString();
  ASSERT_EQ(list->size(), 2u);
  const auto& got = (*list)[0];
  EXPECT_EQ(got.content_id, c.id);
  EXPECT_EQ(got.name, "720p");
  EXPECT_EQ(got.kind, "video");
  EXPECT_EQ(got.codec, "avc1.64001f");
  EXPECT_EQ(got.bandwidth, 2'000'000u);
  EXPECT_EQ(got.width, 1280);
  EXPECT_EQ(got.height, 720);
  EXPECT_DOUBLE_EQ(got.frame_rate, 29.97);
  EXPECT_EQ(got.init_key, r.init_key);
  EXPECT_EQ(got.target_segment_seconds, 4);
  EXPECT_TRUE(got.complete);
  EXPECT_EQ(got.created_at, r.created_at);
  const auto& got_audio = (*list)[1];
  EXPECT_EQ(got_audio.kind, "audio");
  EXPECT_EQ(got_audio.codec, "mp4a.40.2");
  EXPECT_EQ(got_audio.sample_rate, 48'000);
  EXPECT_EQ(got_audio.channels, 2);
  EXPECT_FALSE(got_audio.complete);
  EXPECT_EQ(got_audio.created_at, clock_.WallNow());  // unset = now
}

TEST_F(MetadataStoreTest, PuttingARenditionAgainReplacesItButKeepsItsSegments) {
  auto c = Create(MakeContent("clip"));
  ASSERT_TRUE(store_->PutRendition(
      {.content_id = c.id, .name = "360p", .codec = "avc1.42c01e", .height = 360}));
  const WallTime first = clock_.WallNow();
  ASSERT_TRUE(store_->PutSegment({.content_id = c.id, .rendition = "360p", .number = 0}));
  clock_.Advance(milliseconds(1000));
  ASSERT_TRUE(store_->PutRendition({.content_id = c.id,
                                    .name = "360p",
                                    .codec = "avc1.64001e",
                                    .bandwidth = 500'000,
                                    .height = 360,
                                    .complete = true}));
  auto list = store_->ListRenditions(c.id);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].codec, "avc1.64001e");
  EXPECT_EQ((*list)[0].bandwidth, 500'000u);
  EXPECT_TRUE((*list)[0].complete);
  EXPECT_EQ((*list)[0].created_at, first);  // first recorded, not the replacement time
  EXPECT_EQ(store_->ListSegments(c.id, "360p")->size(), 1u);
}

TEST_F(MetadataStoreTest, RenditionOfAnUnknownContentIsNotFound) {
  auto put = store_->PutRendition({.content_id = NewId(), .name = "360p"});
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, ErrorCode::kNotFound);
}

TEST_F(MetadataStoreTest, InvalidRenditionsAreInvalidArgumentAndStoreNothing) {
  auto c = Create(MakeContent("clip"));
  const RenditionRecord good{.content_id = c.id, .name = "360p", .height = 360};
  std::vector<std::pair<std::string, RenditionRecord>> cases;
  auto with = [&](std::string label, auto change) {
    RenditionRecord r = good;
    change(r);
    cases.emplace_back(std::move(label), r);
  };
  with("bad content id", [](auto& r) { r.content_id = "../x"; });
  with("empty name", [](auto& r) { r.name = ""; });
  with("upper-case name", [](auto& r) { r.name = "360P"; });
  with("slash in name", [](auto& r) { r.name = "a/b"; });
  with("dot name", [](auto& r) { r.name = ".."; });
  with("33-character name", [](auto& r) { r.name = std::string(33, 'a'); });
  with("kind", [](auto& r) { r.kind = "subtitles"; });
  with("width", [](auto& r) { r.width = -1; });
  with("height", [](auto& r) { r.height = -360; });
  with("frame rate", [](auto& r) { r.frame_rate = -30; });
  with("nan frame rate", [](auto& r) { r.frame_rate = std::nan(""); });
  with("sample rate", [](auto& r) { r.sample_rate = -1; });
  with("channels", [](auto& r) { r.channels = -2; });
  with("segment length", [](auto& r) { r.target_segment_seconds = -4; });
  with("bandwidth beyond int64", [](auto& r) { r.bandwidth = ~std::uint64_t{0}; });
  for (const auto& [label, rendition] : cases) {
    SCOPED_TRACE(label);
    auto put = store_->PutRendition(rendition);
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_TRUE(store_->ListRenditions(c.id)->empty());
  // The limits themselves are accepted.
  RenditionRecord edge = good;
  edge.name = "a_b-" + std::string(28, '9');
  EXPECT_TRUE(store_->PutRendition(edge));
}

TEST_F(MetadataStoreTest, RenditionsListVideoByHeightThenAudio) {
  auto c = Create(MakeContent("clip"));
  auto other = Create(MakeContent("other"));
  for (auto [name, kind, height] :
       std::vector<std::tuple<std::string, std::string, std::int64_t>>{{"audio", "audio", 0},
                                                                       {"1080p", "video", 1080},
                                                                       {"360p", "video", 360},
                                                                       {"720p", "video", 720},
                                                                       {"480p", "video", 480}}) {
    ASSERT_TRUE(
        store_->PutRendition({.content_id = c.id, .name = name, .kind = kind, .height = height}));
  }
  ASSERT_TRUE(store_->PutRendition({.content_id = other.id, .name = "240p", .height = 240}));
  auto list = store_->ListRenditions(c.id);
  ASSERT_TRUE(list) << list.error().ToString();
  std::vector<std::string> names;
  for (const auto& r : *list) {
    names.push_back(r.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"360p", "480p", "720p", "1080p", "audio"}));
}

TEST_F(MetadataStoreTest, ListsOfAnUnknownContentOrRenditionAreEmpty) {
  auto c = Create(MakeContent("clip"));
  ASSERT_TRUE(store_->PutRendition({.content_id = c.id, .name = "360p"}));
  ASSERT_TRUE(store_->PutSegment({.content_id = c.id, .rendition = "360p", .number = 0}));
  EXPECT_TRUE(store_->ListRenditions(NewId())->empty());
  EXPECT_TRUE(store_->ListSegments(NewId(), "360p")->empty());
  EXPECT_TRUE(store_->ListSegments(c.id, "720p")->empty());
}

TEST_F(MetadataStoreTest, SegmentReadsBackAndPuttingItAgainReplacesIt) {
  auto c = Create(MakeContent("clip"));
  ASSERT_TRUE(store_->PutRendition({.content_id = c.id, .name = "480p", .height = 480}));
  const std::string key = "media/" + c.id + "/480p/segment_0.m4s";
  ASSERT_TRUE(store_->PutSegment({.content_id = c.id,
                                  .rendition = "480p",
                                  .number = 0,
                                  .duration_seconds = 4.004,
                                  .bytes = 123'456,
                                  .object_key = key}));
  const WallTime first = clock_.WallNow();
  auto list = store_->ListSegments(c.id, "480p");
  ASSERT_TRUE(list) << list.error().ToString();
  ASSERT_EQ(list->size(), 1u);
  const auto& got = (*list)[0];
  EXPECT_EQ(got.content_id, c.id);
  EXPECT_EQ(got.rendition, "480p");
  EXPECT_EQ(got.number, 0u);
  EXPECT_DOUBLE_EQ(got.duration_seconds, 4.004);
  EXPECT_EQ(got.bytes, 123'456u);
  EXPECT_EQ(got.object_key, key);
  EXPECT_EQ(got.created_at, first);

  // A re-run job records the same segment again: one row, the new values.
  clock_.Advance(milliseconds(2000));
  ASSERT_TRUE(store_->PutSegment({.content_id = c.id,
                                  .rendition = "480p",
                                  .number = 0,
                                  .duration_seconds = 3.5,
                                  .bytes = 99,
                                  .object_key = key}));
  list = store_->ListSegments(c.id, "480p");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_DOUBLE_EQ((*list)[0].duration_seconds, 3.5);
  EXPECT_EQ((*list)[0].bytes, 99u);
  EXPECT_EQ((*list)[0].created_at, clock_.WallNow());
}

TEST_F(MetadataStoreTest, SegmentOfAnUnknownRenditionIsNotFound) {
  auto c = Create(MakeContent("clip"));
  ASSERT_TRUE(store_->PutRendition({.content_id = c.id, .name = "360p"}));
  auto put = store_->PutSegment({.content_id = c.id, .rendition = "720p", .number = 0});
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, ErrorCode::kNotFound);
  EXPECT_NE(put.error().message.find("720p"), std::string::npos) << put.error().message;
  put = store_->PutSegment({.content_id = NewId(), .rendition = "360p", .number = 0});
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, ErrorCode::kNotFound);
}

TEST_F(MetadataStoreTest, InvalidSegmentsAreInvalidArgumentAndStoreNothing) {
  auto c = Create(MakeContent("clip"));
  ASSERT_TRUE(store_->PutRendition({.content_id = c.id, .name = "360p"}));
  const SegmentRecord good{.content_id = c.id, .rendition = "360p", .number = 0};
  std::vector<std::pair<std::string, SegmentRecord>> cases;
  auto with = [&](std::string label, auto change) {
    SegmentRecord s = good;
    change(s);
    cases.emplace_back(std::move(label), s);
  };
  with("bad content id", [](auto& s) { s.content_id = "NOT-AN-ID"; });
  with("bad rendition", [](auto& s) { s.rendition = "360p/../x"; });
  with("negative duration", [](auto& s) { s.duration_seconds = -0.5; });
  with("infinite duration", [](auto& s) { s.duration_seconds = HUGE_VAL; });
  with("bytes beyond int64", [](auto& s) { s.bytes = ~std::uint64_t{0}; });
  for (const auto& [label, segment] : cases) {
    SCOPED_TRACE(label);
    auto put = store_->PutSegment(segment);
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_TRUE(store_->ListSegments(c.id, "360p")->empty());
}

TEST_F(MetadataStoreTest, SegmentsListByNumberForOneRenditionOnly) {
  auto c = Create(MakeContent("clip"));
  ASSERT_TRUE(store_->PutRendition({.content_id = c.id, .name = "360p"}));
  ASSERT_TRUE(store_->PutRendition({.content_id = c.id, .name = "720p"}));
  // Recorded out of order (ffmpeg finishes rungs at different times); numbers above 9
  // must sort numerically, not as text.
  for (std::uint32_t number : {2u, 10u, 0u, 1u, 9u}) {
    ASSERT_TRUE(store_->PutSegment({.content_id = c.id, .rendition = "360p", .number = number}));
  }
  ASSERT_TRUE(store_->PutSegment({.content_id = c.id, .rendition = "720p", .number = 5}));
  auto list = store_->ListSegments(c.id, "360p");
  ASSERT_TRUE(list) << list.error().ToString();
  std::vector<std::uint32_t> numbers;
  for (const auto& s : *list) {
    numbers.push_back(s.number);
    EXPECT_EQ(s.rendition, "360p");
  }
  EXPECT_EQ(numbers, (std::vector<std::uint32_t>{0, 1, 2, 9, 10}));
}

TEST_F(MetadataStoreTest, ATwoHourRenditionListsWithOneIndexedQueryInOrder) {
  auto c = Create(MakeContent("feature film"));
  ASSERT_TRUE(store_->PutRendition({.content_id = c.id, .name = "1080p", .height = 1080}));
  ASSERT_TRUE(store_->PutRendition({.content_id = c.id, .name = "360p", .height = 360}));
  constexpr std::uint32_t kSegments = 1800;  // 2 h of 4 s segments
  for (std::uint32_t n = 0; n < kSegments; ++n) {
    // Interleaved with another rung, as the transcode records them.
    for (const char* rung : {"360p", "1080p"}) {
      ASSERT_TRUE(store_->PutSegment({.content_id = c.id,
                                      .rendition = rung,
                                      .number = kSegments - 1 - n,
                                      .duration_seconds = 4,
                                      .bytes = 1'000'000,
                                      .object_key = fmt::format("k/{}", n)}));
    }
  }
  auto list = store_->ListSegments(c.id, "1080p");
  ASSERT_TRUE(list) << list.error().ToString();
  ASSERT_EQ(list->size(), kSegments);
  for (std::uint32_t n = 0; n < kSegments; ++n) {
    ASSERT_EQ((*list)[n].number, n);
  }
  // The query the store runs is a search of the primary key with no sort step.
  SQLite::Database raw((dir_.path() / "streamgate.db").string());
  SQLite::Statement plan(raw,
                         "EXPLAIN QUERY PLAN SELECT number, duration_seconds, bytes, object_key, "
                         "created_at FROM segments WHERE content_id = ? AND rendition = ? "
                         "ORDER BY number");
  std::string details;
  while (plan.executeStep()) {
    details += plan.getColumn(3).getString() + "\n";
  }
  EXPECT_NE(details.find("USING PRIMARY KEY (content_id=? AND rendition=?)"), std::string::npos)
      << details;
  EXPECT_EQ(details.find("TEMP B-TREE"), std::string::npos) << details;
  EXPECT_EQ(details.find("SCAN"), std::string::npos) << details;
}

TEST_F(MetadataStoreTest, DeleteMediaForgetsOneContentsMediaAndIsIdempotent) {
  auto c = Create(MakeContent("clip"));
  auto other = Create(MakeContent("other"));
  for (const auto& id : {c.id, other.id}) {
    ASSERT_TRUE(store_->PutRendition({.content_id = id, .name = "360p"}));
    ASSERT_TRUE(store_->PutRendition({.content_id = id, .name = "audio", .kind = "audio"}));
    ASSERT_TRUE(store_->PutSegment({.content_id = id, .rendition = "360p", .number = 0}));
    ASSERT_TRUE(store_->PutSegment({.content_id = id, .rendition = "audio", .number = 0}));
  }
  ASSERT_TRUE(store_->DeleteMedia(c.id));
  EXPECT_TRUE(store_->ListRenditions(c.id)->empty());
  EXPECT_TRUE(store_->ListSegments(c.id, "360p")->empty());
  EXPECT_TRUE(store_->ListSegments(c.id, "audio")->empty());
  EXPECT_TRUE(store_->GetContent(c.id));  // the content itself stays
  EXPECT_EQ(store_->ListRenditions(other.id)->size(), 2u);
  EXPECT_EQ(store_->ListSegments(other.id, "audio")->size(), 1u);
  EXPECT_TRUE(store_->DeleteMedia(c.id));
  EXPECT_TRUE(store_->DeleteMedia(NewId()));
  // A transcode starting over records afresh.
  ASSERT_TRUE(store_->PutRendition({.content_id = c.id, .name = "360p"}));
  EXPECT_TRUE(store_->PutSegment({.content_id = c.id, .rendition = "360p", .number = 0}));
}

TEST_F(MetadataStoreTest, DeleteContentRemovesItsRenditionsAndSegments) {
  auto c = Create(MakeContent("clip"));
  auto other = Create(MakeContent("other"));
  for (const auto& id : {c.id, other.id}) {
    ASSERT_TRUE(store_->PutRendition({.content_id = id, .name = "360p"}));
    ASSERT_TRUE(store_->PutSegment({.content_id = id, .rendition = "360p", .number = 0}));
    ASSERT_TRUE(store_->PutSegment({.content_id = id, .rendition = "360p", .number = 1}));
  }
  ASSERT_TRUE(store_->DeleteContent(c.id));
  EXPECT_TRUE(store_->ListRenditions(c.id)->empty());
  EXPECT_TRUE(store_->ListSegments(c.id, "360p")->empty());
  SQLite::Database raw((dir_.path() / "streamgate.db").string());
  EXPECT_EQ(raw.execAndGet("SELECT COUNT(*) FROM renditions").getInt(), 1);
  EXPECT_EQ(raw.execAndGet("SELECT COUNT(*) FROM segments").getInt(), 2);
  // A content created again under the same id starts with no media.
  ContentRecord again = MakeContent("clip");
  again.id = c.id;
  ASSERT_TRUE(store_->CreateContent(again));
  EXPECT_TRUE(store_->ListRenditions(c.id)->empty());
}

TEST_F(MetadataStoreTest, MediaSurvivesReopeningTheFile) {
  auto c = Create(MakeContent("clip"));
  ASSERT_TRUE(store_->PutRendition({.content_id = c.id, .name = "360p", .complete = true}));
  ASSERT_TRUE(store_->PutSegment({.content_id = c.id, .rendition = "360p", .number = 0}));
  Reopen();
  auto list = store_->ListRenditions(c.id);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_TRUE((*list)[0].complete);
  EXPECT_EQ(store_->ListSegments(c.id, "360p")->size(), 1u);
}

// ---- plugin

// ---- playback statistics

TEST_F(MetadataStoreTest, StatsOfANeverViewedContentAreZeroAndOfAnUnknownOneNotFound) {
  auto c = Create(MakeContent("clip"));
  auto stats = store_->GetStats(c.id);
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->content_id, c.id);
  EXPECT_EQ(stats->views, 0u);
  EXPECT_EQ(stats->unique_viewers, 0u);
  EXPECT_EQ(stats->bytes_served, 0u);
  auto unknown = store_->GetStats(NewId());
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
}

TEST_F(MetadataStoreTest, RecordedViewsAddUpAndEachViewerCountsOnce) {
  auto c = Create(MakeContent("clip"));
  auto other = Create(MakeContent("other"));
  ASSERT_TRUE(store_->RecordViews({
      {.content_id = c.id, .views = 2, .bytes = 1000, .new_viewers = {"v1", "v2"}},
      {.content_id = other.id, .views = 1, .bytes = 5, .new_viewers = {"v1"}},
  }));
  // v2 again (a later batch) and v3 twice in one batch: only v3 is new, once.
  ASSERT_TRUE(store_->RecordViews(
      {{.content_id = c.id, .views = 3, .bytes = 24, .new_viewers = {"v2", "v3", "v3"}}}));
  ASSERT_TRUE(store_->RecordViews({{.content_id = c.id, .bytes = 1}}));  // bytes only

  auto stats = store_->GetStats(c.id);
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->views, 5u);
  EXPECT_EQ(stats->unique_viewers, 3u);
  EXPECT_EQ(stats->bytes_served, 1025u);
  auto other_stats = store_->GetStats(other.id);
  EXPECT_EQ(other_stats->views, 1u);
  EXPECT_EQ(other_stats->unique_viewers, 1u);
  EXPECT_EQ(other_stats->bytes_served, 5u);
}

TEST_F(MetadataStoreTest, ViewsOfADeletedContentAreSkippedAndTheRestOfTheBatchStored) {
  auto c = Create(MakeContent("clip"));
  const std::string gone = NewId();
  auto recorded = store_->RecordViews({
      {.content_id = gone, .views = 7, .bytes = 7, .new_viewers = {"v1"}},
      {.content_id = c.id, .views = 1, .bytes = 10, .new_viewers = {"v1"}},
  });
  ASSERT_TRUE(recorded) << recorded.error().ToString();
  EXPECT_EQ(store_->GetStats(c.id)->views, 1u);
  SQLite::Database raw((dir_.path() / "streamgate.db").string());
  EXPECT_EQ(raw.execAndGet("SELECT COUNT(*) FROM content_stats").getInt(), 1);
  EXPECT_EQ(raw.execAndGet("SELECT COUNT(*) FROM content_viewers").getInt(), 1);
}

TEST_F(MetadataStoreTest, AMalformedDeltaStoresNothingOfTheBatch) {
  auto c = Create(MakeContent("clip"));
  for (const auto& bad : std::vector<ViewDelta>{
           {.content_id = "../etc", .views = 1},
           {.content_id = c.id, .views = 1, .new_viewers = {""}},
           {.content_id = c.id, .views = 1, .new_viewers = {std::string(129, 'a')}},
           {.content_id = c.id, .views = std::uint64_t{1} << 63},
       }) {
    auto recorded = store_->RecordViews({{.content_id = c.id, .views = 1}, bad});
    ASSERT_FALSE(recorded);
    EXPECT_EQ(recorded.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_EQ(store_->GetStats(c.id)->views, 0u);
}

TEST_F(MetadataStoreTest, DeleteContentRemovesItsStatsAndViewers) {
  auto c = Create(MakeContent("clip"));
  auto other = Create(MakeContent("other"));
  ASSERT_TRUE(store_->RecordViews({
      {.content_id = c.id, .views = 1, .bytes = 1, .new_viewers = {"v1", "v2"}},
      {.content_id = other.id, .views = 1, .bytes = 1, .new_viewers = {"v1"}},
  }));
  ASSERT_TRUE(store_->DeleteContent(c.id));
  SQLite::Database raw((dir_.path() / "streamgate.db").string());
  EXPECT_EQ(raw.execAndGet("SELECT COUNT(*) FROM content_stats").getInt(), 1);
  EXPECT_EQ(raw.execAndGet("SELECT COUNT(*) FROM content_viewers").getInt(), 1);
  // Created again under the same id, it starts from zero and v1 is a new viewer again.
  ContentRecord again = MakeContent("clip");
  again.id = c.id;
  ASSERT_TRUE(store_->CreateContent(again));
  EXPECT_EQ(store_->GetStats(c.id)->views, 0u);
  ASSERT_TRUE(store_->RecordViews({{.content_id = c.id, .views = 1, .new_viewers = {"v1"}}}));
  EXPECT_EQ(store_->GetStats(c.id)->unique_viewers, 1u);
}

TEST_F(MetadataStoreTest, StatsSurviveReopeningTheFile) {
  auto c = Create(MakeContent("clip"));
  ASSERT_TRUE(store_->RecordViews(
      {{.content_id = c.id, .views = 4, .bytes = 4096, .new_viewers = {"v1", "v2"}}}));
  Reopen();
  auto stats = store_->GetStats(c.id);
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->views, 4u);
  EXPECT_EQ(stats->unique_viewers, 2u);
  EXPECT_EQ(stats->bytes_served, 4096u);
}

TEST_F(MetadataStoreTest, AVersion2DatabaseUpgradesKeepsItsRowsAndTakesStats) {
  store_.reset();
  auto options = Options();
  options.path = dir_.path() / "v2.db";
  ContentRecord c = MakeContent("old clip");
  {
    auto v2 = SqliteMetadataStore::Open(options, clock_, Migrations().first(2));
    ASSERT_TRUE(v2) << v2.error().ToString();
    EXPECT_EQ((*v2)->schema_version(), 2);
    // Today's CreateContent writes columns a version-2 file does not have yet: the row is
    // written the way version-2 code wrote it.
    SQLite::Database raw(options.path.string(), SQLite::OPEN_READWRITE);
    SQLite::Statement insert(
        raw,
        "INSERT INTO contents (id, owner, title, visibility, status, "
        "created_at, updated_at) VALUES (?, 'alice', ?, 'public', 'ready', 0, 0)");
    insert.bind(1, c.id);
    insert.bind(2, c.title);
    insert.exec();
    ASSERT_TRUE((*v2)->PutRendition({.content_id = c.id, .name = "360p", .height = 360}));
    ASSERT_TRUE((*v2)->PutSegment({.content_id = c.id, .rendition = "360p", .number = 0}));
  }
  auto opened = SqliteMetadataStore::Open(options, clock_);
  ASSERT_TRUE(opened) << opened.error().ToString();
  auto& store = *opened;
  EXPECT_EQ(store->schema_version(), static_cast<int>(Migrations().size()));
  EXPECT_EQ(store->GetContent(c.id)->title, "old clip");
  EXPECT_EQ(store->GetContent(c.id)->access_policy, "") << "no policy on upgraded rows";
  EXPECT_EQ(store->ListSegments(c.id, "360p")->size(), 1u);
  EXPECT_EQ(store->GetStats(c.id)->views, 0u);
  ASSERT_TRUE(store->RecordViews({{.content_id = c.id, .views = 1, .new_viewers = {"v1"}}}));
  EXPECT_EQ(store->GetStats(c.id)->unique_viewers, 1u);
  ASSERT_TRUE(store->DeleteContent(c.id));
  store.reset();
  SQLite::Database raw(options.path.string());
  EXPECT_EQ(raw.execAndGet("SELECT COUNT(*) FROM content_stats").getInt(), 0);
  EXPECT_EQ(raw.execAndGet("SELECT COUNT(*) FROM content_viewers").getInt(), 0);
}

// ---- schema v5: the visibility of an upload

TEST_F(MetadataStoreTest, AVersion4DatabaseUpgradesAndItsOpenUploadsBecomePublic) {
  store_.reset();
  auto options = Options();
  options.path = dir_.path() / "v4.db";
  const std::string id = NewId();
  {
    auto v4 = SqliteMetadataStore::Open(options, clock_, Migrations().first(4));
    ASSERT_TRUE(v4) << v4.error().ToString();
    EXPECT_EQ((*v4)->schema_version(), 4);
    // A session as the version-4 binary wrote it (its INSERT has no visibility column).
    SQLite::Database raw(options.path.string(), SQLite::OPEN_READWRITE);
    raw.exec(fmt::format(
        "INSERT INTO upload_sessions (id, owner, protocol, filename, size, chunk_size, "
        "total_chunks, title, state, created_at, expires_at) VALUES ('{}', 'alice', 'tus', "
        "'old.mp4', 10, 10, 1, 'old upload', 'open', 1000, 2000)",
        id));
  }
  auto opened = SqliteMetadataStore::Open(options, clock_);
  ASSERT_TRUE(opened) << opened.error().ToString();
  auto& store = *opened;
  EXPECT_EQ(store->schema_version(), static_cast<int>(Migrations().size()));
  auto old = store->GetUpload(id);
  ASSERT_TRUE(old) << old.error().ToString();
  EXPECT_EQ(old->title, "old upload");
  EXPECT_EQ(old->protocol, "tus");
  EXPECT_EQ(old->visibility, "public");
  EXPECT_EQ(old->expires_at, FromMsForTest(2000));
  // New sessions in the upgraded file keep the visibility they ask for, across a reopen.
  auto fresh = MakeUpload();
  fresh.visibility = "private";
  ASSERT_TRUE(store->CreateUpload(fresh));
  store.reset();
  auto reopened = SqliteMetadataStore::Open(options, clock_);
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  EXPECT_EQ((*reopened)->GetUpload(fresh.id)->visibility, "private");
  EXPECT_EQ((*reopened)->GetUpload(id)->visibility, "public");
}

TEST_F(MetadataStoreTest, ATodaysDatabaseIsRefusedByAVersion4Binary) {
  // The file this binary writes is newer than what the previous release knows: that
  // release must refuse it rather than drop the visibility of open uploads.
  store_.reset();
  auto opened = SqliteMetadataStore::Open(Options(), clock_, Migrations().first(4));
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(opened.error().message.find(fmt::format("schema version {}", Migrations().size())),
            std::string::npos)
      << opened.error().message;
}

TEST(MetadataPluginTest, ProvidesTheStoreOnTheConfiguredFileAndReportsHealth) {
  TempDir dir;
  MetadataConfig config;
  config.path = (dir.path() / "sub" / "meta.db").string();
  testing::TestPluginContext context(testing::TestPluginContext::MakeConfig(config));
  auto plugin = MakeMetadataPlugin();
  EXPECT_TRUE(plugin->Info().dependencies.empty());
  ASSERT_TRUE(plugin->Init(context));
  ASSERT_TRUE(plugin->Start());
  auto store = context.Require<MetadataStore>();
  ASSERT_TRUE(store);
  auto c = MakeContent("via plugin");
  ASSERT_TRUE((*store)->CreateContent(c));
  EXPECT_TRUE(fs::exists(dir.path() / "sub" / "meta.db"));
  EXPECT_EQ(plugin->CheckHealth().status, HealthStatus::kOk);
  plugin->Stop(SteadyTime::max());
  EXPECT_EQ(plugin->CheckHealth().status, HealthStatus::kDown);
}

TEST(MetadataPluginTest, DefaultsToStreamgateDbInTheDataDir) {
  TempDir dir;
  testing::TestPluginContext context(testing::TestPluginContext::MakeConfig(MetadataConfig{}));
  context.mutable_server().data_dir = dir.path();
  auto plugin = MakeMetadataPlugin();
  ASSERT_TRUE(plugin->Init(context));
  EXPECT_TRUE(fs::exists(dir.path() / "streamgate.db"));
  plugin->Stop(SteadyTime::max());
}

TEST(MetadataPluginTest, InitFailsOnADatabaseFromANewerBinary) {
  TempDir dir;
  {
    SQLite::Database raw((dir.path() / "streamgate.db").string(),
                         SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    raw.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER)");
    raw.exec("INSERT INTO schema_migrations VALUES (999, 0)");
  }
  testing::TestPluginContext context(testing::TestPluginContext::MakeConfig(MetadataConfig{}));
  context.mutable_server().data_dir = dir.path();
  auto plugin = MakeMetadataPlugin();
  auto init = plugin->Init(context);
  ASSERT_FALSE(init);
  EXPECT_NE(init.error().message.find("999"), std::string::npos) << init.error().message;
  plugin->Stop(SteadyTime::max());
}

}  // namespace
}  // namespace sg::plugins::metadata
