// The transcode job end to end: real ffmpeg on clips generated here, the REAL
// LocalObjectStore and SQLite MetadataStore (temporary folders), the in-memory event bus,
// and a fake JobContext standing in for the worker.

#include "plugins/transcode/transcode_job.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>

#include "core/memory_event_bus.h"
#include "core/metrics_registry.h"
#include "core/testing/string_source.h"
#include "plugins/metadata/sqlite_metadata_store.h"
#include "plugins/storage/local_object_store.h"
#include "plugins/transcode/test_media.h"
#include "plugins/upload/probe.h"

namespace sg::plugins::transcode {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

class FakeJobContext final : public JobContext {
 public:
  explicit FakeJobContext(std::string content_id, int attempt = 1, int max_attempts = 3) {
    job_.id = "job" + content_id;
    job_.type = "transcode";
    job_.payload = R"({"content_id":")" + content_id + R"("})";
    job_.content_id = content_id;
    job_.attempts = attempt;
    job_.max_attempts = max_attempts;
    job_.state = "running";
  }
  const Job& job() const noexcept override { return job_; }
  void ReportProgress(JobProgress progress) override {
    std::lock_guard lock(mutex_);
    progress_.push_back(progress);
    if (on_progress) {
      on_progress();
    }
  }
  bool cancelled() const noexcept override { return cancel.load(); }
  std::vector<JobProgress> progress() {
    std::lock_guard lock(mutex_);
    return progress_;
  }

  std::atomic<bool> cancel{false};
  std::function<void()> on_progress;

 private:
  Job job_;
  std::mutex mutex_;
  std::vector<JobProgress> progress_;
};

class TranscodeJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    auto objects =
        storage::LocalObjectStore::Open({.root = dir_.path() / "objects", .fsync = false}, clock_);
    ASSERT_TRUE(objects) << objects.error().ToString();
    objects_ = *objects;
    auto metadata = metadata::SqliteMetadataStore::Open({.path = dir_.path() / "meta.db"}, clock_);
    ASSERT_TRUE(metadata) << metadata.error().ToString();
    metadata_ = *metadata;
    logger_ = std::make_shared<spdlog::logger>("test");
    bus_ = std::make_shared<core::InMemoryEventBus>(core::InMemoryEventBus::Options{}, logger_,
                                                    metrics_);
    auto subscription =
        bus_->Subscribe("streamgate.transcoding.>", [this](const BusMessage& message) {
          std::lock_guard lock(events_mutex_);
          events_.emplace_back(message.subject, json::parse(message.data));
        });
    ASSERT_TRUE(subscription);
    subscription_ = std::move(*subscription);
    config_.ladder = {"144p=100k", "240p=200k"};
    config_.threads = 2;
    config_.timeout = 60s;
    MakeHandler();
  }

  void TearDown() override {
    subscription_.reset();
    bus_->Close(std::chrono::steady_clock::now() + 5s);
  }

  void MakeHandler() {
    auto handler = TranscodeJobHandler::Create(config_, {.objects = objects_,
                                                         .metadata = metadata_,
                                                         .bus = bus_,
                                                         .clock = &clock_,
                                                         .logger = logger_,
                                                         .work_root = dir_.path() / "work"});
    ASSERT_TRUE(handler) << handler.error().ToString();
    handler_ = *handler;
  }

  // An uploaded content whose source is `clip`, with the probe summary the upload plugin
  // would have stored (or `probe_json` when given).
  void AddContent(const std::string& id, const testing::ClipSpec& spec,
                  std::string probe_json = {}) {
    auto clip = dir_.path() / (id + ".mp4");
    ASSERT_EQ(testing::MakeClip(clip, spec), "");
    AddContentFromFile(id, clip, std::move(probe_json));
  }

  void AddContentFromFile(const std::string& id, const std::filesystem::path& file,
                          std::string probe_json = {}) {
    if (probe_json.empty()) {
      auto probe = upload::ProbeFile("ffprobe", file, 30s);
      ASSERT_TRUE(probe && *probe);
      probe_json = (*probe)->json;
    }
    std::ifstream in(file, std::ios::binary);
    std::stringstream data;
    data << in.rdbuf();
    sg::testing::StringSource source(data.str());
    auto key = "uploads/" + id + "/source";
    ASSERT_TRUE(objects_->Put(key, source));
    ContentRecord content;
    content.id = id;
    content.owner = "alice";
    content.title = id;
    content.object_key = key;
    content.probe_json = probe_json;
    content.created_at = clock_.WallNow();
    content.updated_at = content.created_at;
    auto created = metadata_->CreateContent(content);
    ASSERT_TRUE(created) << created.error().ToString();
  }

  std::vector<std::pair<std::string, json::value>> Events(std::string_view subject) {
    // Delivery is asynchronous but ordered per subscription: once a marker published now
    // has arrived, everything published before it has too.
    auto marker = std::to_string(++markers_);
    EXPECT_TRUE(bus_->Publish({.subject = "streamgate.transcoding.marker", .data = marker}));
    auto deadline = std::chrono::steady_clock::now() + 5s;
    auto arrived = [&] {
      std::lock_guard lock(events_mutex_);
      return !events_.empty() && events_.back().first == "streamgate.transcoding.marker" &&
             events_.back().second == json::parse(marker);
    };
    while (!arrived() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    std::lock_guard lock(events_mutex_);
    std::vector<std::pair<std::string, json::value>> matching;
    for (const auto& event : events_) {
      if (event.first == subject) {
        matching.push_back(event);
      }
    }
    return matching;
  }

  std::vector<std::string> ObjectKeys(const std::string& prefix) {
    std::vector<std::string> keys;
    auto page = objects_->List(prefix, "", 1000);
    EXPECT_TRUE(page);
    for (const auto& object : page->objects) {
      keys.push_back(object.key);
    }
    return keys;
  }

  // Every rendition's segments are numbered 0..n-1 and stored.
  void ExpectContiguousSegments(const std::string& id) {
    auto renditions = metadata_->ListRenditions(id);
    ASSERT_TRUE(renditions);
    for (const auto& rendition : *renditions) {
      auto segments = metadata_->ListSegments(id, rendition.name);
      ASSERT_TRUE(segments);
      ASSERT_FALSE(segments->empty()) << rendition.name;
      for (std::size_t i = 0; i < segments->size(); ++i) {
        const auto& segment = (*segments)[i];
        EXPECT_EQ(segment.number, i) << rendition.name;
        EXPECT_EQ(segment.object_key,
                  "media/" + id + "/" + rendition.name + "/segment_" + std::to_string(i) + ".m4s");
        auto stat = objects_->Stat(segment.object_key);
        ASSERT_TRUE(stat) << segment.object_key;
        EXPECT_EQ(stat->size, segment.bytes);
        EXPECT_GT(segment.duration_seconds, 0);
      }
      EXPECT_TRUE(objects_->Stat(rendition.init_key)) << rendition.init_key;
    }
  }

  testing::TempDir dir_;
  SystemClock clock_;
  core::PrometheusMetricsRegistry metrics_;
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<storage::LocalObjectStore> objects_;
  std::shared_ptr<metadata::SqliteMetadataStore> metadata_;
  std::shared_ptr<core::InMemoryEventBus> bus_;
  std::unique_ptr<BusSubscription> subscription_;
  std::mutex events_mutex_;
  std::vector<std::pair<std::string, json::value>> events_;
  int markers_ = 0;
  TranscodeConfig config_;
  std::shared_ptr<TranscodeJobHandler> handler_;
};

constexpr const char* kId = "content00000000001";

TEST_F(TranscodeJobTest, EndsReadyWithRenditionsSegmentsCodecsAndPoster) {
  AddContent(kId, {.width = 640, .height = 360, .seconds = 3, .audio = true});
  FakeJobContext context(kId);

  auto result = handler_->Run(context);

  ASSERT_TRUE(result) << result.error().ToString();
  auto content = metadata_->GetContent(kId);
  ASSERT_TRUE(content);
  EXPECT_EQ(content->status, "ready");
  EXPECT_EQ(content->status_reason, "");
  EXPECT_DOUBLE_EQ(content->frame_rate, 25);
  EXPECT_NEAR(content->duration_seconds, 3, 0.1);
  EXPECT_EQ(content->poster_key, std::string("media/") + kId + "/poster.jpg");
  auto poster = objects_->Stat(content->poster_key);
  ASSERT_TRUE(poster);
  EXPECT_GT(poster->size, 100u);

  auto renditions = metadata_->ListRenditions(kId);
  ASSERT_TRUE(renditions);
  ASSERT_EQ(renditions->size(), 3u);
  const auto& low = (*renditions)[0];
  EXPECT_EQ(low.name, "144p");
  EXPECT_EQ(low.kind, "video");
  EXPECT_EQ(low.width, 256);
  EXPECT_EQ(low.height, 144);
  EXPECT_EQ(low.codec.substr(0, 9), "avc1.6400");
  EXPECT_EQ(low.codec.size(), 11u);
  EXPECT_EQ(low.bandwidth, 107'000u);
  EXPECT_DOUBLE_EQ(low.frame_rate, 25);
  EXPECT_DOUBLE_EQ(low.target_segment_seconds, 4);
  EXPECT_TRUE(low.complete);
  EXPECT_EQ(low.init_key, std::string("media/") + kId + "/144p/init.mp4");
  EXPECT_EQ((*renditions)[1].name, "240p");
  EXPECT_EQ((*renditions)[1].width, 426);
  const auto& audio = (*renditions)[2];
  EXPECT_EQ(audio.name, "audio");
  EXPECT_EQ(audio.kind, "audio");
  EXPECT_EQ(audio.codec, "mp4a.40.2");
  EXPECT_EQ(audio.channels, 2);
  EXPECT_EQ(audio.sample_rate, 44100);
  EXPECT_EQ(audio.bandwidth, 128'000u);
  EXPECT_TRUE(audio.complete);
  ExpectContiguousSegments(kId);

  EXPECT_FALSE(context.progress().empty());
  EXPECT_DOUBLE_EQ(context.progress().back().fraction, 1.0);
  auto started = Events("streamgate.transcoding.started");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].second.at("job_id").as_string(), context.job().id);
  EXPECT_EQ(started[0].second.at("attempt").as_int64(), 1);
  EXPECT_EQ(started[0].second.at("renditions").as_array().size(), 3u);
  auto completed = Events("streamgate.transcoding.completed");
  ASSERT_EQ(completed.size(), 1u);
  EXPECT_EQ(completed[0].second.at("content_id").as_string(), kId);
  EXPECT_NEAR(completed[0].second.at("duration_seconds").as_double(), 3, 0.1);
  auto progress = Events("streamgate.transcoding.progress");
  ASSERT_FALSE(progress.empty());
  EXPECT_DOUBLE_EQ(progress.back().second.at("percent").to_number<double>(), 100);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "work" / kId));
}

TEST_F(TranscodeJobTest, SegmentsAreRecordedWhileFfmpegStillRuns) {
  AddContent(kId, {.width = 320, .height = 180, .seconds = 24, .audio = false});
  config_.ladder = {"144p=100k"};
  config_.threads = 1;
  MakeHandler();
  FakeJobContext context(kId);
  // Progress is reported from ffmpeg's own output, so ffmpeg is running whenever this
  // runs: a segment listed here was recorded before the transcode ended.
  std::atomic<bool> listed_while_running{false};
  context.on_progress = [&] {
    auto listed = metadata_->ListSegments(kId, "144p");
    if (listed && !listed->empty()) {
      listed_while_running = true;
    }
  };
  ASSERT_TRUE(handler_->Run(context));
  auto segments = metadata_->ListSegments(kId, "144p");
  ASSERT_TRUE(segments);
  ASSERT_EQ(segments->size(), 6u);
  EXPECT_TRUE(listed_while_running.load());
}

TEST_F(TranscodeJobTest, SourceWithoutAudioHasNoAudioRendition) {
  AddContent(kId, {.width = 320, .height = 240, .seconds = 2, .audio = false});
  FakeJobContext context(kId);
  ASSERT_TRUE(handler_->Run(context));
  auto renditions = metadata_->ListRenditions(kId);
  ASSERT_TRUE(renditions);
  ASSERT_EQ(renditions->size(), 2u);
  for (const auto& rendition : *renditions) {
    EXPECT_EQ(rendition.kind, "video");
  }
  EXPECT_EQ(metadata_->GetContent(kId)->status, "ready");
  ExpectContiguousSegments(kId);
}

TEST_F(TranscodeJobTest, VeryShortSourceGetsOneSegmentPerRendition) {
  AddContent(kId, {.width = 320, .height = 240, .seconds = 0.5, .audio = true});
  FakeJobContext context(kId);
  ASSERT_TRUE(handler_->Run(context));
  EXPECT_EQ(metadata_->GetContent(kId)->status, "ready");
  auto renditions = metadata_->ListRenditions(kId);
  ASSERT_TRUE(renditions);
  ASSERT_EQ(renditions->size(), 3u);
  for (const auto& rendition : *renditions) {
    EXPECT_EQ(metadata_->ListSegments(kId, rendition.name)->size(), 1u) << rendition.name;
  }
  EXPECT_FALSE(metadata_->GetContent(kId)->poster_key.empty());
}

TEST_F(TranscodeJobTest, PortraitSourceKeepsItsOrientation) {
  AddContent(kId, {.width = 360, .height = 640, .seconds = 1, .audio = false});
  FakeJobContext context(kId);
  ASSERT_TRUE(handler_->Run(context));
  auto renditions = metadata_->ListRenditions(kId);
  ASSERT_TRUE(renditions);
  ASSERT_EQ(renditions->size(), 2u);
  EXPECT_EQ((*renditions)[0].width, 144);
  EXPECT_EQ((*renditions)[0].height, 256);
  EXPECT_EQ((*renditions)[1].width, 240);
  EXPECT_EQ((*renditions)[1].height, 426);
}

TEST_F(TranscodeJobTest, RotatedPhoneVideoComesOutUprightWithItsRealSizeRecorded) {
  // Stored 320x180 with a 90 degree display rotation: viewers see 180x320.
  AddContent(kId, {.width = 320, .height = 180, .seconds = 1, .audio = false, .rotate = 90});
  FakeJobContext context(kId);
  ASSERT_TRUE(handler_->Run(context));
  auto renditions = metadata_->ListRenditions(kId);
  ASSERT_TRUE(renditions);
  ASSERT_EQ(renditions->size(), 1u);
  EXPECT_EQ((*renditions)[0].name, "144p");
  EXPECT_EQ((*renditions)[0].width, 144);
  EXPECT_EQ((*renditions)[0].height, 256);
}

TEST_F(TranscodeJobTest, SourceSmallerThanTheLowestRungGetsOneRungAtItsSize) {
  AddContent(kId, {.width = 128, .height = 96, .seconds = 1, .audio = false});
  FakeJobContext context(kId);
  ASSERT_TRUE(handler_->Run(context));
  auto renditions = metadata_->ListRenditions(kId);
  ASSERT_TRUE(renditions);
  ASSERT_EQ(renditions->size(), 1u);
  EXPECT_EQ((*renditions)[0].name, "96p");
  EXPECT_EQ((*renditions)[0].width, 128);
  EXPECT_EQ((*renditions)[0].height, 96);
  EXPECT_EQ(metadata_->GetContent(kId)->status, "ready");
}

TEST_F(TranscodeJobTest, CorruptSourceFailsWithFfmpegsReasonAndSaysItWillRetry) {
  auto file = dir_.path() / "corrupt.mp4";
  {
    std::ofstream out(file, std::ios::binary);
    for (int i = 0; i < 20000; ++i) {
      out.put(static_cast<char>((i * 7919 + 13) % 251));
    }
  }
  AddContentFromFile(kId, file,
                     R"({"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":2,"streams":[)"
                     R"({"codec_type":"video","codec_name":"h264","width":320,"height":240,)"
                     R"("r_frame_rate":"25/1"}]})");
  FakeJobContext context(kId, 1, 3);

  auto result = handler_->Run(context);

  ASSERT_FALSE(result);
  RecordProperty("reason", result.error().message);
  EXPECT_NE(result.error().message.find("ffmpeg exit code"), std::string::npos)
      << result.error().message;
  EXPECT_NE(result.error().message.find("the source: Invalid data"), std::string::npos)
      << result.error().message;
  EXPECT_EQ(result.error().message.find(dir_.path().string()), std::string::npos)
      << result.error().message;
  EXPECT_EQ(result.error().message.find("@ 0x"), std::string::npos) << result.error().message;
  auto content = metadata_->GetContent(kId);
  EXPECT_EQ(content->status, "processing");
  EXPECT_EQ(content->status_reason.rfind("attempt 1 failed: ffmpeg exit code", 0), 0u)
      << content->status_reason;
  EXPECT_NE(content->status_reason.find(", retrying"), std::string::npos);
  auto failed = Events("streamgate.transcoding.failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_FALSE(failed[0].second.at("final").as_bool());
  EXPECT_EQ(failed[0].second.at("attempt").as_int64(), 1);
  EXPECT_TRUE(metadata_->ListRenditions(kId)->empty());
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "work" / kId));
}

// ffmpeg exits 0 on a truncated file: the job must notice that most of the video is missing.
TEST_F(TranscodeJobTest, TruncatedSourceFailsInsteadOfBecomingAShortVideo) {
  auto whole = dir_.path() / "whole.mp4";
  ASSERT_EQ(testing::MakeClip(whole, {.width = 320, .height = 240, .seconds = 6, .audio = true}),
            "");
  // moov first, so the container still says 6 s once the media data is cut.
  auto faststart = dir_.path() / "faststart.mp4";
  SubprocessOptions remux;
  remux.argv = {"ffmpeg",          "-v", "error", "-y",        "-i",
                whole.string(),    "-c", "copy",  "-movflags", "+faststart",
                faststart.string()};
  auto remuxed = RunSubprocess(remux);
  ASSERT_TRUE(remuxed && remuxed->Succeeded());
  auto size = std::filesystem::file_size(faststart);
  std::filesystem::resize_file(faststart, size / 3);
  AddContentFromFile(kId, faststart,
                     R"({"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":6,"streams":[)"
                     R"({"codec_type":"video","codec_name":"h264","width":320,"height":240,)"
                     R"("r_frame_rate":"25/1"},{"codec_type":"audio","codec_name":"aac"}]})");
  FakeJobContext context(kId, 1, 3);

  auto result = handler_->Run(context);

  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("truncated or corrupt"), std::string::npos)
      << result.error().message;
  EXPECT_NE(metadata_->GetContent(kId)->status, "ready");
  auto renditions = metadata_->ListRenditions(kId);  // kept: the loop must not dangle
  ASSERT_TRUE(renditions);
  for (const auto& rendition : *renditions) {
    EXPECT_FALSE(rendition.complete) << rendition.name;
  }
}

TEST_F(TranscodeJobTest, LastAttemptFailureDoesNotPromiseARetry) {
  AddContentFromFile(kId, "/dev/null",
                     R"({"streams":[{"codec_type":"video","width":320,"height":240}]})");
  FakeJobContext context(kId, 3, 3);
  ASSERT_FALSE(handler_->Run(context));
  auto content = metadata_->GetContent(kId);
  EXPECT_EQ(content->status_reason.find("retrying"), std::string::npos) << content->status_reason;
}

TEST_F(TranscodeJobTest, DeadLetterMarksTheContentFailedWithTheLastError) {
  AddContent(kId, {.width = 160, .height = 120, .seconds = 0.5, .audio = false});
  Job job = FakeJobContext(kId).job();
  job.state = "dead";
  job.attempts = 3;
  job.last_error = "ffmpeg exit code 1: moov atom not found";
  sg::testing::StringSource junk("x");
  ASSERT_TRUE(objects_->Put(std::string("media/") + kId + "/junk", junk));

  handler_->OnDeadLetter(job);

  auto content = metadata_->GetContent(kId);
  EXPECT_EQ(content->status, "failed");
  EXPECT_EQ(content->status_reason, job.last_error);
  EXPECT_TRUE(ObjectKeys(std::string("media/") + kId + "/").empty());
  auto failed = Events("streamgate.transcoding.failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_TRUE(failed[0].second.at("final").as_bool());
  EXPECT_EQ(failed[0].second.at("error").as_string(), job.last_error);
}

TEST_F(TranscodeJobTest, CancellationKillsFfmpegPromptly) {
  AddContent(kId, {.width = 640, .height = 360, .seconds = 10, .audio = true, .fps = 30});
  config_.ladder = {"144p=100k", "240p=200k", "360p=500k"};
  config_.threads = 1;
  MakeHandler();
  FakeJobContext context(kId);
  std::atomic<std::int64_t> cancelled_at{0};
  context.on_progress = [&] {
    if (!context.cancel.exchange(true)) {
      cancelled_at = std::chrono::steady_clock::now().time_since_epoch().count();
    }
  };

  auto result = handler_->Run(context);
  auto returned_at = std::chrono::steady_clock::now().time_since_epoch().count();

  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("cancelled"), std::string::npos) << result.error().message;
  ASSERT_NE(cancelled_at.load(), 0);
  RecordProperty("cancel_to_return_ms",
                 std::to_string((returned_at - cancelled_at.load()) / 1'000'000));
  EXPECT_LT(std::chrono::nanoseconds(returned_at - cancelled_at.load()), 2s);
  EXPECT_NE(metadata_->GetContent(kId)->status, "ready");
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "work" / kId));
  EXPECT_TRUE(Events("streamgate.transcoding.completed").empty());
}

TEST_F(TranscodeJobTest, RerunAfterAPartialAttemptLeavesNoStaleObjectsOrRecords) {
  AddContent(kId, {.width = 320, .height = 240, .seconds = 1, .audio = false});
  // What a killed attempt could leave behind: a stray object, a rendition with segments
  // numbered past what this run makes, and leftovers in the work dir.
  sg::testing::StringSource junk("junk");
  ASSERT_TRUE(objects_->Put(std::string("media/") + kId + "/junk", junk));
  RenditionRecord stale{.content_id = kId, .name = "999p", .codec = "avc1.640028"};
  ASSERT_TRUE(metadata_->PutRendition(stale));
  ASSERT_TRUE(metadata_->PutSegment(
      {.content_id = kId, .rendition = "999p", .number = 0, .object_key = "media/x"}));
  RenditionRecord partial{.content_id = kId, .name = "144p", .codec = "avc1.640028"};
  ASSERT_TRUE(metadata_->PutRendition(partial));
  ASSERT_TRUE(metadata_->PutSegment(
      {.content_id = kId, .rendition = "144p", .number = 7, .object_key = "media/y"}));
  std::filesystem::create_directories(dir_.path() / "work" / kId / "144p");
  std::ofstream(dir_.path() / "work" / kId / "144p" / "playlist.m3u8")
      << "#EXTM3U\n#EXT-X-MAP:URI=\"init_0.mp4\"\n#EXTINF:4,\nsegment_0.m4s\n";
  FakeJobContext context(kId, 2);

  ASSERT_TRUE(handler_->Run(context));

  auto keys = ObjectKeys(std::string("media/") + kId + "/");
  EXPECT_EQ(std::count(keys.begin(), keys.end(), std::string("media/") + kId + "/junk"), 0);
  auto renditions = metadata_->ListRenditions(kId);
  ASSERT_TRUE(renditions);
  ASSERT_EQ(renditions->size(), 2u);
  EXPECT_EQ((*renditions)[0].name, "144p");
  EXPECT_EQ((*renditions)[1].name, "240p");
  EXPECT_EQ(metadata_->ListSegments(kId, "999p")->size(), 0u);
  EXPECT_EQ(metadata_->ListSegments(kId, "144p")->size(), 1u);
  ExpectContiguousSegments(kId);
  // Only what the records reference (plus the poster) is stored.
  std::size_t referenced = 1;
  for (const auto& rendition : *renditions) {
    referenced += 1 + metadata_->ListSegments(kId, rendition.name)->size();
  }
  EXPECT_EQ(keys.size(), referenced);
}

TEST_F(TranscodeJobTest, DeletedContentIsSkipped) {
  FakeJobContext context("content0000000gone");
  auto result = handler_->Run(context);
  ASSERT_TRUE(result);
  EXPECT_NE(result->find("skipped"), std::string::npos);
}

TEST_F(TranscodeJobTest, BadPayloadIsAnError) {
  FakeJobContext context(kId);
  Job job = context.job();
  struct BadContext final : JobContext {
    Job stored;
    const Job& job() const noexcept override { return stored; }
    void ReportProgress(JobProgress) override {}
    bool cancelled() const noexcept override { return false; }
  };
  BadContext bad;
  bad.stored = job;
  bad.stored.payload = "{}";
  EXPECT_FALSE(handler_->Run(bad));
}

TEST_F(TranscodeJobTest, PlaylistFormatSourcesAreRefused) {
  AddContentFromFile(kId, "/dev/null",
                     R"({"format_name":"hls","streams":[{"codec_type":"video","width":320,)"
                     R"("height":240}]})");
  FakeJobContext context(kId);
  auto result = handler_->Run(context);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("hls"), std::string::npos);
}

}  // namespace
}  // namespace sg::plugins::transcode
