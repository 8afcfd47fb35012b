// `streamgate upload`: the command-line client against the real server: upload, and resume
// after the client is killed half way.

#include <signal.h>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <algorithm>
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

// Ids of a content listing (first page of 100).
std::vector<std::string> ListedIds(const TestServer& server, const std::string& headers) {
  auto listing = HttpGet(server.port(), "/api/v1/content?limit=100", headers);
  EXPECT_TRUE(listing);
  std::vector<std::string> ids;
  if (!listing || listing->status != 200) {
    ADD_FAILURE() << (listing ? listing->body : "no reply");
    return ids;
  }
  const auto parsed = boost::json::parse(listing->body);  // must outlive the loop
  for (const auto& item : parsed.at("items").as_array()) {
    ids.emplace_back(item.at("id").as_string());
  }
  return ids;
}

TEST_F(UploadCliTest, VisibilityPrivateMakesAContentOnlyTheAdminSees) {
  TestServer server;
  ASSERT_TRUE(server.WaitHealthy()) << server.process().Stderr();
  auto clip = MakeNoiseClip(work_, 1);
  auto args = UploadArgs(server, clip, "2");
  args.insert(args.end(), {"--visibility", "private"});
  ChildProcess client(args);
  ASSERT_EQ(client.WaitExit(120s).value_or(-1), 0) << client.Stderr() << server.process().Stderr();
  std::string id = client.Stdout();
  ASSERT_FALSE(id.empty());
  id.pop_back();

  auto anonymous = HttpGet(server.port(), "/api/v1/content/" + id);
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 404) << anonymous->body;
  auto admin = HttpGet(server.port(), "/api/v1/content/" + id, server.AuthHeader());
  ASSERT_TRUE(admin);
  ASSERT_EQ(admin->status, 200) << admin->body;
  EXPECT_EQ(boost::json::parse(admin->body).at("visibility").as_string(), "private");
  auto session = HttpGet(server.port(), "/api/v1/upload/" + id, server.AuthHeader());
  ASSERT_TRUE(session);
  ASSERT_EQ(session->status, 200) << session->body;
  EXPECT_EQ(boost::json::parse(session->body).at("visibility").as_string(), "private");

  auto for_admin = ListedIds(server, server.AuthHeader());
  EXPECT_NE(std::find(for_admin.begin(), for_admin.end(), id), for_admin.end());
  auto for_anyone = ListedIds(server, "");
  EXPECT_EQ(std::find(for_anyone.begin(), for_anyone.end(), id), for_anyone.end());
}

TEST_F(UploadCliTest, AnUnknownVisibilityIsAUsageErrorBeforeAnyRequest) {
  auto file = work_ / "a.mp4";
  std::ofstream(file) << "not a video";
  // No server listens on port 1: a request would fail with exit 1, not the usage error 2.
  ChildProcess client({SG_STREAMGATE_BINARY, "upload", file.string(), "--server",
                       "http://127.0.0.1:1", "--api-key", "k", "--visibility", "secret"});
  EXPECT_EQ(client.WaitExit(20s).value_or(-1), 2) << client.Stderr();
  EXPECT_NE(client.Stderr().find("--visibility"), std::string::npos) << client.Stderr();
}

TEST_F(UploadCliTest, ResumingWithAnotherVisibilityStartsANewSession) {
  // As in the resume test: a slow transfer so that the first client can be stopped after
  // it opened its (public) session.
  TestServer server({}, {{"STREAMGATE_GATEWAY__RATE_LIMIT__TRANSFER__RATE", "4"},
                         {"STREAMGATE_GATEWAY__RATE_LIMIT__TRANSFER__BURST", "2"}});
  ASSERT_TRUE(server.WaitHealthy()) << server.process().Stderr();
  auto clip = MakeNoiseClip(work_, 3);
  ASSERT_GE(fs::file_size(clip), 6u << 20) << "clip too small to interrupt";
  auto first_args = UploadArgs(server, clip, "1");
  first_args.insert(first_args.end(), {"--visibility", "public"});
  auto first = std::make_unique<ChildProcess>(first_args);
  std::string old_id;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (old_id.empty() && std::chrono::steady_clock::now() < deadline) {
    std::error_code missing;
    for (const auto& entry : fs::directory_iterator(work_ / "state", missing)) {
      if (entry.path().extension() == ".json") {
        old_id =
            std::string(boost::json::parse(ReadText(entry.path())).at("upload_id").as_string());
      }
    }
    std::this_thread::sleep_for(20ms);
  }
  first->Signal(SIGKILL);
  first->WaitExit(10s);
  ASSERT_FALSE(old_id.empty());
  auto before = HttpGet(server.port(), "/api/v1/upload/" + old_id, server.AuthHeader());
  ASSERT_TRUE(before);
  ASSERT_EQ(before->status, 200) << "the first client finished before it was stopped";

  auto rerun_args = UploadArgs(server, clip, "2");
  rerun_args.insert(rerun_args.end(), {"--visibility", "private"});
  ChildProcess rerun(rerun_args);
  ASSERT_EQ(rerun.WaitExit(120s).value_or(-1), 0) << rerun.Stderr();
  EXPECT_NE(rerun.Stderr().find("starting over as private"), std::string::npos) << rerun.Stderr();
  std::string id = rerun.Stdout();
  ASSERT_FALSE(id.empty());
  id.pop_back();
  EXPECT_NE(id, old_id);
  auto admin = HttpGet(server.port(), "/api/v1/content/" + id, server.AuthHeader());
  ASSERT_TRUE(admin);
  ASSERT_EQ(admin->status, 200) << admin->body;
  EXPECT_EQ(boost::json::parse(admin->body).at("visibility").as_string(), "private");
  auto old = HttpGet(server.port(), "/api/v1/upload/" + old_id, server.AuthHeader());
  ASSERT_TRUE(old);
  EXPECT_EQ(old->status, 404) << "the abandoned public session is deleted";
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
