// `streamgate upload`: the command-line client against the real server: upload, and resume
// after the client is killed half way.

#include <signal.h>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/test_server.h"

namespace sg::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A few MiB of real video (noise compresses badly), made at test time: never committed.
fs::path MakeNoiseClip(const fs::path& dir, int seconds) {
  fs::create_directories(dir);
  fs::path clip = dir / "noise.mp4";
  auto [code, output] = RunShell(
      "ffmpeg -v error -y -f lavfi -i \"nullsrc=s=320x240:d=" + std::to_string(seconds) +
      ",geq=random(1)*255:128:128\" -c:v libx264 -preset ultrafast -qp 0 -pix_fmt yuv420p " +
      clip.string());
  EXPECT_EQ(code, 0) << output;
  return clip;
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class UploadCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = fs::temp_directory_path() / ("sg-cli-upload-" + std::to_string(FreePort()));
    fs::create_directories(work_);
  }
  void TearDown() override { fs::remove_all(work_); }

  std::vector<std::string> UploadArgs(const TestServer& server, const fs::path& clip,
                                      const std::string& parallel) {
    return {SG_STREAMGATE_BINARY,
            "upload",
            clip.string(),
            "--server",
            server.base_url(),
            "--api-key",
            server.ApiKey(),
            "--chunk-size",
            "1",
            "--parallel",
            parallel,
            "--state-dir",
            (work_ / "state").string(),
            "--title",
            "Noise"};
  }

  fs::path work_;
};

TEST_F(UploadCliTest, UploadsAFileAndPrintsTheContentId) {
  TestServer server;
  ASSERT_TRUE(server.WaitHealthy()) << server.process().Stderr();
  auto clip = MakeNoiseClip(work_, 1);
  ChildProcess client(UploadArgs(server, clip, "3"));
  auto code = client.WaitExit(120s);
  ASSERT_EQ(code.value_or(-1), 0) << client.Stderr() << server.process().Stderr();
  std::string id = client.Stdout();
  ASSERT_FALSE(id.empty());
  id.pop_back();  // newline
  auto content = HttpGet(server.port(), "/api/v1/content/" + id, server.AuthHeader());
  ASSERT_TRUE(content);
  ASSERT_EQ(content->status, 200) << content->body;
  auto body = boost::json::parse(content->body);
  EXPECT_EQ(body.at("title").as_string(), "Noise");
  EXPECT_EQ(body.at("size").as_int64(), static_cast<std::int64_t>(fs::file_size(clip)));
}

TEST_F(UploadCliTest, RerunAfterTheClientWasKilledResumesTheSameSession) {
  // A tight transfer rate limit makes the client slow enough to be killed half way: each chunk
  // beyond the burst waits for a token (the client retries 429 with backoff).
  TestServer server({}, {{"STREAMGATE_GATEWAY__RATE_LIMIT__TRANSFER__RATE", "4"},
                         {"STREAMGATE_GATEWAY__RATE_LIMIT__TRANSFER__BURST", "2"}});
  ASSERT_TRUE(server.WaitHealthy()) << server.process().Stderr();
  auto clip = MakeNoiseClip(work_, 3);
  const auto total = (fs::file_size(clip) + (1 << 20) - 1) >> 20;
  ASSERT_GE(total, 6u) << "clip too small to interrupt";

  auto client = std::make_unique<ChildProcess>(UploadArgs(server, clip, "1"));
  // Wait until the session exists and has some (not all) chunks, then kill the client.
  std::string upload_id;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  std::int64_t received = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code missing;
    for (const auto& entry : fs::directory_iterator(work_ / "state", missing)) {
      // The client writes `<name>.json.tmp` and renames it: only the renamed file is whole.
      if (entry.path().extension() != ".json") {
        continue;
      }
      auto state = boost::json::parse(ReadText(entry.path()));
      upload_id = std::string(state.at("upload_id").as_string());
    }
    if (!upload_id.empty()) {
      auto status = HttpGet(server.port(), "/api/v1/upload/" + upload_id, server.AuthHeader());
      if (status && status->status == 200) {
        received = boost::json::parse(status->body).at("bytes_received").as_int64();
        if (received >= 2 << 20) {
          break;
        }
      }
    }
    std::this_thread::sleep_for(20ms);
  }
  client->Signal(SIGKILL);
  client->WaitExit(10s);
  ASSERT_FALSE(upload_id.empty());
  ASSERT_GE(received, 2 << 20);
  ASSERT_LT(received, static_cast<std::int64_t>(fs::file_size(clip)));

  ChildProcess rerun(UploadArgs(server, clip, "2"));
  auto code = rerun.WaitExit(120s);
  ASSERT_EQ(code.value_or(-1), 0) << rerun.Stderr();
  EXPECT_NE(rerun.Stderr().find("resuming upload " + upload_id), std::string::npos)
      << rerun.Stderr();
  std::string id = rerun.Stdout();
  ASSERT_FALSE(id.empty());
  id.pop_back();
  auto content = HttpGet(server.port(), "/api/v1/content/" + id, server.AuthHeader());
  ASSERT_TRUE(content);
  EXPECT_EQ(content->status, 200);
}

TEST_F(UploadCliTest, WrongApiKeyFailsWithTheServersMessage) {
  TestServer server;
  ASSERT_TRUE(server.WaitHealthy()) << server.process().Stderr();
  auto clip = MakeNoiseClip(work_, 1);
  auto args = UploadArgs(server, clip, "1");
  args[6] = "not-the-key-0123456789";
  ChildProcess client(args);
  EXPECT_EQ(client.WaitExit(60s).value_or(-1), 1);
  EXPECT_NE(client.Stderr().find("HTTP 401"), std::string::npos) << client.Stderr();
}

}  // namespace
}  // namespace sg::testing
