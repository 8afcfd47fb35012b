// Integration tests of uploads: the real streamgate binary (gateway, auth, storage,
// metadata, content, upload) on a loopback port, driven with raw HTTP.

#include <signal.h>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/http_client.h"
#include "tests/support/process.h"

namespace sg::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string ReadBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Digests through the shell's tools: this binary links no crypto library.
std::string Sha256Hex(const std::string& data) {
  return RunShell("sha256sum", data).second.substr(0, 64);
}

std::string Sha1Base64(const std::string& data) {
  return RunShell("openssl dgst -sha1 -binary | base64 -w0", data).second;
}

std::string Base64(const std::string& data) { return RunShell("base64 -w0", data).second; }

// A 2 s test clip made by ffmpeg at test time (media is never committed).
const std::string& Clip() {
  static const std::string clip = [] {
    auto path = std::filesystem::temp_directory_path() /
                ("sg-it-clip-" + std::to_string(::getpid()) + ".mp4");
    auto [code, output] = RunShell(
        "ffmpeg -v error -y -f lavfi -i testsrc=duration=2:size=320x240:rate=25 -f lavfi -i "
        "sine=duration=2 -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest " +
        path.string());
    if (code != 0) {
      return std::string();
    }
    auto data = ReadBytes(path);
    std::filesystem::remove(path);
    return data;
  }();
  return clip;
}

// The server on a data dir that may outlive one process (for the kill -9 test).
class Server {
 public:
  explicit Server(std::filesystem::path data_dir) : data_dir_(std::move(data_dir)) { Start(); }
  ~Server() { process_.reset(); }

  void Start() {
    port_ = FreePort();
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{SG_STREAMGATE_BINARY, "serve", "--listen",
                                 "127.0.0.1:" + std::to_string(port_), "--data-dir",
                                 data_dir_.string()},
        // Small chunks so a 2 s clip makes several of them.
        std::map<std::string, std::string>{{"STREAMGATE_UPLOAD__MIN_CHUNK_SIZE", "1024"}});
  }
  void Kill9() {
    process_->Signal(SIGKILL);
    process_->WaitExit(10s);
  }
  bool WaitHealthy() { return WaitUntilHealthy(port_, 15s); }
  int port() const { return port_; }
  ChildProcess& process() { return *process_; }
  std::string key() const { return ReadBytes(data_dir_ / "api_key"); }

  HttpReply Call(const std::string& method, const std::string& target, const std::string& body = "",
                 const std::string& headers = "", bool authorized = true) {
    RawConnection connection(port_);
    std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (authorized) {
      auto api_key = key();
      while (!api_key.empty() && (api_key.back() == '\n' || api_key.back() == '\r')) {
        api_key.pop_back();
      }
      request += "Authorization: Bearer " + api_key + "\r\n";
    }
    request += headers;
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    EXPECT_TRUE(connection.Send(request));
    auto reply = connection.ReadResponse(60s, method == "HEAD");
    EXPECT_TRUE(reply) << method << " " << target;
    return reply ? *reply : HttpReply{};
  }

 private:
  std::filesystem::path data_dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

class UploadIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = std::filesystem::temp_directory_path() /
                ("sg-it-upload-" + std::to_string(::getpid()) + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(data_dir_);
    server_ = std::make_unique<Server>(data_dir_);
    ASSERT_TRUE(server_->WaitHealthy()) << server_->process().Stderr();
    ASSERT_FALSE(Clip().empty()) << "ffmpeg could not generate the clip";
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(data_dir_);
  }

  std::string Init(std::uint64_t chunk_size, const std::string& sha) {
    json::object body{{"filename", "clip.mp4"},
                      {"size", Clip().size()},
                      {"chunk_size", chunk_size},
                      {"sha256", sha},
                      {"title", "Test clip"}};
    auto reply = server_->Call("POST", "/api/v1/upload/init", json::serialize(body));
    EXPECT_EQ(reply.status, 201) << reply.body;
    return std::string(json::parse(reply.body).at("upload_id").as_string());
  }

  int Put(const std::string& id, std::uint64_t chunk_size, std::uint64_t n) {
    auto data = Clip().substr(n * chunk_size, chunk_size);
    auto reply = server_->Call("PUT", fmt("/api/v1/upload/", id, "/chunk/", n), data,
                               "Content-SHA256: " + Sha256Hex(data) + "\r\n");
    EXPECT_TRUE(reply.status == 201 || reply.status == 200) << reply.body;
    return reply.status;
  }

  template <class... Parts>
  static std::string fmt(const Parts&... parts) {
    std::ostringstream out;
    (out << ... << parts);
    return out.str();
  }

  std::filesystem::path data_dir_;
  std::unique_ptr<Server> server_;
};

TEST_F(UploadIntegrationTest, ThreeChunksOutOfOrderBecomeAContent) {
  const auto& clip = Clip();
  std::uint64_t chunk = clip.size() / 3 + 1;
  auto sha = Sha256Hex(clip);
  auto id = Init(chunk, sha);
  Put(id, chunk, 2);
  Put(id, chunk, 0);
  auto status = server_->Call("GET", "/api/v1/upload/" + id);
  EXPECT_NE(status.body.find(R"("missing_chunks":[[1,1]])"), std::string::npos) << status.body;
  Put(id, chunk, 1);
  auto done = server_->Call("POST", "/api/v1/upload/" + id + "/complete");
  ASSERT_EQ(done.status, 201) << done.body;
  auto content_id = std::string(json::parse(done.body).at("content_id").as_string());
  auto content = server_->Call("GET", "/api/v1/content/" + content_id);
  ASSERT_EQ(content.status, 200) << content.body;
  EXPECT_NE(content.body.find("Test clip"), std::string::npos) << content.body;
  EXPECT_NE(content.body.find(sha), std::string::npos) << content.body;
}

TEST_F(UploadIntegrationTest, KillNineMidUploadThenResumeAndFinish) {
  const auto& clip = Clip();
  std::uint64_t chunk = clip.size() / 4 + 1;
  auto sha = Sha256Hex(clip);
  auto id = Init(chunk, sha);
  Put(id, chunk, 0);
  Put(id, chunk, 3);
  server_->Kill9();
  server_->Start();
  ASSERT_TRUE(server_->WaitHealthy()) << server_->process().Stderr();
  auto status = server_->Call("GET", "/api/v1/upload/" + id);
  ASSERT_EQ(status.status, 200) << status.body;
  auto state = json::parse(status.body).as_object();
  EXPECT_EQ(json::serialize(state.at("received_chunks")), "[[0,0],[3,3]]");
  EXPECT_EQ(json::serialize(state.at("missing_chunks")), "[[1,2]]");
  Put(id, chunk, 1);
  Put(id, chunk, 2);
  auto done = server_->Call("POST", "/api/v1/upload/" + id + "/complete");
  ASSERT_EQ(done.status, 201) << done.body;
  auto content_id = std::string(json::parse(done.body).at("content_id").as_string());
  EXPECT_EQ(server_->Call("GET", "/api/v1/content/" + content_id).status, 200);
}

TEST_F(UploadIntegrationTest, TwoCompletesAtOnceMakeOneContent) {
  const auto& clip = Clip();
  std::uint64_t chunk = clip.size() / 2 + 1;
  auto id = Init(chunk, Sha256Hex(clip));
  Put(id, chunk, 0);
  Put(id, chunk, 1);
  HttpReply first;
  HttpReply second;
  std::thread a([&] { first = server_->Call("POST", "/api/v1/upload/" + id + "/complete"); });
  std::thread b([&] { second = server_->Call("POST", "/api/v1/upload/" + id + "/complete"); });
  a.join();
  b.join();
  std::multiset<int> statuses{first.status, second.status};
  EXPECT_EQ(statuses, (std::multiset<int>{200, 201})) << first.body << second.body;
  EXPECT_EQ(json::parse(first.body).at("content_id"), json::parse(second.body).at("content_id"));
}

TEST_F(UploadIntegrationTest, TusCreatePatchHeadWithErrors) {
  const auto& clip = Clip();
  const std::string tus = "Tus-Resumable: 1.0.0\r\n";
  const std::string octets = "Content-Type: application/offset+octet-stream\r\n";
  auto options = server_->Call("OPTIONS", "/api/v1/tus", "", "", false);
  EXPECT_EQ(options.status, 204);
  EXPECT_EQ(options.Header("tus-version"), "1.0.0");

  EXPECT_EQ(server_->Call("POST", "/api/v1/tus", "", tus + "Upload-Length: 10\r\n", false).status,
            401);
  auto create = server_->Call("POST", "/api/v1/tus", "",
                              tus + "Upload-Length: " + std::to_string(clip.size()) +
                                  "\r\nUpload-Metadata: filename " + Base64("clip.mp4") + "\r\n");
  ASSERT_EQ(create.status, 201) << create.body;
  auto location = create.Header("location");
  ASSERT_EQ(location.rfind("/api/v1/tus/", 0), 0u) << location;

  auto no_version = server_->Call("PATCH", location, clip, octets + "Upload-Offset: 0\r\n");
  EXPECT_EQ(no_version.status, 412);
  EXPECT_EQ(no_version.Header("tus-version"), "1.0.0");
  auto wrong_offset = server_->Call("PATCH", location, clip, tus + octets + "Upload-Offset: 5\r\n");
  EXPECT_EQ(wrong_offset.status, 409) << wrong_offset.body;
  auto bad_sum = server_->Call(
      "PATCH", location, clip,
      tus + octets + "Upload-Offset: 0\r\nUpload-Checksum: sha1 " + Sha1Base64("other") + "\r\n");
  EXPECT_EQ(bad_sum.status, 460) << bad_sum.body;
  EXPECT_EQ(bad_sum.Header("tus-resumable"), "1.0.0");
  auto head = server_->Call("HEAD", location, "", tus);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("upload-offset"), "0");
  EXPECT_EQ(head.Header("cache-control"), "no-store");

  auto done = server_->Call(
      "PATCH", location, clip,
      tus + octets + "Upload-Offset: 0\r\nUpload-Checksum: sha1 " + Sha1Base64(clip) + "\r\n");
  ASSERT_EQ(done.status, 204) << done.body;
  EXPECT_EQ(done.Header("upload-offset"), std::to_string(clip.size()));
  auto content_id = done.Header("streamgate-content-id");
  ASSERT_FALSE(content_id.empty());
  EXPECT_EQ(server_->Call("GET", "/api/v1/content/" + content_id).status, 200);
  auto after = server_->Call("HEAD", location, "", tus);
  EXPECT_EQ(after.Header("upload-offset"), std::to_string(clip.size()));
}

}  // namespace
}  // namespace sg::testing
