#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/api/services/event_bus.h"
#include "core/api/services/http.h"
#include "core/api/services/metadata_store.h"
#include "core/api/services/object_store.h"
#include "core/memory_event_bus.h"
#include "core/testing/capturing_router.h"
#include "core/testing/fake_clock.h"
#include "core/testing/fake_random.h"
#include "core/testing/string_source.h"
#include "core/testing/test_context.h"
#include "plugins/content/content_config.h"
#include "plugins/content/content_json.h"
#include "plugins/content/content_plugin_internal.h"
#include "plugins/content/orphan_sweeper.h"
#include "plugins/metadata/sqlite_metadata_store.h"
#include "plugins/storage/local_object_store.h"
#include "plugins/worker/sqlite_job_queue.h"
#include "plugins/worker/worker_pool.h"

namespace sg::plugins::content {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using std::chrono::milliseconds;

using sg::testing::CapturingRouter;

using sg::testing::StringSource;

using sg::testing::StatusOf;

const Principal kAnonymous{};
const Principal kAlice{"alice", {"creator"}};
const Principal kBob{"bob", {"creator"}};
const Principal kAdmin{"admin", {"admin"}};

class ContentPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_);
    auto store = metadata::SqliteMetadataStore::Open({.path = dir_ / "streamgate.db"}, clock_);
    ASSERT_TRUE(store) << store.error().ToString();
    store_ = *store;
    auto objects =
        storage::LocalObjectStore::Open({.root = dir_ / "objects", .fsync = false}, clock_);
    ASSERT_TRUE(objects) << objects.error().ToString();
    objects_ = *objects;
    context_ = std::make_unique<testing::TestPluginContext>(
        testing::TestPluginContext::MakeConfig(ContentConfig{}));
    bus_ = std::make_shared<core::InMemoryEventBus>(core::InMemoryEventBus::Options{},
                                                    context_->logger(), context_->metrics());
    ASSERT_TRUE(context_->Provide<HttpRouter>(router_));
    ASSERT_TRUE(context_->Provide<MetadataStore>(store_));
    ASSERT_TRUE(context_->Provide<ObjectStore>(objects_));
    ASSERT_TRUE(context_->Provide<EventBus>(bus_));
    auto jobs = worker::SqliteJobQueue::Open({.path = dir_ / "jobs.sqlite3"}, clock_, random_);
    ASSERT_TRUE(jobs) << jobs.error().ToString();
    jobs_ = *jobs;
    // Registration only: the pool is never started, so the tests run handlers themselves.
    pool_ = std::make_shared<worker::WorkerPool>(jobs_, clock_, bus_, context_->logger(), nullptr,
                                                 worker::WorkerPoolOptions{});
    ASSERT_TRUE(context_->Provide<JobQueue>(jobs_));
    ASSERT_TRUE(context_->Provide<JobRunner>(pool_));
    auto subscription = bus_->Subscribe("streamgate.content.>", [this](const BusMessage& m) {
      std::lock_guard lock(events_mutex_);
      events_.push_back(m);
      events_changed_.notify_all();
    });
    ASSERT_TRUE(subscription);
    subscription_ = std::move(*subscription);
    plugin_ = MakeContentPlugin();
    ASSERT_TRUE(plugin_->Init(*context_));
    ASSERT_TRUE(plugin_->Start());
  }

  void TearDown() override {
    plugin_->Stop(SteadyTime::max());
    subscription_.reset();
    bus_->Close(std::chrono::steady_clock::now() + std::chrono::seconds(5));
    store_->Close();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  Result<HttpResponse> Call(const std::string& method, const std::string& id,
                            const Principal& principal, std::string body = "") {
    HttpRequest request;
    request.method = method;
    request.path = "/api/v1/content/" + id;
    request.path_params = {{"id", id}};
    request.principal = principal;
    request.body = std::move(body);
    return router_->routes.at(method + " /api/v1/content/{id}").first(request);
  }

  Result<HttpResponse> List(const Principal& principal,
                            std::vector<std::pair<std::string, std::string>> query = {}) {
    HttpRequest request;
    request.method = "GET";
    request.path = "/api/v1/content";
    request.query = std::move(query);
    request.principal = principal;
    return router_->routes.at("GET /api/v1/content").first(request);
  }

  std::vector<std::string> ListIds(const Principal& principal,
                                   std::vector<std::pair<std::string, std::string>> query = {}) {
    auto response = List(principal, std::move(query));
    EXPECT_EQ(StatusOf(response), 200) << (response ? "" : response.error().ToString());
    std::vector<std::string> ids;
    if (response) {
      const json::value body = json::parse(response->body);  // outlives the loop
      for (const auto& item : body.at("items").as_array()) {
        ids.emplace_back(item.at("id").as_string());
      }
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  ContentRecord Seed(std::string owner, std::string visibility, std::string title = "clip") {
    ContentRecord c;
    c.id = NewId();
    c.owner = std::move(owner);
    c.visibility = std::move(visibility);
    c.title = std::move(title);
    c.tags = {"cats"};
    c.object_key = "uploads/" + c.id + "/source";
    c.size = 11;
    EXPECT_TRUE(store_->CreateContent(c));
    StringSource data("hello video");
    EXPECT_TRUE(objects_->Put(c.object_key, data));
    clock_.Advance(milliseconds(10));
    return c;
  }

  bool WaitForEvents(std::size_t count) {
    std::unique_lock lock(events_mutex_);
    return events_changed_.wait_for(lock, std::chrono::seconds(5),
                                    [&] { return events_.size() >= count; });
  }
  std::vector<BusMessage> Events() {
    std::lock_guard lock(events_mutex_);
    return events_;
  }

  fs::path dir_ = fs::temp_directory_path() / ("sg-content-test-" + NewId());
  sg::testing::FakeClock clock_;
  sg::testing::FakeRandom random_;
  std::shared_ptr<worker::SqliteJobQueue> jobs_;
  std::shared_ptr<worker::WorkerPool> pool_;
  std::shared_ptr<metadata::SqliteMetadataStore> store_;
  std::shared_ptr<storage::LocalObjectStore> objects_;
  std::shared_ptr<CapturingRouter> router_ = std::make_shared<CapturingRouter>();
  std::unique_ptr<testing::TestPluginContext> context_;
  std::shared_ptr<core::InMemoryEventBus> bus_;
  std::unique_ptr<BusSubscription> subscription_;
  std::unique_ptr<Plugin> plugin_;
  std::mutex events_mutex_;
  std::condition_variable events_changed_;
  std::vector<BusMessage> events_;
};

TEST_F(ContentPluginTest, RoutesBlockAndUseReadOrWriteBuckets) {
  std::map<std::string, std::string> expected{{"GET /api/v1/content", "read"},
                                              {"GET /api/v1/content/{id}", "read"},
                                              {"PATCH /api/v1/content/{id}", "write"},
                                              {"DELETE /api/v1/content/{id}", "write"},
                                              {"GET /api/v1/content/{id}/events", "read"},
                                              {"GET /api/v1/content/{id}/poster.jpg", "read"}};
  ASSERT_EQ(router_->routes.size(), expected.size());
  for (const auto& [key, rate_class] : expected) {
    ASSERT_EQ(router_->routes.count(key), 1u) << key;
    EXPECT_TRUE(router_->routes.at(key).second.blocking) << key;
    EXPECT_EQ(router_->routes.at(key).second.rate_class, rate_class) << key;
  }
  EXPECT_EQ(router_->routes.at("PATCH /api/v1/content/{id}").second.max_body_bytes, 64u * 1024);
}

TEST_F(ContentPluginTest, MalformedIdsAre400OnEveryRoute) {
  std::vector<std::string> ids{"../etc",
                               "%2e%2e",
                               "..%2fetc%2fpasswd",
                               "short",
                               "",
                               "ABCDEFGHIJKLMNOPQRST",
                               std::string(65, 'a'),
                               "abcdefghij234567/x"};
  for (const auto& id : ids) {
    for (std::string method : {"GET", "PATCH", "DELETE"}) {
      auto response = Call(method, id, kAdmin, R"({"title":"x"})");
      ASSERT_FALSE(response) << method << " " << id;
      EXPECT_EQ(StatusOf(response), 400) << method << " " << id;
      EXPECT_EQ(response.error().message, "invalid content id");
    }
  }
}

TEST_F(ContentPluginTest, UnknownIdsAre404) {
  for (std::string method : {"GET", "PATCH", "DELETE"}) {
    EXPECT_EQ(StatusOf(Call(method, NewId(), kAdmin, "{}")), 404) << method;
  }
}

TEST_F(ContentPluginTest, GetShowsTheWholeRecord) {
  ContentRecord c;
  c.id = NewId();
  c.owner = "alice";
  c.title = "Sunset";
  c.description = "over the sea";
  c.tags = {"beach", "sea"};
  c.category = "travel";
  c.status = "ready";
  c.filename = "sunset.mp4";
  c.content_type = "video/mp4";
  c.size = 1234;
  c.sha256 = std::string(64, 'f');
  c.probe_json = R"({"format":{"duration":"12.5"}})";
  c.duration_seconds = 12.5;
  c.width = 1920;
  c.height = 1080;
  c.created_at = WallTime(std::chrono::sys_days{std::chrono::year{2026} / 3 / 4}) +
                 std::chrono::hours(5) + milliseconds(6007);
  c.updated_at = c.created_at;
  ASSERT_TRUE(store_->CreateContent(c));
  auto response = Call("GET", c.id, kAnonymous);
  ASSERT_EQ(StatusOf(response), 200);
  auto body = json::parse(response->body).as_object();
  EXPECT_EQ(body.at("id").as_string(), c.id);
  EXPECT_EQ(body.at("owner").as_string(), "alice");
  EXPECT_EQ(body.at("title").as_string(), "Sunset");
  EXPECT_EQ(body.at("description").as_string(), "over the sea");
  EXPECT_EQ(json::serialize(body.at("tags")), R"(["beach","sea"])");
  EXPECT_EQ(body.at("category").as_string(), "travel");
  EXPECT_EQ(body.at("visibility").as_string(), "public");
  EXPECT_EQ(body.at("status").as_string(), "ready");
  EXPECT_EQ(body.at("status_reason").as_string(), "");
  EXPECT_EQ(body.at("filename").as_string(), "sunset.mp4");
  EXPECT_EQ(body.at("content_type").as_string(), "video/mp4");
  EXPECT_EQ(body.at("size").to_number<std::uint64_t>(), 1234u);
  EXPECT_EQ(body.at("sha256").as_string(), c.sha256);
  EXPECT_EQ(body.at("duration_seconds").to_number<double>(), 12.5);
  EXPECT_EQ(body.at("width").to_number<std::int64_t>(), 1920);
  EXPECT_EQ(body.at("height").to_number<std::int64_t>(), 1080);
  EXPECT_EQ(body.at("created_at").as_string(), "2026-03-04T05:00:06.007Z");
  EXPECT_EQ(body.at("updated_at").as_string(), "2026-03-04T05:00:06.007Z");
  EXPECT_EQ(body.at("probe").at("format").at("duration").as_string(), "12.5");
  EXPECT_FALSE(body.contains("object_key"));  // storage layout is not part of the API
}

class ContentPosterTest : public ContentPluginTest {
 protected:
  Result<HttpResponse> GetPoster(const std::string& id, const Principal& principal,
                                 std::optional<std::string> if_none_match = std::nullopt) {
    HttpRequest request;
    request.method = "GET";
    request.path = "/api/v1/content/" + id + "/poster.jpg";
    request.path_params = {{"id", id}};
    request.principal = principal;
    if (if_none_match) {
      request.headers.emplace_back("If-None-Match", *if_none_match);
    }
    return router_->routes.at("GET /api/v1/content/{id}/poster.jpg").first(request);
  }

  // A content whose transcode left a poster (the JPEG bytes are not inspected).
  ContentRecord WithPoster(std::string visibility) {
    ContentRecord c = Seed("alice", std::move(visibility));
    const std::string key = "media/" + c.id + "/poster.jpg";
    StringSource jpeg("\xff\xd8 poster bytes");
    EXPECT_TRUE(objects_->Put(key, jpeg));
    ContentPatch patch;
    patch.poster_key = key;
    EXPECT_TRUE(store_->UpdateContent(c.id, patch));
    return c;
  }

  static std::string BodyOf(HttpResponse& response) {
    std::string out;
    std::array<char, 64> buffer{};
    while (true) {
      auto n = response.object->Read(buffer);
      if (!n || *n == 0) {
        break;
      }
      out.append(buffer.data(), *n);
    }
    return out;
  }
};

TEST_F(ContentPosterTest, ServesThePosterWithAnEtagAndItsUrlIsInTheRecord) {
  ContentRecord c = WithPoster("public");
  auto response = GetPoster(c.id, kAnonymous);
  ASSERT_EQ(StatusOf(response), 200);
  ASSERT_TRUE(response->object);
  EXPECT_EQ(BodyOf(*response), "\xff\xd8 poster bytes");
  EXPECT_EQ(FindHeader(response->headers, "Content-Type").value_or(""), "image/jpeg");
  EXPECT_EQ(FindHeader(response->headers, "Cache-Control").value_or(""), "public, max-age=300");
  const std::string etag(FindHeader(response->headers, "ETag").value_or(""));
  ASSERT_FALSE(etag.empty());

  auto again = GetPoster(c.id, kAnonymous, etag);
  ASSERT_EQ(StatusOf(again), 304);
  EXPECT_FALSE(again->object);

  auto record = json::parse(Call("GET", c.id, kAnonymous)->body);
  EXPECT_EQ(record.at("poster_url").as_string(), "/api/v1/content/" + c.id + "/poster.jpg");
}

TEST_F(ContentPosterTest, NoPosterYetIs404AndTheUrlIsNull) {
  ContentRecord c = Seed("alice", "public");
  auto response = GetPoster(c.id, kAnonymous);
  EXPECT_EQ(StatusOf(response), 404);
  EXPECT_EQ(response.error().message, "content " + c.id + " has no poster (yet)");
  auto record = json::parse(Call("GET", c.id, kAnonymous)->body);
  EXPECT_TRUE(record.at("poster_url").is_null());
}

TEST_F(ContentPosterTest, PrivatePostersAreOnlyForTheOwnerAndAdminsAndNotSharedCaches) {
  ContentRecord c = WithPoster("private");
  EXPECT_EQ(StatusOf(GetPoster(c.id, kAnonymous)), 404);
  EXPECT_EQ(StatusOf(GetPoster(c.id, kBob)), 404);
  EXPECT_EQ(StatusOf(GetPoster(c.id, kAdmin)), 200);
  auto own = GetPoster(c.id, kAlice);
  ASSERT_EQ(StatusOf(own), 200);
  EXPECT_EQ(FindHeader(own->headers, "Cache-Control").value_or(""), "private, max-age=300");
}

TEST_F(ContentPosterTest, MalformedIdsAre400) {
  EXPECT_EQ(StatusOf(GetPoster("../etc", kAdmin)), 400);
}

TEST_F(ContentPluginTest, MissingProbeIsNull) {
  auto c = Seed("alice", "public");
  auto response = Call("GET", c.id, kAnonymous);
  ASSERT_EQ(StatusOf(response), 200);
  EXPECT_TRUE(json::parse(response->body).at("probe").is_null());
}

TEST_F(ContentPluginTest, PrivateContentIsHiddenFromEveryoneButItsOwnerAndAdmins) {
  auto c = Seed("alice", "private");
  auto anonymous = Call("GET", c.id, kAnonymous);
  auto other = Call("GET", c.id, kBob);
  EXPECT_EQ(StatusOf(anonymous), 404);
  EXPECT_EQ(StatusOf(other), 404);
  // Indistinguishable from an id that was never used.
  auto absent_id = NewId();
  auto absent = Call("GET", absent_id, kBob);
  EXPECT_EQ(other.error().message, fmt::format("content {} does not exist", c.id));
  EXPECT_EQ(absent.error().message, fmt::format("content {} does not exist", absent_id));
  EXPECT_EQ(StatusOf(Call("GET", c.id, kAlice)), 200);
  EXPECT_EQ(StatusOf(Call("GET", c.id, kAdmin)), 200);
}

TEST_F(ContentPluginTest, UnlistedContentIsReadableByIdButNotListed) {
  auto c = Seed("alice", "unlisted");
  EXPECT_EQ(StatusOf(Call("GET", c.id, kAnonymous)), 200);
  EXPECT_TRUE(ListIds(kAnonymous).empty());
}

TEST_F(ContentPluginTest, ListingShowsWhatEachCallerMaySee) {
  auto alice_public = Seed("alice", "public");
  auto alice_unlisted = Seed("alice", "unlisted");
  auto alice_private = Seed("alice", "private");
  auto bob_public = Seed("bob", "public");
  auto bob_private = Seed("bob", "private");
  auto sorted = [](std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  auto publics = sorted({alice_public.id, bob_public.id});
  EXPECT_EQ(ListIds(kAnonymous), publics);
  // A signed-in viewer sees public content plus their own, whatever its visibility.
  EXPECT_EQ(ListIds(kBob), sorted({alice_public.id, bob_public.id, bob_private.id}));
  EXPECT_EQ(ListIds(kAdmin), sorted({alice_public.id, alice_unlisted.id, alice_private.id,
                                     bob_public.id, bob_private.id}));
  EXPECT_EQ(ListIds(kAlice, {{"owner", "alice"}}),
            sorted({alice_public.id, alice_unlisted.id, alice_private.id}));
  EXPECT_EQ(ListIds(kBob, {{"owner", "alice"}}), std::vector<std::string>{alice_public.id});
  EXPECT_EQ(ListIds(kAnonymous, {{"owner", ""}}), publics);
}

TEST_F(ContentPluginTest, ListingFiltersSearchesAndPages) {
  auto a = Seed("alice", "public", "red car");
  auto b = Seed("alice", "public", "blue car");
  auto c = Seed("alice", "public", "red bike");
  ASSERT_TRUE(
      store_->UpdateContent(c.id, {.tags = std::vector<std::string>{"bikes"}, .status = "ready"}));
  auto reds = std::vector<std::string>{a.id, c.id};
  std::sort(reds.begin(), reds.end());
  EXPECT_EQ(ListIds(kAnonymous, {{"q", "red"}}), reds);
  EXPECT_EQ(ListIds(kAnonymous, {{"q", "car red"}}), std::vector<std::string>{a.id});
  EXPECT_EQ(ListIds(kAnonymous, {{"tag", " Bikes "}}), std::vector<std::string>{c.id});
  EXPECT_EQ(ListIds(kAnonymous, {{"status", "ready"}}), std::vector<std::string>{c.id});

  auto first = List(kAnonymous, {{"limit", "2"}});
  ASSERT_EQ(StatusOf(first), 200);
  auto first_body = json::parse(first->body);
  ASSERT_EQ(first_body.at("items").as_array().size(), 2u);
  EXPECT_EQ(first_body.at("items").at(0).at("id").as_string(), c.id);  // newest first
  EXPECT_EQ(first_body.at("items").at(1).at("id").as_string(), b.id);
  ASSERT_TRUE(first_body.at("next_cursor").is_string());
  auto second =
      List(kAnonymous,
           {{"limit", "2"}, {"cursor", std::string(first_body.at("next_cursor").as_string())}});
  ASSERT_EQ(StatusOf(second), 200);
  auto second_body = json::parse(second->body);
  ASSERT_EQ(second_body.at("items").as_array().size(), 1u);
  EXPECT_EQ(second_body.at("items").at(0).at("id").as_string(), a.id);  // the oldest
  EXPECT_TRUE(second_body.at("next_cursor").is_null());
}

TEST_F(ContentPluginTest, BadListParametersAre400) {
  for (std::vector<std::pair<std::string, std::string>> query :
       std::vector<std::vector<std::pair<std::string, std::string>>>{
           {{"limit", "0"}},
           {{"limit", "101"}},
           {{"limit", "ten"}},
           {{"limit", "-1"}},
           {{"status", "exploded"}},
           {{"cursor", "garbage!"}},
           {{"tag", "no/slashes"}},
           {{"q", std::string(501, 'a')}}}) {
    auto response = List(kAnonymous, query);
    EXPECT_EQ(StatusOf(response), 400) << query[0].first << "=" << query[0].second;
  }
  for (std::string text : {"a\"b", "NEAR(", "*", "-x", "(", "title:x"}) {
    EXPECT_EQ(StatusOf(List(kAnonymous, {{"q", text}})), 200) << text;
  }
}

TEST_F(ContentPluginTest, PatchNeedsTheOwnerOrAnAdmin) {
  auto c = Seed("alice", "public");
  EXPECT_EQ(StatusOf(Call("PATCH", c.id, kAnonymous, R"({"title":"x"})")), 401);
  EXPECT_EQ(StatusOf(Call("PATCH", c.id, kBob, R"({"title":"x"})")), 403);
  auto hidden = Seed("alice", "private");
  EXPECT_EQ(StatusOf(Call("PATCH", hidden.id, kBob, R"({"title":"x"})")), 404);
  EXPECT_EQ(store_->GetContent(c.id)->title, "clip");

  auto by_owner = Call("PATCH", c.id, kAlice, R"({"title":"  Mine  ","visibility":"unlisted"})");
  ASSERT_EQ(StatusOf(by_owner), 200) << (by_owner ? "" : by_owner.error().ToString());
  auto body = json::parse(by_owner->body);
  EXPECT_EQ(body.at("title").as_string(), "Mine");
  EXPECT_EQ(body.at("visibility").as_string(), "unlisted");
  EXPECT_EQ(store_->GetContent(c.id)->title, "Mine");

  auto by_admin = Call("PATCH", c.id, kAdmin, R"({"category":"music","description":"d"})");
  ASSERT_EQ(StatusOf(by_admin), 200);
  EXPECT_EQ(json::parse(by_admin->body).at("category").as_string(), "music");
}

TEST_F(ContentPluginTest, PatchPublishesContentUpdated) {
  auto c = Seed("alice", "public");
  ASSERT_EQ(StatusOf(Call("PATCH", c.id, kAlice, R"({"tags":["X"]})")), 200);
  ASSERT_TRUE(WaitForEvents(1));
  auto events = Events();
  EXPECT_EQ(events[0].subject, "streamgate.content.updated");
  EXPECT_EQ(json::parse(events[0].data).at("content_id").as_string(), c.id);
}

TEST_F(ContentPluginTest, PatchNormalisesTags) {
  auto c = Seed("alice", "public");
  auto response = Call("PATCH", c.id, kAlice, R"({"tags":["Zoo","b ","ZOO","a-b_c d"]})");
  ASSERT_EQ(StatusOf(response), 200);
  EXPECT_EQ(json::serialize(json::parse(response->body).at("tags")), R"(["a-b_c d","b","zoo"])");
  EXPECT_EQ(store_->GetContent(c.id)->tags, (std::vector<std::string>{"a-b_c d", "b", "zoo"}));
}

TEST_F(ContentPluginTest, InvalidPatchBodiesAre400AndChangeNothing) {
  auto c = Seed("alice", "public");
  std::string many_tags = "[";
  for (int i = 0; i < 21; ++i) {
    many_tags += fmt::format("{}\"t{}\"", i == 0 ? "" : ",", i);
  }
  many_tags += "]";
  std::vector<std::pair<std::string, std::string>> cases{
      {R"({"title":"x","owner":"bob"})", "unknown field \"owner\""},
      {R"({"status":"ready"})", "unknown field \"status\""},
      {R"({"title":)", "not valid JSON"},
      {"not json", "not valid JSON"},
      {R"(["title"])", "JSON object"},
      {R"({"title":""})", "title"},
      {R"({"title":"   "})", "title"},
      {R"({"title":null})", "title must be a string"},
      {R"({"title":7})", "title must be a string"},
      {fmt::format(R"({{"title":"{}"}})", std::string(201, 'a')), "title"},
      {fmt::format(R"({{"description":"{}"}})", std::string(5001, 'a')), "description"},
      {R"({"tags":"cats"})", "array"},
      {R"({"tags":[1]})", "array"},
      {R"({"tags":["c/ts"]})", "c/ts"},
      {R"({"tags":[""]})", "tag"},
      {fmt::format(R"({{"tags":["{}"]}})", std::string(41, 'a')), "tag"},
      {fmt::format(R"({{"tags":{}}})", many_tags), "at most 20"},
      {R"({"visibility":"secret"})", "visibility"},
      {R"({"title":"ok","visibility":"secret"})", "visibility"},
  };
  for (const auto& [body, needle] : cases) {
    auto response = Call("PATCH", c.id, kAlice, body);
    ASSERT_EQ(StatusOf(response), 400) << body;
    EXPECT_NE(response.error().message.find(needle), std::string::npos)
        << body << " -> " << response.error().message;
  }
  auto stored = store_->GetContent(c.id);
  EXPECT_EQ(stored->title, "clip");
  EXPECT_EQ(stored->visibility, "public");
  EXPECT_EQ(stored->updated_at, stored->created_at);
}

TEST_F(ContentPluginTest, TitleLengthCountsCharactersNotBytes) {
  auto c = Seed("alice", "public");
  std::string title;
  for (int i = 0; i < 200; ++i) {
    title += "\xc3\xa9";  // é: 2 bytes, 1 character
  }
  auto response = Call("PATCH", c.id, kAlice, fmt::format(R"({{"title":"{}"}})", title));
  EXPECT_EQ(StatusOf(response), 200) << (response ? "" : response.error().ToString());
}

TEST_F(ContentPluginTest, DeleteNeedsTheOwnerOrAnAdmin) {
  auto c = Seed("alice", "public");
  EXPECT_EQ(StatusOf(Call("DELETE", c.id, kAnonymous)), 401);
  EXPECT_EQ(StatusOf(Call("DELETE", c.id, kBob)), 403);
  EXPECT_TRUE(store_->GetContent(c.id));
  EXPECT_TRUE(objects_->Stat(c.object_key));
  EXPECT_EQ(StatusOf(Call("DELETE", c.id, kAdmin)), 204);
  EXPECT_EQ(store_->GetContent(c.id).error().code, ErrorCode::kNotFound);
}

TEST_F(ContentPluginTest, DeleteRemovesTheRecordItsObjectsAndAnnouncesIt) {
  auto c = Seed("alice", "public");
  // The transcode's output and an upload's staged tail, beside the source.
  StringSource segment("segment bytes");
  ASSERT_TRUE(objects_->Put("media/" + c.id + "/360p/segment_0.m4s", segment));
  StringSource tail("tail");
  ASSERT_TRUE(objects_->Put("uploads/" + c.id + "/tail-5", tail));
  auto keep = Seed("alice", "public");
  StringSource other("other media");
  ASSERT_TRUE(objects_->Put("media/" + keep.id + "/360p/segment_0.m4s", other));

  auto response = Call("DELETE", c.id, kAlice);
  ASSERT_EQ(StatusOf(response), 204) << (response ? "" : response.error().ToString());
  EXPECT_TRUE(response->body.empty());
  EXPECT_EQ(store_->GetContent(c.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(objects_->Stat(c.object_key).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(objects_->Stat("media/" + c.id + "/360p/segment_0.m4s").error().code,
            ErrorCode::kNotFound);
  EXPECT_EQ(objects_->Stat("uploads/" + c.id + "/tail-5").error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(objects_->Stat(keep.object_key));  // another content's objects stay
  EXPECT_TRUE(objects_->Stat("media/" + keep.id + "/360p/segment_0.m4s"));
  EXPECT_TRUE(store_->GetContent(keep.id));
  ASSERT_TRUE(WaitForEvents(1));
  auto events = Events();
  EXPECT_EQ(events[0].subject, "streamgate.content.deleted");
  EXPECT_EQ(json::parse(events[0].data).at("content_id").as_string(), c.id);
  EXPECT_EQ(StatusOf(Call("DELETE", c.id, kAlice)), 404);
}

TEST_F(ContentPluginTest, GetListsRenditionsWithTheirRecordedSegments) {
  auto c = Seed("alice", "public");
  ASSERT_TRUE(store_->PutRendition({.content_id = c.id,
                                    .name = "360p",
                                    .kind = "video",
                                    .codec = "avc1.64001e",
                                    .bandwidth = 500'000,
                                    .width = 640,
                                    .height = 360,
                                    .frame_rate = 25,
                                    .init_key = "media/" + c.id + "/360p/init.mp4",
                                    .target_segment_seconds = 4}));
  ASSERT_TRUE(store_->PutRendition({.content_id = c.id,
                                    .name = "audio",
                                    .kind = "audio",
                                    .codec = "mp4a.40.2",
                                    .bandwidth = 128'000,
                                    .sample_rate = 48'000,
                                    .channels = 2,
                                    .complete = true}));
  for (std::uint32_t n = 0; n < 3; ++n) {
    ASSERT_TRUE(store_->PutSegment({.content_id = c.id,
                                    .rendition = "360p",
                                    .number = n,
                                    .duration_seconds = 4,
                                    .bytes = 1000,
                                    .object_key = "media/" + c.id + "/360p/segment.m4s",
                                    .created_at = clock_.WallNow()}));
  }
  auto response = Call("GET", c.id, kAnonymous);
  ASSERT_EQ(StatusOf(response), 200);
  auto body = json::parse(response->body);
  const auto& renditions = body.at("renditions").as_array();
  ASSERT_EQ(renditions.size(), 2u);
  EXPECT_EQ(renditions[0].at("name").as_string(), "360p");
  EXPECT_EQ(renditions[0].at("segments").as_int64(), 3);
  EXPECT_DOUBLE_EQ(renditions[0].at("duration_seconds").as_double(), 12.0);
  EXPECT_EQ(renditions[0].at("height").as_int64(), 360);
  EXPECT_FALSE(renditions[0].at("complete").as_bool());
  EXPECT_TRUE(renditions[0].at("first_segment_at").is_string());
  EXPECT_EQ(renditions[1].at("codec").as_string(), "mp4a.40.2");
  EXPECT_EQ(renditions[1].at("channels").as_int64(), 2);
  EXPECT_TRUE(renditions[1].at("first_segment_at").is_null());
  EXPECT_FALSE(renditions[1].as_object().contains("height"));
}

// ---- GET /api/v1/content/{id}/events

class ContentEventsRouteTest : public ContentPluginTest {
 protected:
  Result<HttpResponse> Watch(const std::string& id, const Principal& principal) {
    HttpRequest request;
    request.method = "GET";
    request.path = "/api/v1/content/" + id + "/events";
    request.path_params = {{"id", id}};
    request.principal = principal;
    return router_->routes.at("GET /api/v1/content/{id}/events").first(request);
  }
  // Everything the stream holds now, and whether it has ended.
  static std::pair<std::string, bool> Read(ResponseStream& stream) {
    std::string all;
    std::string piece;
    while (true) {
      auto state = stream.TakeQueued(piece);
      if (state == ResponseStream::Take::kData) {
        all += piece;
        continue;
      }
      return {all, state == ResponseStream::Take::kEnded};
    }
  }
  void Publish(const std::string& kind, const json::object& payload) {
    ASSERT_TRUE(bus_->Publish(
        {.subject = "streamgate.transcoding." + kind, .data = json::serialize(payload)}));
  }
};

TEST_F(ContentEventsRouteTest, AFinishedContentAnswersItsStatusAndEnds) {
  auto c = Seed("alice", "public");
  ASSERT_TRUE(store_->UpdateContent(c.id, {.status = "ready"}));
  auto response = Watch(c.id, kAnonymous);
  ASSERT_EQ(StatusOf(response), 200);
  EXPECT_EQ(*FindHeader(response->headers, "Content-Type"), "text/event-stream; charset=utf-8");
  ASSERT_NE(response->stream, nullptr);
  auto [text, ended] = Read(*response->stream);
  EXPECT_NE(text.find("event: status\ndata: {\"content_id\":\"" + c.id + "\",\"status\":\"ready\""),
            std::string::npos)
      << text;
  EXPECT_TRUE(ended);
}

TEST_F(ContentEventsRouteTest, AProcessingContentStreamsProgressUntilItIsReady) {
  auto c = Seed("alice", "public");
  ASSERT_TRUE(store_->UpdateContent(c.id, {.status = "processing"}));
  auto response = Watch(c.id, kAnonymous);
  ASSERT_EQ(StatusOf(response), 200);
  auto& stream = *response->stream;
  auto [first, first_ended] = Read(stream);
  EXPECT_NE(first.find("\"status\":\"processing\""), std::string::npos) << first;
  EXPECT_FALSE(first_ended);

  Publish("progress", {{"content_id", c.id}, {"job_id", "j"}, {"percent", 50}});
  Publish("progress", {{"content_id", "someoneelse00000000"}, {"percent", 10}});
  Publish("completed", {{"content_id", c.id}, {"job_id", "j"}});
  std::string text;
  bool ended = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!ended && std::chrono::steady_clock::now() < deadline) {
    auto [more, now_ended] = Read(stream);
    text += more;
    ended = now_ended;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(ended);
  EXPECT_NE(text.find("event: progress"), std::string::npos) << text;
  EXPECT_EQ(text.find("someoneelse"), std::string::npos) << text;
  EXPECT_NE(text.find("\"status\":\"ready\""), std::string::npos) << text;
}

TEST_F(ContentEventsRouteTest, PrivateContentEventsAreHiddenLikeTheContent) {
  auto c = Seed("alice", "private");
  EXPECT_EQ(StatusOf(Watch(c.id, kBob)), 404);
  EXPECT_EQ(StatusOf(Watch(c.id, kAnonymous)), 404);
  EXPECT_EQ(StatusOf(Watch(c.id, kAlice)), 200);
  EXPECT_EQ(StatusOf(Watch("../../etc", kAlice)), 400);
  EXPECT_EQ(StatusOf(Watch("aaaaaaaaaaaaaaaaaaaa", kAlice)), 404);
}

// ---- the periodic orphan sweep

class TestJobContext final : public JobContext {
 public:
  const Job& job() const noexcept override { return job_; }
  void ReportProgress(JobProgress) override {}
  bool cancelled() const noexcept override { return false; }

 private:
  Job job_{.attempts = 1};
};

TEST_F(ContentPluginTest, OrphanSweepRemovesOnlyOldObjectsThatNothingOwns) {
  auto owned = Seed("alice", "public");
  const std::string orphan = NewId();
  const std::string fresh_orphan = NewId();
  const std::string open_upload = NewId();
  auto put = [&](const std::string& key) {
    StringSource data("bytes");
    ASSERT_TRUE(objects_->Put(key, data));
  };
  put("media/" + owned.id + "/360p/segment_0.m4s");
  put("media/" + orphan + "/360p/init.mp4");
  put("media/" + orphan + "/360p/segment_0.m4s");
  put("uploads/" + orphan + "/source");
  put("media/" + fresh_orphan + "/360p/init.mp4");
  put("uploads/" + open_upload + "/source");
  put("media/not-an-id/file");
  ASSERT_TRUE(store_->CreateUpload({.id = open_upload,
                                    .owner = "alice",
                                    .filename = "x.mp4",
                                    .size = 5,
                                    .chunk_size = 5,
                                    .total_chunks = 1,
                                    .object_key = "uploads/" + open_upload + "/source"}));
  // Everything but the fresh orphan is older than the grace period.
  const auto old_time = fs::file_time_type::clock::now() - std::chrono::hours(48);
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / "objects")) {
    if (entry.is_regular_file() && entry.path().string().find(fresh_orphan) == std::string::npos) {
      fs::last_write_time(entry.path(), old_time);
    }
  }
  SystemClock wall;  // file times are real: compare them with real time
  OrphanSweeper sweeper(store_, objects_, wall, std::chrono::hours(1), context_->logger());
  TestJobContext job;
  auto result = sweeper.Run(job);
  ASSERT_TRUE(result) << result.error().ToString();
  auto summary = json::parse(*result);
  EXPECT_EQ(summary.at("removed_count").as_int64(), 2) << *result;

  EXPECT_EQ(objects_->Stat("media/" + orphan + "/360p/init.mp4").error().code,
            ErrorCode::kNotFound);
  EXPECT_EQ(objects_->Stat("uploads/" + orphan + "/source").error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(objects_->Stat("media/" + owned.id + "/360p/segment_0.m4s"));
  EXPECT_TRUE(objects_->Stat(owned.object_key));
  EXPECT_TRUE(objects_->Stat("media/" + fresh_orphan + "/360p/init.mp4"));
  EXPECT_TRUE(objects_->Stat("uploads/" + open_upload + "/source"));
  EXPECT_TRUE(objects_->Stat("media/not-an-id/file"));
}

TEST_F(ContentPluginTest, OrphanSweepIsRegisteredAsAPeriodicJob) {
  // Registering the same type again fails: the plugin already did it in Init.
  OrphanSweeper sweeper(store_, objects_, clock_, std::chrono::hours(1), context_->logger());
  auto again = pool_->RegisterHandler(std::string(kOrphanJobType),
                                      std::shared_ptr<JobHandler>(&sweeper, [](JobHandler*) {}));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
}

}  // namespace
}  // namespace sg::plugins::content
