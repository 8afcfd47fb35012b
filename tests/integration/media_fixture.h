#pragma once
// The fixture of the media integration tests (transcode, streaming): the real streamgate
// binary with the real ffmpeg, clips generated at test time, uploads through the real CLI.

#include <stdlib.h>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/test_server.h"

namespace sg::testing {

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

class MediaIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // mkdtemp, not a port number: tests run in parallel (ctest -j) and a port number can be
    // handed out twice, which once gave two tests one folder.
    std::string pattern = (fs::temp_directory_path() / "sg-it-media-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    work_ = pattern;
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

}  // namespace sg::testing
