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

#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/test_server.h"

namespace sg::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

// A small ladder and short segments keep every test to seconds while still exercising
// several rungs, several segments and the never-upscale rule.
constexpr std::string_view kTestConfig = R"(transcode:
  ladder: ["144p=150k", "240p=300k"]
  segment_seconds: 2
  gop_seconds: 1
  threads: 2
  max_attempts: 2
worker:
  visibility_timeout: 3s
  heartbeat_interval: 1s
  idle_poll_interval: 200ms
  backoff_initial: 200ms
  backoff_max: 1s
  max_attempts: 2
)";

class TranscodeIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = fs::temp_directory_path() / ("sg-it-transcode-" + std::to_string(FreePort()));
    fs::create_directories(work_);
    config_ = work_ / "streamgate.yaml";
    std::ofstream(config_) << kTestConfig;
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(work_);
  }

  void StartServer(const std::string& extra_yaml = "") {
    if (!extra_yaml.empty()) {
      std::ofstream(config_, std::ios::app) << extra_yaml;
    }
    server_ = std::make_unique<TestServer>(std::vector<std::string>{"--config", config_.string()});
    ASSERT_TRUE(server_->WaitHealthy()) << server_->process().Stderr();
  }

  /// Generates a clip with ffmpeg's test sources; `audio` adds a sine tone.
  fs::path MakeClip(const std::string& name, const std::string& size, double seconds,
                    bool audio = true, const std::string& extra = "") {
    fs::path path = work_ / name;
    std::string command = fmt("ffmpeg -v error -y -f lavfi -i testsrc2=duration=", seconds,
                              ":size=", size, ":rate=25");
    if (audio) {
      command += fmt(" -f lavfi -i sine=duration=", seconds, " -c:a aac -shortest");
    }
    command += " -c:v libx264 -preset ultrafast -pix_fmt yuv420p " + extra + " " + path.string();
    auto [code, output] = RunShell(command);
    EXPECT_EQ(code, 0) << output;
    return path;
  }

  /// Uploads through the real CLI; returns the content id.
  std::string Upload(const fs::path& clip) {
    ChildProcess client({SG_STREAMGATE_BINARY, "upload", clip.string(), "--server",
                         server_->base_url(), "--api-key", server_->ApiKey(), "--state-dir",
                         (work_ / "upload-state").string()});
    auto code = client.WaitExit(120s);
    EXPECT_EQ(code.value_or(-1), 0) << client.Stderr();
    std::string id = client.Stdout();
    while (!id.empty() && (id.back() == '\n' || id.back() == '\r')) {
      id.pop_back();
    }
    return id;
  }

  std::optional<HttpReply> Call(const std::string& method, const std::string& target,
                                std::chrono::milliseconds timeout = 10s) {
    RawConnection connection(server_->port());
    std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                          server_->AuthHeader() + "Content-Length: 0\r\n\r\n";
    if (!connection.Send(request)) {
      return std::nullopt;
    }
    return connection.ReadResponse(timeout);
  }

  json::object Content(const std::string& id) {
    auto reply = Call("GET", "/api/v1/content/" + id);
    if (!reply || reply->status != 200) {
      ADD_FAILURE() << "GET content " << id << ": " << (reply ? reply->body : "no reply");
      return {};
    }
    return json::parse(reply->body).as_object();
  }

  /// Polls until the content is ready or failed (or `timeout`); returns the last record.
  json::object WaitSettled(const std::string& id, std::chrono::seconds timeout = 120s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    json::object record;
    while (std::chrono::steady_clock::now() < deadline) {
      record = Content(id);
      auto status = Status(record);
      if (status == "ready" || status == "failed") {
        return record;
      }
      std::this_thread::sleep_for(100ms);
    }
    ADD_FAILURE() << "content " << id << " did not settle: " << json::serialize(record)
                  << server_->process().Stderr();
    return record;
  }

  static std::string Status(const json::object& record) {
    auto* status = record.if_contains("status");
    return status != nullptr && status->is_string() ? std::string(status->as_string()) : "";
  }

  /// Every recorded rendition: exactly init.mp4 and segment_0..n-1 on disk (nothing
  /// half-written, nothing duplicated), and ffprobe reads the track they make.
  void ExpectMediaIntact(const std::string& id, const json::object& record,
                         double expected_seconds) {
    fs::path media = server_->data_dir() / "objects" / "media" / id;
    const auto& renditions = record.at("renditions").as_array();
    ASSERT_FALSE(renditions.empty()) << json::serialize(record);
    std::set<std::string> names;
    for (const auto& value : renditions) {
      const auto& rendition = value.as_object();
      std::string name(rendition.at("name").as_string());
      names.insert(name);
      auto segments = rendition.at("segments").to_number<std::int64_t>();
      EXPECT_GE(segments, 1) << name;
      EXPECT_TRUE(rendition.at("complete").as_bool()) << name;
      EXPECT_FALSE(rendition.at("codec").as_string().empty()) << name;
      std::set<std::string> expected{"init.mp4"};
      for (std::int64_t n = 0; n < segments; ++n) {
        expected.insert(fmt("segment_", n, ".m4s"));
      }
      std::set<std::string> on_disk;
      for (const auto& entry : fs::directory_iterator(media / name)) {
        on_disk.insert(entry.path().filename().string());
      }
      EXPECT_EQ(on_disk, expected) << name;
      // The track as a player sees it: init segment then every media segment.
      fs::path joined = work_ / (id + "-" + name + ".mp4");
      {
        std::ofstream out(joined, std::ios::binary);
        for (const auto& file : expected) {
          if (file == "init.mp4") {
            std::ifstream in(media / name / file, std::ios::binary);
            out << in.rdbuf();
          }
        }
        for (std::int64_t n = 0; n < segments; ++n) {
          std::ifstream in(media / name / fmt("segment_", n, ".m4s"), std::ios::binary);
          out << in.rdbuf();
        }
      }
      auto [code, output] =
          RunShell("ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 " +
                   joined.string());
      ASSERT_EQ(code, 0) << name << ": " << output;
      EXPECT_NEAR(std::stod(output), expected_seconds, 0.6) << name;
      double recorded = rendition.at("duration_seconds").to_number<double>();
      EXPECT_NEAR(recorded, expected_seconds, 0.6) << name;
    }
    // Only recorded renditions (and the poster) exist under the content's prefix.
    for (const auto& entry : fs::directory_iterator(media)) {
      std::string file = entry.path().filename().string();
      EXPECT_TRUE(names.count(file) == 1 || file == "poster.jpg") << "stray " << file;
    }
  }

  std::vector<std::string> RenditionNames(const json::object& record) {
    std::vector<std::string> names;
    for (const auto& value : record.at("renditions").as_array()) {
      names.emplace_back(value.as_object().at("name").as_string());
    }
    return names;
  }

  template <class... Parts>
  static std::string fmt(const Parts&... parts) {
    std::ostringstream out;
    (out << ... << parts);
    return out.str();
  }

  fs::path work_;
  fs::path config_;
  std::unique_ptr<TestServer> server_;
};

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
