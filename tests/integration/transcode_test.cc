// Integration tests of transcoding: the real streamgate binary with the real ffmpeg, clips
// generated at test time, uploads through the real CLI, results checked through the HTTP
// API, on disk, and with ffprobe.

#include <signal.h>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "tests/integration/media_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/test_server.h"

namespace sg::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

using TranscodeIntegrationTest = MediaIntegrationTest;

TEST_F(TranscodeIntegrationTest, UploadBecomesAReadyLadderWithAudioAndPoster) {
  StartServer();
  auto id = Upload(MakeClip("clip.mp4", "426x240", 4));
  ASSERT_FALSE(id.empty());
  auto record = WaitSettled(id);
  ASSERT_EQ(Status(record), "ready") << json::serialize(record);
  EXPECT_EQ(RenditionNames(record), (std::vector<std::string>{"144p", "240p", "audio"}));
  EXPECT_NEAR(record.at("frame_rate").to_number<double>(), 25, 0.01);
  EXPECT_TRUE(record.at("has_poster").as_bool());
  EXPECT_TRUE(fs::exists(server_->data_dir() / "objects" / "media" / id / "poster.jpg"));
  ExpectMediaIntact(id, record, 4);

  // The job is visible and succeeded.
  auto jobs = Call("GET", "/api/v1/jobs?content_id=" + id);
  ASSERT_TRUE(jobs);
  ASSERT_EQ(jobs->status, 200) << jobs->body;
  const json::value jobs_body = json::parse(jobs->body);  // outlives `items`
  const auto& items = jobs_body.at("items").as_array();
  ASSERT_EQ(items.size(), 1u) << jobs->body;
  EXPECT_EQ(items[0].at("state").as_string(), "succeeded");
  EXPECT_EQ(items[0].at("type").as_string(), "transcode");
  // The work directory is cleaned up.
  EXPECT_FALSE(fs::exists(server_->data_dir() / "work" / "transcode" / id));
}

TEST_F(TranscodeIntegrationTest, EventStreamReportsProgressAndEndsWhenReady) {
  StartServer();
  auto id = Upload(MakeClip("clip.mp4", "426x240", 6));
  ASSERT_FALSE(id.empty());
  auto reply = Call("GET", "/api/v1/content/" + id + "/events", 120s);
  ASSERT_TRUE(reply) << "the stream did not end";
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->Header("content-type").rfind("text/event-stream", 0), 0u);
  EXPECT_NE(reply->body.find("event: status"), std::string::npos) << reply->body;
  // Whatever the stream started with, it ends with the ready status.
  auto last = reply->body.rfind("event: status");
  EXPECT_NE(reply->body.find("\"status\":\"ready\"", last), std::string::npos) << reply->body;
  // A finished content's stream answers the state at once and ends.
  auto again = Call("GET", "/api/v1/content/" + id + "/events", 10s);
  ASSERT_TRUE(again);
  EXPECT_NE(again->body.find("\"status\":\"ready\""), std::string::npos) << again->body;

  auto missing = Call("GET", "/api/v1/content/aaaaaaaaaaaaaaaaaaaa/events");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto malformed = Call("GET", "/api/v1/content/..%2Fetc/events");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400);
}

TEST_F(TranscodeIntegrationTest, EdgeSourcesAllEndReadyWithSensibleRenditions) {
  StartServer();
  auto silent = Upload(MakeClip("silent.mp4", "426x240", 3, /*audio=*/false));
  auto short_clip = Upload(MakeClip("short.mp4", "426x240", 0.5));
  auto portrait = Upload(MakeClip("portrait.mp4", "240x426", 3));
  auto tiny = Upload(MakeClip("tiny.mp4", "96x64", 3));
  for (const auto& id : {silent, short_clip, portrait, tiny}) {
    ASSERT_FALSE(id.empty());
  }

  auto silent_record = WaitSettled(silent);
  ASSERT_EQ(Status(silent_record), "ready") << json::serialize(silent_record);
  EXPECT_EQ(RenditionNames(silent_record), (std::vector<std::string>{"144p", "240p"}));
  ExpectMediaIntact(silent, silent_record, 3);

  auto short_record = WaitSettled(short_clip);
  ASSERT_EQ(Status(short_record), "ready") << json::serialize(short_record);
  for (const auto& rendition : short_record.at("renditions").as_array()) {
    EXPECT_EQ(rendition.at("segments").to_number<int>(), 1);
  }
  ExpectMediaIntact(short_clip, short_record, 0.5);

  // Portrait: the rung names the shorter side, the aspect ratio is kept, sizes are even.
  auto portrait_record = WaitSettled(portrait);
  ASSERT_EQ(Status(portrait_record), "ready") << json::serialize(portrait_record);
  for (const auto& value : portrait_record.at("renditions").as_array()) {
    const auto& rendition = value.as_object();
    if (rendition.at("kind").as_string() != "video") {
      continue;
    }
    auto width = rendition.at("width").to_number<int>();
    auto height = rendition.at("height").to_number<int>();
    EXPECT_LT(width, height);
    EXPECT_EQ(width % 2, 0);
    EXPECT_EQ(height % 2, 0);
  }
  ExpectMediaIntact(portrait, portrait_record, 3);

  // Smaller than the lowest rung: one rung at the source's size, never upscaled.
  auto tiny_record = WaitSettled(tiny);
  ASSERT_EQ(Status(tiny_record), "ready") << json::serialize(tiny_record);
  int video_rungs = 0;
  for (const auto& value : tiny_record.at("renditions").as_array()) {
    const auto& rendition = value.as_object();
    if (rendition.at("kind").as_string() == "video") {
      ++video_rungs;
      EXPECT_EQ(rendition.at("width").to_number<int>(), 96);
      EXPECT_EQ(rendition.at("height").to_number<int>(), 64);
    }
  }
  EXPECT_EQ(video_rungs, 1);
  ExpectMediaIntact(tiny, tiny_record, 3);
}

TEST_F(TranscodeIntegrationTest, CorruptOrTruncatedSourcesAreDeadLetteredWithAReason) {
  StartServer();
  // A valid header (moov first, so the upload's probe accepts it) over garbage media data:
  // every attempt fails to decode it.
  auto clip = MakeClip("corrupt.mp4", "426x240", 3, true, "-movflags +faststart");
  {
    std::fstream file(clip, std::ios::in | std::ios::out | std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    auto mdat = data.find("mdat");
    ASSERT_NE(mdat, std::string::npos);
    std::uint64_t state = 0x9E3779B97F4A7C15ULL;
    for (std::size_t i = mdat + 4; i < data.size(); ++i) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      data[i] = static_cast<char>(state);
    }
    file.seekp(0);
    file.write(data.data(), static_cast<std::streamsize>(data.size()));
  }
  auto id = Upload(clip);
  ASSERT_FALSE(id.empty());
  auto record = WaitSettled(id);
  EXPECT_EQ(Status(record), "failed") << json::serialize(record);
  EXPECT_FALSE(record.at("status_reason").as_string().empty());

  auto jobs = Call("GET", "/api/v1/jobs?state=dead&content_id=" + id);
  ASSERT_TRUE(jobs);
  const json::value jobs_body = json::parse(jobs->body);  // outlives `items`
  const auto& items = jobs_body.at("items").as_array();
  ASSERT_EQ(items.size(), 1u) << jobs->body;
  EXPECT_EQ(items[0].at("attempts").to_number<int>(), 2);
  EXPECT_FALSE(items[0].at("last_error").as_string().empty());

  // A truncated upload (the container still claims the whole duration) fails the same way
  // instead of becoming a short "ready" video.
  auto whole = MakeClip("whole.mp4", "426x240", 8, true, "-movflags +faststart");
  fs::resize_file(whole, fs::file_size(whole) / 3);
  auto truncated = Upload(whole);
  ASSERT_FALSE(truncated.empty());
  auto truncated_record = WaitSettled(truncated);
  EXPECT_EQ(Status(truncated_record), "failed") << json::serialize(truncated_record);
  EXPECT_NE(truncated_record.at("status_reason").as_string().find("truncated"), std::string::npos)
      << json::serialize(truncated_record);

  // The server stays up and keeps serving.
  auto health = HttpGet(server_->port(), "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto good = Upload(MakeClip("good.mp4", "426x240", 2));
  EXPECT_EQ(Status(WaitSettled(good)), "ready");

  // An admin may retry a dead job; it is queued (and fails again: the source is still bad).
  std::string job_id(items[0].at("id").as_string());
  auto retried = Call("POST", "/api/v1/jobs/" + job_id + "/retry");
  ASSERT_TRUE(retried);
  EXPECT_EQ(retried->status, 200) << retried->body;
  auto not_dead = Call("POST", "/api/v1/jobs/" + job_id + "/retry");
  ASSERT_TRUE(not_dead);
  // Retrying a job that is no longer dead is a conflict (unless it already died again).
  EXPECT_TRUE(not_dead->status == 409 || not_dead->status == 200) << not_dead->body;
}

TEST_F(TranscodeIntegrationTest, KillNineDuringTranscodeRunsTheJobAgainAfterRestart) {
  // A slow preset and a longer clip keep the job running long enough to be killed midway.
  StartServer("  # appended\n");
  fs::path clip = MakeClip("long.mp4", "640x360", 16);
  server_.reset();
  std::ofstream(config_, std::ios::app) << "";
  {
    // Slower encoding for this test only.
    std::string text;
    {
      std::ifstream in(config_);
      text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    auto at = text.find("  threads: 2");
    ASSERT_NE(at, std::string::npos) << text;
    text.replace(at, 12, "  threads: 1\n  preset: slow\n  ladder: [\"240p=300k\", \"360p=600k\"]");
    std::ofstream(config_) << text;
  }
  server_ = std::make_unique<TestServer>(std::vector<std::string>{"--config", config_.string()});
  ASSERT_TRUE(server_->WaitHealthy()) << server_->process().Stderr();
  auto id = Upload(clip);
  ASSERT_FALSE(id.empty());

  // Wait until segments are being recorded, then kill the server mid-transcode.
  bool midway = false;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!midway && std::chrono::steady_clock::now() < deadline) {
    auto record = Content(id);
    if (Status(record) == "ready") {
      break;
    }
    for (const auto& value : record.at("renditions").as_array()) {
      midway = midway || value.as_object().at("segments").to_number<int>() >= 1;
    }
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(midway) << "the transcode finished before it could be interrupted";
  server_->Kill();
  // ffmpeg was in the server's... own process group: it must not survive as an orphan
  // writing into the work directory (the job runs again from the start).
  server_->Restart();
  ASSERT_TRUE(server_->WaitHealthy()) << server_->process().Stderr();

  auto record = WaitSettled(id, 180s);
  ASSERT_EQ(Status(record), "ready") << json::serialize(record);
  ExpectMediaIntact(id, record, 16);
  auto jobs = Call("GET", "/api/v1/jobs?content_id=" + id);
  ASSERT_TRUE(jobs);
  const json::value jobs_body = json::parse(jobs->body);  // outlives `items`
  const auto& items = jobs_body.at("items").as_array();
  ASSERT_EQ(items.size(), 1u) << jobs->body;
  EXPECT_EQ(items[0].at("state").as_string(), "succeeded");
  EXPECT_EQ(items[0].at("attempts").to_number<int>(), 2);
}

}  // namespace
}  // namespace sg::testing
