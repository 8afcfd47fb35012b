// Handler tests of the upload plugin against the REAL LocalObjectStore and SQLite
// MetadataStore (temporary folders) and the in-memory event bus; routes are called through
// a capturing router, so the route table is exercised too.

#include "plugins/upload/upload_service.h"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/api/services/job_queue.h"
#include "core/memory_event_bus.h"
#include "core/metrics_registry.h"
#include "core/testing/capturing_router.h"
#include "core/testing/fake_clock.h"
#include "core/testing/temp_dir.h"
#include "core/testing/test_context.h"
#include "plugins/metadata/sqlite_metadata_store.h"
#include "plugins/storage/local_object_store.h"
#include "plugins/upload/hashing.h"
#include "plugins/upload/upload_plugin_internal.h"
#include "plugins/upload/upload_protocol.h"

namespace sg::plugins::upload {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

using sg::testing::TempDir;

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Sha256Hex(std::string_view data) {
  auto sha = Digest::Sha256();
  sha.Update(data);
  return HexEncode(sha.Finish());
}

// A streamed request body; optionally fails after `fail_after` bytes (a client that
// disconnected) or hides its length (chunked transfer encoding).
class TestBodyReader final : public BodyReader {
 public:
  explicit TestBodyReader(std::string data, bool with_length = true,
                          std::optional<std::size_t> fail_after = std::nullopt)
      : data_(std::move(data)), with_length_(with_length), fail_after_(fail_after) {}
  Result<std::size_t> Read(std::span<char> buffer) override {
    std::size_t end = fail_after_ ? std::min(*fail_after_, data_.size()) : data_.size();
    if (offset_ >= end && fail_after_) {
      return MakeError(ErrorCode::kInvalidArgument, "client disconnected");
    }
    std::size_t n = std::min({buffer.size(), end - offset_, std::size_t{1000}});
    std::memcpy(buffer.data(), data_.data() + offset_, n);
    offset_ += n;
    return n;
  }
  std::optional<std::uint64_t> content_length() const noexcept override {
    return with_length_ ? std::optional<std::uint64_t>(data_.size()) : std::nullopt;
  }

 private:
  std::string data_;
  bool with_length_;
  std::optional<std::size_t> fail_after_;
  std::size_t offset_ = 0;
};

using sg::testing::CapturingRouter;

Principal Creator(std::string id = "alice") { return {std::move(id), {"creator"}}; }
Principal Admin() { return {"admin", {"admin"}}; }

// The reply as the gateway would send it: Result errors become their status.
struct Reply {
  int status = 0;
  std::string body;
  HttpHeaders headers;
  json::value Json() const { return json::parse(body); }
  std::string Header(std::string_view name) const {
    auto found = FindHeader(headers, name);
    return found ? std::string(*found) : "";
  }
};

// One small real video for every test (generated, never committed).
class Media {
 public:
  static const std::string& Clip() {
    static const std::string clip = [] {
      auto path = std::filesystem::temp_directory_path() /
                  ("sg-upload-clip-" + std::to_string(::getpid()) + ".mp4");
      std::string command =
          "ffmpeg -v error -y -f lavfi -i testsrc=duration=2:size=320x240:rate=25 -f lavfi -i "
          "sine=duration=2 -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest " +
          path.string();
      if (std::system(command.c_str()) != 0) {
        return std::string();
      }
      auto data = ReadFile(path);
      std::filesystem::remove(path);
      return data;
    }();
    return clip;
  }
};

class UploadServiceTest : public ::testing::Test {
 protected:
  static constexpr std::uint64_t kChunk = 4 * 1024;

  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    Open(std::make_shared<testing::FakeClock>());
  }
  void TearDown() override { bus_->Close(std::chrono::steady_clock::now() + 5s); }

  void Open(std::shared_ptr<Clock> clock) {
    clock_ = std::move(clock);
    auto objects = storage::LocalObjectStore::Open({.root = dir_.path() / "objects"}, *clock_);
    ASSERT_TRUE(objects) << objects.error().ToString();
    objects_ = *objects;
    auto metadata = metadata::SqliteMetadataStore::Open({.path = dir_.path() / "meta.db"}, *clock_);
    ASSERT_TRUE(metadata) << metadata.error().ToString();
    metadata_ = *metadata;
    logger_ = std::make_shared<spdlog::logger>("test");
    bus_ = std::make_shared<core::InMemoryEventBus>(core::InMemoryEventBus::Options{}, logger_,
                                                    metrics_);
    auto subscription =
        bus_->Subscribe(std::string(kFileUploadedSubject), [this](const BusMessage& message) {
          std::lock_guard lock(events_mutex_);
          events_.push_back(message.data);
        });
    ASSERT_TRUE(subscription);
    subscription_ = std::move(*subscription);
    config_.chunk_size = {kChunk};
    config_.min_chunk_size = {1024};
    config_.max_chunk_size = {64 * 1024};
    config_.max_file_size = {10 * 1024 * 1024};
    MakeService();
  }

  void MakeService() {
    router_ = CapturingRouter{};
    service_ =
        std::make_unique<UploadService>(config_, UploadDependencies{.objects = objects_,
                                                                    .metadata = metadata_,
                                                                    .bus = bus_,
                                                                    .clock = clock_.get(),
                                                                    .logger = logger_,
                                                                    .temp_dir = dir_.path()});
    ASSERT_TRUE(service_->RegisterRoutes(router_));
  }

  Reply Call(const std::string& route, std::map<std::string, std::string> params = {},
             std::string body = {}, HttpHeaders headers = {}, Principal principal = Creator(),
             BodyReader* reader = nullptr) {
    auto it = router_.routes.find(route);
    EXPECT_NE(it, router_.routes.end()) << route;
    if (it == router_.routes.end()) {
      return {};
    }
    HttpRequest request;
    request.method = route.substr(0, route.find(' '));
    for (auto& [key, value] : params) {
      request.path_params.emplace_back(key, value);
    }
    request.headers = std::move(headers);
    request.principal = std::move(principal);
    request.context.request_id = "req-1";
    std::optional<TestBodyReader> owned;
    if (it->second.second.stream_body && reader == nullptr) {
      owned.emplace(std::move(body));
      reader = &*owned;
    }
    request.body_reader = reader;
    if (!it->second.second.stream_body) {
      request.body = std::move(body);
    }
    auto result = it->second.first(request);
    if (!result) {
      static const std::map<ErrorCode, int> kStatus = {
          {ErrorCode::kInvalidArgument, 400}, {ErrorCode::kNotFound, 404},
          {ErrorCode::kAlreadyExists, 409},   {ErrorCode::kPermissionDenied, 403},
          {ErrorCode::kUnauthenticated, 401}, {ErrorCode::kResourceExhausted, 429},
          {ErrorCode::kUnavailable, 503},     {ErrorCode::kInternal, 500}};
      return {kStatus.at(result.error().code), result.error().message, {}};
    }
    return {result->status, result->body, result->headers};
  }

  std::string InitUpload(std::uint64_t size, std::string sha = "", Principal who = Creator(),
                         std::uint64_t chunk = kChunk) {
    json::object body{{"filename", "clip.mp4"}, {"size", size}, {"chunk_size", chunk}};
    if (!sha.empty()) {
      body["sha256"] = sha;
    }
    auto reply = Call("POST /api/v1/upload/init", {}, json::serialize(body), {}, who);
    EXPECT_EQ(reply.status, 201) << reply.body;
    if (reply.status != 201) {
      return "";
    }
    return std::string(reply.Json().at("upload_id").as_string());
  }

  Reply PutChunk(const std::string& id, std::uint32_t n, std::string data, HttpHeaders h = {},
                 Principal who = Creator()) {
    return Call("PUT /api/v1/upload/{id}/chunk/{n}", {{"id", id}, {"n", std::to_string(n)}},
                std::move(data), std::move(h), std::move(who));
  }

  static std::string ChunkOf(const std::string& file, std::uint32_t n) {
    return file.substr(n * kChunk, kChunk);
  }

  std::size_t ChunkCount(const std::string& id) {
    auto chunks = metadata_->ListChunks(id);
    return chunks ? chunks->size() : 0;
  }

  std::size_t ObjectCount() {
    auto page = objects_->List("", "", 1000);
    return page ? page->objects.size() : 0;
  }

  std::size_t MultipartFiles() {
    std::size_t count = 0;
    std::error_code ignored;
    for (auto it = std::filesystem::recursive_directory_iterator(
             dir_.path() / "objects" / ".multipart", ignored);
         it != std::filesystem::recursive_directory_iterator(); ++it) {
      ++count;
    }
    return count;
  }

  std::vector<std::string> Events() {
    std::lock_guard lock(events_mutex_);
    return events_;
  }

  bool WaitForEvents(std::size_t count) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (Events().size() < count && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    return Events().size() >= count;
  }

  testing::FakeClock& fake_clock() { return static_cast<testing::FakeClock&>(*clock_); }

  TempDir dir_;
  std::shared_ptr<Clock> clock_;
  core::PrometheusMetricsRegistry metrics_;
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<storage::LocalObjectStore> objects_;
  std::shared_ptr<metadata::SqliteMetadataStore> metadata_;
  std::shared_ptr<core::InMemoryEventBus> bus_;
  std::unique_ptr<BusSubscription> subscription_;
  std::mutex events_mutex_;
  std::vector<std::string> events_;
  UploadConfig config_;
  CapturingRouter router_;
  std::unique_ptr<UploadService> service_;
};

TEST_F(UploadServiceTest, RoutesUseStreamingBodiesAndTheWriteRateClass) {
  const auto& put = router_.routes.at("PUT /api/v1/upload/{id}/chunk/{n}").second;
  EXPECT_TRUE(put.stream_body);
  EXPECT_EQ(put.rate_class, "transfer");
  EXPECT_EQ(put.max_body_bytes, config_.max_chunk_size.bytes);
  EXPECT_TRUE(router_.routes.at("PATCH /api/v1/tus/{id}").second.stream_body);
  EXPECT_TRUE(router_.routes.count("HEAD /api/v1/tus/{id}"));
}

TEST_F(UploadServiceTest, ChunksOutOfOrderThenCompleteCreatesContentAndPublishes) {
  const auto& clip = Media::Clip();
  ASSERT_FALSE(clip.empty()) << "ffmpeg could not generate the test clip";
  auto sha = Sha256Hex(clip);
  auto id = InitUpload(clip.size(), sha);
  ASSERT_FALSE(id.empty());
  auto total = static_cast<std::uint32_t>(ChunkLayout{clip.size(), kChunk}.TotalChunks());
  ASSERT_GE(total, 3u);

  // Last chunk first, then the rest backwards except chunk 1.
  for (std::uint32_t n = total; n-- > 0;) {
    if (n == 1) {
      continue;
    }
    auto put = PutChunk(id, n, ChunkOf(clip, n));
    ASSERT_EQ(put.status, 201) << put.body;
  }
  auto status = Call("GET /api/v1/upload/{id}", {{"id", id}});
  ASSERT_EQ(status.status, 200) << status.body;
  auto state = status.Json().as_object();
  EXPECT_EQ(state.at("state").as_string(), "open");
  EXPECT_EQ(json::serialize(state.at("received_chunks")), fmt::format("[[0,0],[2,{}]]", total - 1));
  EXPECT_EQ(json::serialize(state.at("missing_chunks")), "[[1,1]]");
  EXPECT_EQ(state.at("bytes_received").to_number<std::uint64_t>(), clip.size() - kChunk);

  // Completing with a chunk missing is refused and changes nothing.
  auto early = Call("POST /api/v1/upload/{id}/complete", {{"id", id}});
  EXPECT_EQ(early.status, 400) << early.body;
  EXPECT_NE(early.body.find("[[1,1]]"), std::string::npos) << early.body;
  EXPECT_EQ(metadata_->GetUpload(id)->state, "open");

  ASSERT_EQ(PutChunk(id, 1, ChunkOf(clip, 1)).status, 201);
  auto done = Call("POST /api/v1/upload/{id}/complete", {{"id", id}});
  ASSERT_EQ(done.status, 201) << done.body;
  auto content_id = std::string(done.Json().at("content_id").as_string());

  auto content = metadata_->GetContent(content_id);
  ASSERT_TRUE(content) << content.error().ToString();
  EXPECT_EQ(content->status, "uploaded");
  EXPECT_EQ(content->owner, "alice");
  EXPECT_EQ(content->title, "clip.mp4");
  EXPECT_EQ(content->visibility, "public") << "an init without visibility stays public";
  EXPECT_EQ(content->sha256, sha);
  EXPECT_EQ(content->size, clip.size());
  EXPECT_EQ(content->width, 320);
  EXPECT_EQ(content->height, 240);
  EXPECT_NEAR(content->duration_seconds, 2.0, 0.2);
  EXPECT_NE(content->probe_json.find("h264"), std::string::npos);
  auto path = objects_->LocalPath(content->object_key);
  ASSERT_TRUE(path);
  EXPECT_EQ(ReadFile(*path), clip);

  ASSERT_TRUE(WaitForEvents(1));
  auto event = json::parse(Events().front()).as_object();
  EXPECT_EQ(event.at("content_id").as_string(), content_id);
  EXPECT_EQ(event.at("sha256").as_string(), sha);
  EXPECT_EQ(event.at("owner").as_string(), "alice");
  EXPECT_EQ(event.at("size").to_number<std::uint64_t>(), clip.size());
  EXPECT_TRUE(event.at("probe").as_object().contains("streams"));

  // Completing again answers the same content, without a second record or event.
  auto again = Call("POST /api/v1/upload/{id}/complete", {{"id", id}});
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.Json().at("content_id").as_string(), content_id);
  EXPECT_EQ(Events().size(), 1u);
}

TEST_F(UploadServiceTest, IdenticalResendIsOkAndADifferentBodyIsAConflict) {
  std::string file(3 * kChunk, 'x');
  auto id = InitUpload(file.size());
  ASSERT_EQ(PutChunk(id, 0, ChunkOf(file, 0)).status, 201);
  auto same = PutChunk(id, 0, ChunkOf(file, 0));
  EXPECT_EQ(same.status, 200) << same.body;
  EXPECT_TRUE(same.Json().at("already_stored").as_bool());
  std::string other(kChunk, 'y');
  auto different = PutChunk(id, 0, other);
  EXPECT_EQ(different.status, 409) << different.body;
  // The stored chunk was not overwritten.
  auto chunks = metadata_->ListChunks(id);
  ASSERT_EQ(chunks->size(), 1u);
  EXPECT_EQ(chunks->front().sha256, Sha256Hex(ChunkOf(file, 0)));
  auto part =
      objects_->ReadPart(SourceKeyFor(id), metadata_->GetUpload(id)->multipart_id, 1, kChunk);
  ASSERT_TRUE(part);
  auto sha = Digest::Sha256();
  ASSERT_TRUE(Consume(**part, kChunk, {&sha}));
  EXPECT_EQ(HexEncode(sha.Finish()), Sha256Hex(ChunkOf(file, 0)));
}

TEST_F(UploadServiceTest, BadChunkRequestsAreRejectedAndStoreNothing) {
  std::string file(2 * kChunk + 100, 'z');
  auto id = InitUpload(file.size());
  ASSERT_EQ(PutChunk(id, 0, ChunkOf(file, 0)).status, 201);
  auto objects_before = ObjectCount();
  auto multipart_before = MultipartFiles();
  std::string wrong_sha(64, '0');
  struct Case {
    std::string name;
    std::uint32_t n;
    std::string body;
    HttpHeaders headers;
    int status;
  };
  std::vector<Case> cases = {
      {"index out of range", 3, std::string(100, 'z'), {}, 400},
      {"short chunk", 1, std::string(kChunk - 1, 'z'), {}, 400},
      {"last chunk too long", 2, std::string(101, 'z'), {}, 400},
      {"larger than the chunk size", 1, std::string(kChunk + 1, 'z'), {}, 413},
      {"Content-SHA256 mismatch", 1, ChunkOf(file, 1), {{"Content-SHA256", wrong_sha}}, 400},
      {"Repr-Digest mismatch",
       1,
       ChunkOf(file, 1),
       {{"Repr-Digest", "sha-256=:" + Base64Encode(std::string(32, 'a')) + ":"}},
       400},
      {"malformed checksum", 1, ChunkOf(file, 1), {{"Content-SHA256", "xyz"}}, 400},
  };
  for (const auto& c : cases) {
    auto reply = PutChunk(id, c.n, c.body, c.headers);
    EXPECT_EQ(reply.status, c.status) << c.name << ": " << reply.body;
    EXPECT_EQ(ChunkCount(id), 1u) << c.name;
  }
  // Without Content-Length, sizes are found while streaming: still nothing counted.
  TestBodyReader unsized(std::string(kChunk + 10, 'z'), /*with_length=*/false);
  auto streamed = Call("PUT /api/v1/upload/{id}/chunk/{n}", {{"id", id}, {"n", "1"}}, "", {},
                       Creator(), &unsized);
  EXPECT_EQ(streamed.status, 413) << streamed.body;
  TestBodyReader cut(ChunkOf(file, 1), true, /*fail_after=*/500);
  auto disconnected =
      Call("PUT /api/v1/upload/{id}/chunk/{n}", {{"id", id}, {"n", "1"}}, "", {}, Creator(), &cut);
  EXPECT_EQ(disconnected.status, 400) << disconnected.body;
  EXPECT_EQ(ChunkCount(id), 1u);
  EXPECT_EQ(ObjectCount(), objects_before);
  // A rejected part may leave its bytes in place but never a "stored" marker.
  EXPECT_LE(MultipartFiles(), multipart_before + 1);

  EXPECT_EQ(PutChunk("NOT-AN-ID", 0, "x").status, 400);
  EXPECT_EQ(PutChunk("abcdefghijklmnopqrst", 0, "x").status, 404);
  EXPECT_EQ(PutChunk(id, 1, ChunkOf(file, 1), {}, Principal{}).status, 401);
  EXPECT_EQ(PutChunk(id, 1, ChunkOf(file, 1), {}, Principal{"bob", {"viewer"}}).status, 403);
  EXPECT_EQ(PutChunk(id, 1, ChunkOf(file, 1), {}, Creator("mallory")).status, 404);
  EXPECT_EQ(ChunkCount(id), 1u);
  // An admin may write anyone's session.
  EXPECT_EQ(PutChunk(id, 1, ChunkOf(file, 1), {}, Admin()).status, 201);
}

TEST_F(UploadServiceTest, InitValidatesItsInput) {
  auto init = [&](std::string body, Principal who = Creator()) {
    return Call("POST /api/v1/upload/init", {}, std::move(body), {}, std::move(who));
  };
  EXPECT_EQ(init(R"({"filename":"a.mp4","size":10})", Principal{}).status, 401);
  EXPECT_EQ(init(R"({"filename":"a.mp4","size":10})", Principal{"v", {"viewer"}}).status, 403);
  EXPECT_EQ(init("not json").status, 400);
  EXPECT_EQ(init(R"({"size":10})").status, 400);
  EXPECT_EQ(init(R"({"filename":"a.mp4"})").status, 400);
  EXPECT_EQ(init(R"({"filename":"a.mp4","size":0})").status, 400);
  EXPECT_EQ(init(R"({"filename":"a.mp4","size":-5})").status, 400);
  EXPECT_EQ(init(R"({"filename":"a.mp4","size":10,"sha256":"abc"})").status, 400);
  EXPECT_EQ(init(R"({"filename":"a.mp4","size":10,"tags":"x"})").status, 400);
  auto too_small = init(R"({"filename":"a.mp4","size":10,"chunk_size":100})");
  EXPECT_EQ(too_small.status, 400);
  EXPECT_NE(too_small.body.find("between 1024 and 65536"), std::string::npos) << too_small.body;
  EXPECT_EQ(init(R"({"filename":"a.mp4","size":10,"chunk_size":1000000})").status, 400);
  EXPECT_EQ(init(R"({"filename":"a.mp4","size":20000000})").status, 413);
  auto ok = init(R"({"filename":"a.mp4","size":40000,"tags":["B","a","b"],"title":"T"})");
  ASSERT_EQ(ok.status, 201) << ok.body;
  EXPECT_EQ(ok.Json().at("total_chunks").as_int64(), (40000 + kChunk - 1) / kChunk);
  EXPECT_EQ(ok.Json().at("chunk_size").as_int64(), static_cast<std::int64_t>(kChunk));
  auto session = metadata_->GetUpload(std::string(ok.Json().at("upload_id").as_string()));
  ASSERT_TRUE(session);
  EXPECT_EQ(session->tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(session->object_key,
            "uploads/" + std::string(ok.Json().at("upload_id").as_string()) + "/source");
}

TEST_F(UploadServiceTest, InitTakesEachVisibilityAndTheStatusEchoesIt) {
  struct Case {
    std::string field;  // JSON of the "visibility" member; empty = not sent
    std::string stored;
  };
  const std::vector<Case> cases = {{"", "public"},
                                   {R"("visibility":null,)", "public"},
                                   {R"("visibility":"public",)", "public"},
                                   {R"("visibility":"unlisted",)", "unlisted"},
                                   {R"("visibility":"private",)", "private"}};
  for (const auto& c : cases) {
    auto reply =
        Call("POST /api/v1/upload/init", {}, R"({)" + c.field + R"("filename":"a.mp4","size":10})");
    ASSERT_EQ(reply.status, 201) << c.field << ": " << reply.body;
    auto id = std::string(reply.Json().at("upload_id").as_string());
    EXPECT_EQ(metadata_->GetUpload(id)->visibility, c.stored) << c.field;
    auto status = Call("GET /api/v1/upload/{id}", {{"id", id}});
    ASSERT_EQ(status.status, 200) << status.body;
    EXPECT_EQ(status.Json().at("visibility").as_string(), c.stored) << c.field;
  }
}

TEST_F(UploadServiceTest, InitWithAnUnknownVisibilityIs400NamingTheFieldAndOpensNothing) {
  for (std::string value :
       {R"("secret")", R"("")", R"("Private")", R"(" private")", "1", "true", R"(["private"])"}) {
    auto reply = Call("POST /api/v1/upload/init", {},
                      R"({"filename":"a.mp4","size":10,"visibility":)" + value + "}");
    EXPECT_EQ(reply.status, 400) << value << ": " << reply.body;
    EXPECT_EQ(reply.body.rfind("visibility: ", 0), 0u) << value << ": " << reply.body;
  }
  EXPECT_EQ(*metadata_->CountOpenUploads("alice"), 0u);
  EXPECT_EQ(ObjectCount(), 0u);
}

TEST_F(UploadServiceTest, CompletedContentHasTheVisibilityTheInitAskedFor) {
  const auto& clip = Media::Clip();
  ASSERT_FALSE(clip.empty()) << "ffmpeg could not generate the test clip";
  const auto total = static_cast<std::uint32_t>(ChunkLayout{clip.size(), kChunk}.TotalChunks());
  for (std::string visibility : {"unlisted", "private"}) {
    json::object init{{"filename", "clip.mp4"},
                      {"size", clip.size()},
                      {"chunk_size", kChunk},
                      {"title", "hidden " + visibility},
                      {"visibility", visibility}};
    auto opened = Call("POST /api/v1/upload/init", {}, json::serialize(init));
    ASSERT_EQ(opened.status, 201) << opened.body;
    auto id = std::string(opened.Json().at("upload_id").as_string());
    for (std::uint32_t n = 0; n < total; ++n) {
      ASSERT_EQ(PutChunk(id, n, ChunkOf(clip, n)).status, 201) << visibility << " chunk " << n;
    }
    auto done = Call("POST /api/v1/upload/{id}/complete", {{"id", id}});
    ASSERT_EQ(done.status, 201) << done.body;
    auto content = metadata_->GetContent(std::string(done.Json().at("content_id").as_string()));
    ASSERT_TRUE(content) << content.error().ToString();
    EXPECT_EQ(content->visibility, visibility);
    EXPECT_EQ(content->title, "hidden " + visibility);
    // The completed session still reports what it was opened with.
    EXPECT_EQ(Call("GET /api/v1/upload/{id}", {{"id", id}}).Json().at("visibility").as_string(),
              visibility);
  }
  // Neither is in an anonymous listing, from the moment it exists.
  auto listed = metadata_->SearchContent({.visibilities = {"public"}});
  ASSERT_TRUE(listed) << listed.error().ToString();
  EXPECT_TRUE(listed->items.empty());
}

TEST_F(UploadServiceTest, OpenSessionLimitAndQuotaPerOwner) {
  config_.max_open_sessions_per_owner = 2;
  config_.quota_per_owner = {100'000};
  MakeService();
  InitUpload(40'000);
  InitUpload(40'000, "", Creator("bob"));
  auto quota = Call("POST /api/v1/upload/init", {}, R"({"filename":"a.mp4","size":60001})");
  EXPECT_EQ(quota.status, 413) << quota.body;
  EXPECT_NE(quota.body.find("quota"), std::string::npos);
  InitUpload(60'000);
  auto limit = Call("POST /api/v1/upload/init", {}, R"({"filename":"a.mp4","size":10})");
  EXPECT_EQ(limit.status, 429) << limit.body;
  EXPECT_NE(limit.body.find("open uploads"), std::string::npos) << limit.body;
}

TEST_F(UploadServiceTest, WrongDeclaredShaIs422AndTheSessionStaysUsable) {
  const auto& clip = Media::Clip();
  ASSERT_FALSE(clip.empty());
  auto id = InitUpload(clip.size(), std::string(64, 'a'));
  for (std::uint32_t n = 0; n < ChunkLayout{clip.size(), kChunk}.TotalChunks(); ++n) {
    ASSERT_EQ(PutChunk(id, n, ChunkOf(clip, n)).status, 201);
  }
  auto done = Call("POST /api/v1/upload/{id}/complete", {{"id", id}});
  EXPECT_EQ(done.status, 422) << done.body;
  EXPECT_NE(done.body.find(Sha256Hex(clip)), std::string::npos) << done.body;
  auto status = Call("GET /api/v1/upload/{id}", {{"id", id}});
  ASSERT_EQ(status.status, 200);
  EXPECT_EQ(status.Json().at("state").as_string(), "open");
  EXPECT_EQ(json::serialize(status.Json().at("missing_chunks")), "[]");
  EXPECT_FALSE(metadata_->GetContent(id));
  EXPECT_EQ(Call("DELETE /api/v1/upload/{id}", {{"id", id}}).status, 204);
  EXPECT_EQ(Call("GET /api/v1/upload/{id}", {{"id", id}}).status, 404);
  EXPECT_EQ(MultipartFiles(), 0u);
}

TEST_F(UploadServiceTest, NonVideoIs415AndTheUploadIsRemoved) {
  std::string noise;
  for (std::size_t i = 0; i < 2 * kChunk; ++i) {
    noise.push_back(static_cast<char>((i * 2654435761u) >> 13));
  }
  auto id = InitUpload(noise.size());
  ASSERT_EQ(PutChunk(id, 0, ChunkOf(noise, 0)).status, 201);
  ASSERT_EQ(PutChunk(id, 1, ChunkOf(noise, 1)).status, 201);
  auto done = Call("POST /api/v1/upload/{id}/complete", {{"id", id}});
  EXPECT_EQ(done.status, 415) << done.body;
  auto error = done.Json().at("error").as_object();
  EXPECT_EQ(error.at("code").as_string(), "unsupported_media_type");
  EXPECT_EQ(std::string(error.at("message").as_string()).rfind("not a playable video: ", 0), 0u)
      << done.body;
  EXPECT_EQ(Call("GET /api/v1/upload/{id}", {{"id", id}}).status, 404);
  EXPECT_EQ(ObjectCount(), 0u);
  EXPECT_EQ(MultipartFiles(), 0u);
  EXPECT_TRUE(Events().empty());
}

// A playlist is not media: it names other files, and ffprobe would follow it (here to a
// perfectly playable video elsewhere on the server). Only containers are probed.
TEST_F(UploadServiceTest, APlaylistPointingAtAnotherFileIs415) {
  auto target = std::filesystem::temp_directory_path() /
                ("sg-upload-elsewhere-" + std::to_string(::getpid()) + ".mp4");
  {
    std::ofstream out(target, std::ios::binary);
    out << Media::Clip();
  }
  std::string playlist =
      "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n" + target.string() + "\n#EXT-X-ENDLIST\n";
  auto id = InitUpload(playlist.size());
  ASSERT_EQ(PutChunk(id, 0, playlist).status, 201);
  auto done = Call("POST /api/v1/upload/{id}/complete", {{"id", id}});
  std::filesystem::remove(target);
  EXPECT_EQ(done.status, 415) << done.body;
  EXPECT_FALSE(metadata_->GetContent(id));
  EXPECT_TRUE(Events().empty());
}

TEST_F(UploadServiceTest, ExpiredSessionsAreCleanedUp) {
  std::string file(2 * kChunk, 'q');
  auto old_id = InitUpload(file.size());
  ASSERT_EQ(PutChunk(old_id, 0, ChunkOf(file, 0)).status, 201);
  fake_clock().Advance(23h);
  auto young_id = InitUpload(file.size());
  fake_clock().Advance(2h);  // old: 25 h, young: 2 h
  EXPECT_EQ(PutChunk(old_id, 1, ChunkOf(file, 1)).status, 410);
  auto removed = service_->CleanupExpired();
  ASSERT_TRUE(removed) << removed.error().ToString();
  EXPECT_EQ(*removed, 1u);
  EXPECT_EQ(Call("GET /api/v1/upload/{id}", {{"id", old_id}}).status, 404);
  EXPECT_EQ(Call("GET /api/v1/upload/{id}", {{"id", young_id}}).status, 200);
  EXPECT_EQ(*service_->CleanupExpired(), 0u);
}

TEST_F(UploadServiceTest, TwoConcurrentCompletesMakeOneContent) {
  bus_->Close(std::chrono::steady_clock::now() + 1s);
  Open(std::make_shared<SystemClock>());
  const auto& clip = Media::Clip();
  ASSERT_FALSE(clip.empty());
  auto id = InitUpload(clip.size());
  for (std::uint32_t n = 0; n < ChunkLayout{clip.size(), kChunk}.TotalChunks(); ++n) {
    ASSERT_EQ(PutChunk(id, n, ChunkOf(clip, n)).status, 201);
  }
  std::vector<Reply> replies(4);
  std::vector<std::thread> threads;
  for (auto& reply : replies) {
    threads.emplace_back([&] { reply = Call("POST /api/v1/upload/{id}/complete", {{"id", id}}); });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  int created = 0;
  for (const auto& reply : replies) {
    ASSERT_TRUE(reply.status == 201 || reply.status == 200) << reply.body;
    created += reply.status == 201 ? 1 : 0;
    EXPECT_EQ(reply.Json().at("content_id").as_string(), id);
  }
  EXPECT_EQ(created, 1);
  ASSERT_TRUE(WaitForEvents(1));
  std::this_thread::sleep_for(50ms);  // a second event would arrive by now
  EXPECT_EQ(Events().size(), 1u);
  auto page = metadata_->SearchContent({.owner = "alice"});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->items.size(), 1u);
}

TEST_F(UploadServiceTest, ConcurrentPutsOfTheSameChunkStoreItOnce) {
  bus_->Close(std::chrono::steady_clock::now() + 1s);
  Open(std::make_shared<SystemClock>());
  std::string file(2 * kChunk, 'c');
  auto id = InitUpload(file.size());
  std::vector<Reply> replies(4);
  std::vector<std::thread> threads;
  for (auto& reply : replies) {
    threads.emplace_back([&] { reply = PutChunk(id, 0, ChunkOf(file, 0)); });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  int stored = 0;
  for (const auto& reply : replies) {
    ASSERT_TRUE(reply.status == 201 || reply.status == 200) << reply.body;
    stored += reply.status == 201 ? 1 : 0;
  }
  EXPECT_EQ(stored, 1);
  EXPECT_EQ(ChunkCount(id), 1u);
}

// ---------------------------------------------------------------- tus

HttpHeaders Tus(HttpHeaders extra = {}) {
  extra.emplace_back("Tus-Resumable", "1.0.0");
  return extra;
}

TEST_F(UploadServiceTest, TusOptionsAdvertisesTheServer) {
  auto reply = Call("OPTIONS /api/v1/tus", {}, "", {}, Principal{});
  EXPECT_EQ(reply.status, 204);
  EXPECT_EQ(reply.Header("Tus-Version"), "1.0.0");
  EXPECT_EQ(reply.Header("Tus-Resumable"), "1.0.0");
  EXPECT_EQ(reply.Header("Tus-Extension"),
            "creation,creation-with-upload,termination,expiration,checksum");
  EXPECT_EQ(reply.Header("Tus-Checksum-Algorithm"), "sha1,sha256");
  EXPECT_EQ(reply.Header("Tus-Max-Size"), std::to_string(config_.max_file_size.bytes));
}

TEST_F(UploadServiceTest, TusCreatePatchHeadAndFinish) {
  const auto& clip = Media::Clip();
  ASSERT_FALSE(clip.empty());
  auto create =
      Call("POST /api/v1/tus", {}, "",
           Tus({{"Upload-Length", std::to_string(clip.size())},
                {"Upload-Metadata", "filename " + Base64Encode("my clip.mp4") + ",filetype " +
                                        Base64Encode("video/mp4") + ",tags " +
                                        Base64Encode("Cats, dogs") + ",private"}}));
  ASSERT_EQ(create.status, 201) << create.body;
  EXPECT_EQ(create.Header("Tus-Resumable"), "1.0.0");
  auto location = create.Header("Location");
  ASSERT_EQ(location.rfind("/api/v1/tus/", 0), 0u);
  auto id = location.substr(12);
  EXPECT_FALSE(create.Header("Upload-Expires").empty());

  auto head = Call("HEAD /api/v1/tus/{id}", {{"id", id}}, "", Tus());
  ASSERT_EQ(head.status, 200) << head.body;
  EXPECT_EQ(head.Header("Upload-Offset"), "0");
  EXPECT_EQ(head.Header("Upload-Length"), std::to_string(clip.size()));
  EXPECT_EQ(head.Header("Cache-Control"), "no-store");
  EXPECT_NE(head.Header("Upload-Metadata").find("filename " + Base64Encode("my clip.mp4")),
            std::string::npos);

  auto patch = [&](std::uint64_t offset, std::string body, HttpHeaders extra = {}) {
    extra.emplace_back("Content-Type", "application/offset+octet-stream");
    extra.emplace_back("Upload-Offset", std::to_string(offset));
    return Call("PATCH /api/v1/tus/{id}", {{"id", id}}, std::move(body), Tus(std::move(extra)));
  };
  // Missing version, wrong content type, wrong offset, bad checksum: nothing moves.
  auto no_version =
      Call("PATCH /api/v1/tus/{id}", {{"id", id}}, clip.substr(0, kChunk),
           {{"Content-Type", "application/offset+octet-stream"}, {"Upload-Offset", "0"}});
  EXPECT_EQ(no_version.status, 412);
  EXPECT_EQ(no_version.Header("Tus-Version"), "1.0.0");
  EXPECT_EQ(Call("PATCH /api/v1/tus/{id}", {{"id", id}}, clip.substr(0, kChunk),
                 Tus({{"Content-Type", "text/plain"}, {"Upload-Offset", "0"}}))
                .status,
            415);
  EXPECT_EQ(patch(kChunk, clip.substr(kChunk, kChunk)).status, 409);
  auto bad_sum = patch(0, clip.substr(0, 2 * kChunk),
                       {{"Upload-Checksum", "sha256 " + Base64Encode(std::string(32, 'x'))}});
  EXPECT_EQ(bad_sum.status, 460) << bad_sum.body;
  EXPECT_EQ(bad_sum.Header("Tus-Resumable"), "1.0.0");
  EXPECT_EQ(patch(0, "x", {{"Upload-Checksum", "md5 AAAAAAAAAAAAAAAAAAAAAA=="}}).status, 400);
  EXPECT_EQ(ChunkCount(id), 0u);
  EXPECT_EQ(Call("HEAD /api/v1/tus/{id}", {{"id", id}}, "", Tus()).Header("Upload-Offset"), "0");

  // Two chunks with a correct checksum.
  auto first_part = clip.substr(0, 2 * kChunk);
  auto sha = Digest::Sha256();
  sha.Update(first_part);
  auto first = patch(0, first_part, {{"Upload-Checksum", "sha256 " + Base64Encode(sha.Finish())}});
  ASSERT_EQ(first.status, 204) << first.body;
  EXPECT_EQ(first.Header("Upload-Offset"), std::to_string(2 * kChunk));

  // A disconnect in the middle of the third chunk keeps only whole chunks.
  TestBodyReader cut(clip.substr(2 * kChunk), true, kChunk + 100);
  auto interrupted = Call("PATCH /api/v1/tus/{id}", {{"id", id}}, "",
                          Tus({{"Content-Type", "application/offset+octet-stream"},
                               {"Upload-Offset", std::to_string(2 * kChunk)}}),
                          Creator(), &cut);
  EXPECT_EQ(interrupted.status, 204) << interrupted.body;
  auto offset =
      std::stoull(Call("HEAD /api/v1/tus/{id}", {{"id", id}}, "", Tus()).Header("Upload-Offset"));
  EXPECT_EQ(offset, 3 * kChunk);

  auto last = patch(offset, clip.substr(offset));
  ASSERT_EQ(last.status, 204) << last.body;
  EXPECT_EQ(last.Header("Upload-Offset"), std::to_string(clip.size()));
  auto content_id = last.Header(kContentIdHeader);
  ASSERT_EQ(content_id, id);
  auto content = metadata_->GetContent(content_id);
  ASSERT_TRUE(content);
  EXPECT_EQ(content->filename, "my clip.mp4");
  EXPECT_EQ(content->content_type, "video/mp4");
  EXPECT_EQ(content->tags, (std::vector<std::string>{"cats", "dogs"}));
  EXPECT_EQ(content->sha256, Sha256Hex(clip));
  ASSERT_TRUE(WaitForEvents(1));
}

TEST_F(UploadServiceTest, TusVisibilityMetadataIsEchoedByHeadAndMakesThePrivateContent) {
  const auto& clip = Media::Clip();
  ASSERT_FALSE(clip.empty());
  auto create = Call("POST /api/v1/tus", {}, "",
                     Tus({{"Upload-Length", std::to_string(clip.size())},
                          {"Upload-Metadata", "filename " + Base64Encode("secret.mp4") +
                                                  ",visibility " + Base64Encode("private")}}));
  ASSERT_EQ(create.status, 201) << create.body;
  auto id = create.Header("Location").substr(12);
  EXPECT_EQ(metadata_->GetUpload(id)->visibility, "private");
  auto head = Call("HEAD /api/v1/tus/{id}", {{"id", id}}, "", Tus());
  ASSERT_EQ(head.status, 200) << head.body;
  EXPECT_NE(head.Header("Upload-Metadata").find("visibility " + Base64Encode("private")),
            std::string::npos)
      << head.Header("Upload-Metadata");
  EXPECT_EQ(Call("GET /api/v1/upload/{id}", {{"id", id}}).Json().at("visibility").as_string(),
            "private");

  auto last =
      Call("PATCH /api/v1/tus/{id}", {{"id", id}}, clip,
           Tus({{"Content-Type", "application/offset+octet-stream"}, {"Upload-Offset", "0"}}));
  ASSERT_EQ(last.status, 204) << last.body;
  ASSERT_EQ(last.Header(kContentIdHeader), id);
  auto content = metadata_->GetContent(id);
  ASSERT_TRUE(content) << content.error().ToString();
  EXPECT_EQ(content->visibility, "private");
  EXPECT_EQ(content->filename, "secret.mp4");
}

TEST_F(UploadServiceTest, TusCreationWithAnUnknownVisibilityIs400AndOpensNothing) {
  for (std::string metadata :
       {"visibility " + Base64Encode("secret"), "visibility " + Base64Encode("PUBLIC"),
        std::string("visibility"),
        "filename " + Base64Encode("a.mp4") + ",visibility " + Base64Encode("private ")}) {
    auto reply = Call("POST /api/v1/tus", {}, "",
                      Tus({{"Upload-Length", "10"}, {"Upload-Metadata", metadata}}));
    EXPECT_EQ(reply.status, 400) << metadata << ": " << reply.body;
    EXPECT_EQ(reply.Header("Tus-Resumable"), "1.0.0");
    auto message = std::string(reply.Json().at("error").at("message").as_string());
    EXPECT_NE(message.find("visibility: must be \"public\", \"unlisted\" or \"private\""),
              std::string::npos)
        << message;
  }
  EXPECT_EQ(*metadata_->CountOpenUploads("alice"), 0u);
}

TEST_F(UploadServiceTest, TusPatchBodiesMayEndAnywhereInsideAChunk) {
  const auto& clip = Media::Clip();
  ASSERT_GT(clip.size(), 2 * kChunk);
  auto create = Call("POST /api/v1/tus", {}, "",
                     Tus({{"Upload-Length", std::to_string(clip.size())},
                          {"Upload-Metadata", "filename " + Base64Encode("odd.mp4")}}));
  ASSERT_EQ(create.status, 201) << create.body;
  auto id = create.Header("Location").substr(12);
  auto patch = [&](std::uint64_t offset, std::string body, HttpHeaders extra = {}) {
    extra.emplace_back("Content-Type", "application/offset+octet-stream");
    extra.emplace_back("Upload-Offset", std::to_string(offset));
    return Call("PATCH /api/v1/tus/{id}", {{"id", id}}, std::move(body), Tus(std::move(extra)));
  };
  auto head_offset = [&] {
    return std::stoull(
        Call("HEAD /api/v1/tus/{id}", {{"id", id}}, "", Tus()).Header("Upload-Offset"));
  };
  // Pieces that never line up with chunks (as a client with its own chunkSize sends them).
  const std::uint64_t piece = kChunk / 3 + 7;
  std::uint64_t offset = 0;
  bool checked_bad_sum = false;
  while (offset < clip.size()) {
    auto body = clip.substr(offset, std::min<std::uint64_t>(piece, clip.size() - offset));
    if (!checked_bad_sum && offset > kChunk) {
      // A checksum mismatch in the middle of a chunk: 460 and the offset does not move.
      auto bad = patch(offset, body,
                       {{"Upload-Checksum", "sha256 " + Base64Encode(std::string(32, 'x'))}});
      EXPECT_EQ(bad.status, 460) << bad.body;
      EXPECT_EQ(head_offset(), offset);
      auto sha = Digest::Sha256();
      sha.Update(body);
      auto good =
          patch(offset, body, {{"Upload-Checksum", "sha256 " + Base64Encode(sha.Finish())}});
      ASSERT_EQ(good.status, 204) << good.body;
      checked_bad_sum = true;
    } else {
      auto reply = patch(offset, body);
      ASSERT_EQ(reply.status, 204) << reply.body;
    }
    offset += body.size();
    ASSERT_EQ(head_offset(), offset);
  }
  auto content = metadata_->GetContent(id);
  ASSERT_TRUE(content);
  EXPECT_EQ(content->sha256, Sha256Hex(clip));
  EXPECT_TRUE(checked_bad_sum);
}

TEST_F(UploadServiceTest, TusCreationWithUploadAndTermination) {
  std::string file(kChunk + 10, 'w');
  auto create = Call("POST /api/v1/tus", {}, file.substr(0, kChunk),
                     Tus({{"Upload-Length", std::to_string(file.size())},
                          {"Content-Type", "application/offset+octet-stream"}}));
  ASSERT_EQ(create.status, 201) << create.body;
  EXPECT_EQ(create.Header("Upload-Offset"), std::to_string(kChunk));
  auto id = create.Header("Location").substr(12);
  EXPECT_EQ(ChunkCount(id), 1u);
  auto gone = Call("DELETE /api/v1/tus/{id}", {{"id", id}}, "", Tus());
  EXPECT_EQ(gone.status, 204);
  EXPECT_EQ(gone.Header("Tus-Resumable"), "1.0.0");
  EXPECT_EQ(Call("HEAD /api/v1/tus/{id}", {{"id", id}}, "", Tus()).status, 404);
}

TEST_F(UploadServiceTest, TusCreationErrors) {
  EXPECT_EQ(Call("POST /api/v1/tus", {}, "", Tus()).status, 400);
  EXPECT_EQ(Call("POST /api/v1/tus", {}, "", Tus({{"Upload-Defer-Length", "1"}})).status, 400);
  EXPECT_EQ(Call("POST /api/v1/tus", {}, "",
                 Tus({{"Upload-Length", "10"}, {"Upload-Metadata", "filename !!"}}))
                .status,
            400);
  EXPECT_EQ(Call("POST /api/v1/tus", {}, "", Tus({{"Upload-Length", "10"}}), Principal{}).status,
            401);
  EXPECT_EQ(Call("POST /api/v1/tus", {}, "", {{"Upload-Length", "10"}}).status, 412);
}

TEST_F(UploadServiceTest, TusExpiredUploadIsGone) {
  auto create = Call("POST /api/v1/tus", {}, "", Tus({{"Upload-Length", "100"}}));
  ASSERT_EQ(create.status, 201);
  auto id = create.Header("Location").substr(12);
  fake_clock().Advance(25h);
  EXPECT_EQ(Call("HEAD /api/v1/tus/{id}", {{"id", id}}, "", Tus()).status, 410);
}

}  // namespace
}  // namespace sg::plugins::upload

namespace sg::plugins::upload {
namespace {

// A JobRunner that records what the plugin registers, so that the test runs the handler.
class RecordingRunner final : public JobRunner {
 public:
  Result<> RegisterHandler(std::string type, std::shared_ptr<JobHandler> handler,
                           JobTypeOptions) override {
    handlers[type] = std::move(handler);
    return {};
  }
  Result<> SchedulePeriodic(std::string type, Duration interval, std::string) override {
    periodic[type] = interval;
    return {};
  }
  std::map<std::string, std::shared_ptr<JobHandler>> handlers;
  std::map<std::string, Duration> periodic;
};

class OneAttempt final : public JobContext {
 public:
  const Job& job() const noexcept override { return job_; }
  void ReportProgress(JobProgress) override {}
  bool cancelled() const noexcept override { return false; }

 private:
  Job job_;
};

// The plugin wiring: Init requires the stores and the JobRunner, registers every route and
// schedules the cleanup as a periodic job whose handler removes an expired session.
TEST_F(UploadServiceTest, PluginRegistersRoutesAndSchedulesTheCleanupJob) {
  std::string file(kChunk, 'e');
  auto expired_id = InitUpload(file.size());
  fake_clock().Advance(25h);
  auto context = std::make_unique<sg::testing::TestPluginContext>(
      sg::testing::TestPluginContext::MakeConfig(config_), clock_);
  auto router = std::make_shared<CapturingRouter>();
  auto runner = std::make_shared<RecordingRunner>();
  ASSERT_TRUE(context->Provide<HttpRouter>(router));
  ASSERT_TRUE(context->Provide<ObjectStore>(objects_));
  ASSERT_TRUE(context->Provide<MetadataStore>(metadata_));
  ASSERT_TRUE(context->Provide<EventBus>(bus_));
  ASSERT_TRUE(context->Provide<JobRunner>(runner));
  context->mutable_server().data_dir = dir_.path();
  auto plugin = MakeUploadPlugin();
  EXPECT_EQ(plugin->Info().dependencies,
            (std::vector<std::string>{"gateway", "storage", "metadata", "worker"}));
  ASSERT_TRUE(plugin->Init(*context));
  EXPECT_EQ(router->routes.size(), 11u);
  ASSERT_EQ(runner->periodic.count("upload.cleanup"), 1u);
  EXPECT_EQ(runner->periodic["upload.cleanup"], Duration(config_.cleanup_interval));
  ASSERT_TRUE(plugin->Start());
  OneAttempt attempt;
  auto result = runner->handlers.at("upload.cleanup")->Run(attempt);
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_EQ(*result, R"({"removed":1})");
  EXPECT_FALSE(metadata_->GetUpload(expired_id));
  plugin->Stop(SteadyTime::max());
}

TEST(UploadPluginTest, InitFailsWithoutTheStores) {
  auto context = std::make_unique<sg::testing::TestPluginContext>(
      sg::testing::TestPluginContext::MakeConfig(UploadConfig{}));
  auto plugin = MakeUploadPlugin();
  auto result = plugin->Init(*context);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kNotFound);
  plugin->Stop(SteadyTime::max());
}

}  // namespace
}  // namespace sg::plugins::upload

namespace sg::plugins::upload {
namespace {

// A crash between assembling and recording "completed" leaves the session completing with
// its object assembled: the next complete (a new process) finishes it, with one content.
TEST_F(UploadServiceTest, CompletionInterruptedAfterAssemblyIsFinishedByTheNextComplete) {
  const auto& clip = Media::Clip();
  ASSERT_FALSE(clip.empty());
  auto id = InitUpload(clip.size(), Sha256Hex(clip));
  auto total = static_cast<std::uint32_t>(ChunkLayout{clip.size(), kChunk}.TotalChunks());
  std::vector<PartInfo> parts;
  for (std::uint32_t n = 0; n < total; ++n) {
    ASSERT_EQ(PutChunk(id, n, ChunkOf(clip, n)).status, 201);
  }
  auto chunks = metadata_->ListChunks(id);
  for (const auto& chunk : *chunks) {
    parts.push_back({chunk.index + 1, chunk.size, chunk.etag});
  }
  auto session = metadata_->GetUpload(id);
  ASSERT_TRUE(metadata_->TransitionUpload(id, "open", "completing"));
  ASSERT_TRUE(objects_->CompleteMultipart(session->object_key, session->multipart_id, parts));
  MakeService();  // "restart": no completion of it runs in this process
  auto done = Call("POST /api/v1/upload/{id}/complete", {{"id", id}});
  ASSERT_EQ(done.status, 201) << done.body;
  auto content = metadata_->GetContent(id);
  ASSERT_TRUE(content);
  EXPECT_EQ(content->sha256, Sha256Hex(clip));
}

}  // namespace
}  // namespace sg::plugins::upload
