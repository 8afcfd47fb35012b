#include "plugins/streaming/view_counter.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <set>
#include <thread>

#include "core/testing/fake_clock.h"
#include "core/testing/temp_dir.h"
#include "plugins/metadata/sqlite_metadata_store.h"

namespace sg::plugins::streaming {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

HttpRequest Anonymous(std::string ip, std::string user_agent = "hls.js") {
  HttpRequest request;
  request.method = "GET";
  request.remote_ip = std::move(ip);
  request.headers.emplace_back("User-Agent", std::move(user_agent));
  return request;
}

HttpRequest SignedIn(std::string id, std::string ip = "192.0.2.1") {
  HttpRequest request = Anonymous(std::move(ip));
  request.principal.id = std::move(id);
  request.principal.roles = {"viewer"};
  return request;
}

class ViewCounterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = metadata::SqliteMetadataStore::Open({.path = dir_.path() / "sg.db"}, clock_);
    ASSERT_TRUE(opened) << opened.error().ToString();
    store_ = *opened;
    content_ = MakeContent();
    other_ = MakeContent();
  }

  ContentRecord MakeContent() {
    ContentRecord c;
    c.id = NewId();
    c.owner = "alice";
    c.title = "clip";
    EXPECT_TRUE(store_->CreateContent(c));
    return c;
  }

  std::unique_ptr<ViewCounter> MakeCounter(ViewCounterOptions options = {}) {
    if (options.salt.empty()) {
      options.salt = "test salt";
    }
    return std::make_unique<ViewCounter>(store_, clock_, options);
  }

  ContentStats StatsOf(ViewCounter& counter, const ContentRecord& content) {
    auto stats = counter.Stats(content.id);
    EXPECT_TRUE(stats) << stats.error().ToString();
    return stats.value_or(ContentStats{});
  }

  ContentStats StoredStatsOf(const ContentRecord& content) {
    auto stats = store_->GetStats(content.id);
    EXPECT_TRUE(stats) << stats.error().ToString();
    return stats.value_or(ContentStats{});
  }

  sg::testing::TempDir dir_;
  sg::testing::FakeClock clock_;
  std::shared_ptr<metadata::SqliteMetadataStore> store_;
  ContentRecord content_;
  ContentRecord other_;
};

// ---- viewer keys

TEST_F(ViewCounterTest, ViewerKeysAreStableHexAndNeverContainTheAddress) {
  auto counter = MakeCounter();
  std::string key = counter->ViewerKey(Anonymous("203.0.113.7"));
  EXPECT_EQ(key, counter->ViewerKey(Anonymous("203.0.113.7")));
  EXPECT_EQ(key.size(), 32u);
  EXPECT_EQ(key.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(key.find("203"), std::string::npos);
}

TEST_F(ViewCounterTest, AnonymousKeysDependOnAddressAndUserAgent) {
  auto counter = MakeCounter();
  std::set<std::string> keys{
      counter->ViewerKey(Anonymous("203.0.113.7", "hls.js")),
      counter->ViewerKey(Anonymous("203.0.113.8", "hls.js")),
      counter->ViewerKey(Anonymous("203.0.113.7", "dash.js")),
      // Field boundaries matter: ("a", "b c") is not ("a b", "c").
      counter->ViewerKey(Anonymous("203.0.113.7 x", "y")),
      counter->ViewerKey(Anonymous("203.0.113.7", "x y")),
  };
  EXPECT_EQ(keys.size(), 5u);
}

TEST_F(ViewCounterTest, SignedInKeysFollowThePrincipalNotTheAddress) {
  auto counter = MakeCounter();
  EXPECT_EQ(counter->ViewerKey(SignedIn("bob", "192.0.2.1")),
            counter->ViewerKey(SignedIn("bob", "198.51.100.9")));
  EXPECT_NE(counter->ViewerKey(SignedIn("bob")), counter->ViewerKey(SignedIn("carol")));
  // A principal id that happens to equal an anonymous viewer's fields is another viewer.
  EXPECT_NE(counter->ViewerKey(SignedIn("bob", "192.0.2.1")),
            counter->ViewerKey(Anonymous("192.0.2.1")));
}

TEST_F(ViewCounterTest, KeysDependOnTheSaltSoStoredKeysCannotBeMatchedToAddresses) {
  auto one = MakeCounter({.salt = "one"});
  auto two = MakeCounter({.salt = "two"});
  EXPECT_NE(one->ViewerKey(Anonymous("203.0.113.7")), two->ViewerKey(Anonymous("203.0.113.7")));
  // Without a configured salt each process draws its own.
  ViewCounter a(store_, clock_);
  ViewCounter b(store_, clock_);
  EXPECT_NE(a.ViewerKey(Anonymous("203.0.113.7")), b.ViewerKey(Anonymous("203.0.113.7")));
}

// ---- views and deduplication

TEST_F(ViewCounterTest, TheSameViewerWithinTheWindowIsOneViewAndAfterItTwo) {
  auto counter = MakeCounter();
  auto viewer = Anonymous("203.0.113.7");
  EXPECT_TRUE(counter->RecordManifestFetch(content_.id, viewer));
  clock_.Advance(minutes(29));
  EXPECT_FALSE(counter->RecordManifestFetch(content_.id, viewer));
  EXPECT_EQ(StatsOf(*counter, content_).views, 1u);
  // 31 minutes after the counted view (the refetch at 29 did not extend the window).
  clock_.Advance(minutes(2));
  EXPECT_TRUE(counter->RecordManifestFetch(content_.id, viewer));
  auto stats = StatsOf(*counter, content_);
  EXPECT_EQ(stats.views, 2u);
  EXPECT_EQ(stats.unique_viewers, 1u);
}

TEST_F(ViewCounterTest, TheWindowIsConfigurable) {
  auto counter = MakeCounter({.dedup_window = minutes(5)});
  auto viewer = SignedIn("bob");
  EXPECT_TRUE(counter->RecordManifestFetch(content_.id, viewer));
  clock_.Advance(minutes(4));
  EXPECT_FALSE(counter->RecordManifestFetch(content_.id, viewer));
  clock_.Advance(minutes(1));
  EXPECT_TRUE(counter->RecordManifestFetch(content_.id, viewer));
}

TEST_F(ViewCounterTest, DifferentViewersAndDifferentContentsCountSeparately) {
  auto counter = MakeCounter();
  EXPECT_TRUE(counter->RecordManifestFetch(content_.id, Anonymous("203.0.113.7")));
  EXPECT_TRUE(counter->RecordManifestFetch(content_.id, Anonymous("203.0.113.8")));
  EXPECT_TRUE(counter->RecordManifestFetch(content_.id, SignedIn("bob")));
  EXPECT_TRUE(counter->RecordManifestFetch(other_.id, SignedIn("bob")));
  EXPECT_FALSE(counter->RecordManifestFetch(content_.id, SignedIn("bob", "198.51.100.9")));
  auto stats = StatsOf(*counter, content_);
  EXPECT_EQ(stats.views, 3u);
  EXPECT_EQ(stats.unique_viewers, 3u);
  EXPECT_EQ(StatsOf(*counter, other_).views, 1u);
}

TEST_F(ViewCounterTest, UniqueViewersStayUniqueAcrossWindowsAndFlushes) {
  auto counter = MakeCounter();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(counter->RecordManifestFetch(content_.id, SignedIn("bob")));
    ASSERT_TRUE(counter->Flush());
    clock_.Advance(minutes(31));
  }
  auto stats = StatsOf(*counter, content_);
  EXPECT_EQ(stats.views, 3u);
  EXPECT_EQ(stats.unique_viewers, 1u);
}

TEST_F(ViewCounterTest, DedupMemoryIsBoundedAndDropsTheOldestFirst) {
  auto counter = MakeCounter({.max_dedup_entries = 3});
  for (const char* ip : {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}) {
    EXPECT_TRUE(counter->RecordManifestFetch(content_.id, Anonymous(ip)));
    clock_.Advance(seconds(1));
  }
  EXPECT_EQ(counter->dedup_entries(), 3u);
  // The oldest (10.0.0.1) was forgotten and counts again; the newest is still deduplicated.
  EXPECT_FALSE(counter->RecordManifestFetch(content_.id, Anonymous("10.0.0.4")));
  EXPECT_TRUE(counter->RecordManifestFetch(content_.id, Anonymous("10.0.0.1")));
  EXPECT_EQ(counter->dedup_entries(), 3u);
}

TEST_F(ViewCounterTest, ExpiredDedupEntriesAreDropped) {
  auto counter = MakeCounter();
  counter->RecordManifestFetch(content_.id, Anonymous("10.0.0.1"));
  counter->RecordManifestFetch(content_.id, Anonymous("10.0.0.2"));
  clock_.Advance(minutes(31));
  counter->RecordManifestFetch(content_.id, Anonymous("10.0.0.3"));
  EXPECT_EQ(counter->dedup_entries(), 1u);
}

// ---- bytes, flushing, stats

TEST_F(ViewCounterTest, BytesAccumulateInMemoryUntilFlushed) {
  auto counter = MakeCounter();
  counter->RecordBytes(content_.id, 65536);
  counter->RecordBytes(content_.id, 1000);
  counter->RecordBytes(other_.id, 7);
  counter->RecordBytes(other_.id, 0);  // a 304 or an empty body adds nothing
  EXPECT_EQ(StoredStatsOf(content_).bytes_served, 0u);
  EXPECT_EQ(counter->pending_updates(), 3u);
  ASSERT_TRUE(counter->Flush());
  EXPECT_EQ(counter->pending_updates(), 0u);
  EXPECT_EQ(StoredStatsOf(content_).bytes_served, 66536u);
  EXPECT_EQ(StoredStatsOf(other_).bytes_served, 7u);
  // A second flush with nothing pending adds nothing.
  ASSERT_TRUE(counter->Flush());
  EXPECT_EQ(StoredStatsOf(content_).bytes_served, 66536u);
}

TEST_F(ViewCounterTest, StatsIncludeDeltasNotYetFlushed) {
  auto counter = MakeCounter();
  counter->RecordManifestFetch(content_.id, SignedIn("bob"));
  ASSERT_TRUE(counter->Flush());
  counter->RecordManifestFetch(content_.id, SignedIn("carol"));
  counter->RecordBytes(content_.id, 500);
  EXPECT_EQ(StoredStatsOf(content_).views, 1u);
  auto stats = StatsOf(*counter, content_);
  EXPECT_EQ(stats.views, 2u);
  EXPECT_EQ(stats.unique_viewers, 2u);
  EXPECT_EQ(stats.bytes_served, 500u);
  // Read twice: the pending delta was written once, not added again.
  EXPECT_EQ(StatsOf(*counter, content_).views, 2u);
  // Another content's pending delta was left for the flusher.
  counter->RecordBytes(other_.id, 9);
  StatsOf(*counter, content_);
  EXPECT_EQ(StoredStatsOf(other_).bytes_served, 0u);
}

TEST_F(ViewCounterTest, StatsResponseIsJsonWithEveryCounter) {
  auto counter = MakeCounter();
  counter->RecordManifestFetch(content_.id, Anonymous("203.0.113.7"));
  counter->RecordBytes(content_.id, 1234);
  auto response = counter->StatsResponse(content_);
  ASSERT_TRUE(response) << response.error().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(FindHeader(response->headers, "Cache-Control"), "no-store");
  auto body = boost::json::parse(response->body).as_object();
  EXPECT_EQ(body.at("content_id").as_string(), content_.id);
  EXPECT_EQ(body.at("views").to_number<std::uint64_t>(), 1u);
  EXPECT_EQ(body.at("unique_viewers").to_number<std::uint64_t>(), 1u);
  EXPECT_EQ(body.at("bytes_served").to_number<std::uint64_t>(), 1234u);
}

TEST_F(ViewCounterTest, StatsOfAnUnknownContentAreNotFound) {
  auto counter = MakeCounter();
  ContentRecord unknown;
  unknown.id = NewId();
  auto response = counter->StatsResponse(unknown);
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kNotFound);
}

TEST_F(ViewCounterTest, ViewsOfADeletedContentAreDroppedAtTheFlush) {
  auto counter = MakeCounter();
  counter->RecordManifestFetch(content_.id, SignedIn("bob"));
  counter->RecordBytes(other_.id, 10);
  ASSERT_TRUE(store_->DeleteContent(content_.id));
  ASSERT_TRUE(counter->Flush());
  EXPECT_EQ(counter->pending_updates(), 0u);
  EXPECT_EQ(StoredStatsOf(other_).bytes_served, 10u);
}

TEST_F(ViewCounterTest, AFailedFlushKeepsTheDeltasAndSaysWhy) {
  auto counter = MakeCounter();
  counter->RecordManifestFetch(content_.id, SignedIn("bob"));
  counter->RecordBytes(content_.id, 10);
  store_->Close();
  auto flushed = counter->Flush();
  ASSERT_FALSE(flushed);
  EXPECT_EQ(flushed.error().code, ErrorCode::kUnavailable);
  EXPECT_GT(counter->pending_updates(), 0u);
  EXPECT_NE(counter->last_flush_error(), "");
  auto stats = counter->Stats(content_.id);
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().code, ErrorCode::kUnavailable);
  EXPECT_GT(counter->pending_updates(), 0u);  // the stats read put its delta back too
}

TEST_F(ViewCounterTest, TheFlusherWritesOnceEnoughUpdatesArePending) {
  // A flush interval far beyond the test: only the update threshold can trigger it.
  auto counter = MakeCounter({.flush_interval = std::chrono::hours(1), .flush_after_updates = 3});
  counter->Start();
  counter->RecordBytes(content_.id, 1);
  counter->RecordBytes(content_.id, 1);
  counter->RecordBytes(content_.id, 1);
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (StoredStatsOf(content_).bytes_served < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(StoredStatsOf(content_).bytes_served, 3u);
  counter->Stop();
}

TEST_F(ViewCounterTest, StopWritesWhatIsPending) {
  auto counter = MakeCounter({.flush_interval = std::chrono::hours(1)});
  counter->Start();
  counter->RecordManifestFetch(content_.id, SignedIn("bob"));
  counter->RecordBytes(content_.id, 42);
  counter->Stop();
  counter->Stop();  // idempotent
  auto stats = StoredStatsOf(content_);
  EXPECT_EQ(stats.views, 1u);
  EXPECT_EQ(stats.bytes_served, 42u);
}

}  // namespace
}  // namespace sg::plugins::streaming
