// Integration tests of authentication: the real binary with the auth plugin, its key file
// in the data dir, and the gateway answering 401 / 200 by that key.

#include <sys/stat.h>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "tests/support/http_client.h"
#include "tests/support/process.h"

namespace sg::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// The binary on a free port with its own data dir (removed afterwards).
class AuthServer {
 public:
  explicit AuthServer(std::map<std::string, std::string> env = {},
                      const std::function<void(const fs::path&)>& prepare = {})
      : port_(FreePort()),
        data_dir_(fs::temp_directory_path() / ("sg-it-auth-" + std::to_string(port_))) {
    fs::remove_all(data_dir_);
    if (prepare) {
      prepare(data_dir_);
    }
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{SG_STREAMGATE_BINARY, "serve", "--listen",
                                 "127.0.0.1:" + std::to_string(port_), "--data-dir",
                                 data_dir_.string()},
        std::move(env));
  }
  ~AuthServer() {
    process_.reset();
    fs::remove_all(data_dir_);
  }
  bool WaitHealthy() { return WaitUntilHealthy(port_, 15s); }
  int port() const { return port_; }
  const fs::path& data_dir() const { return data_dir_; }
  ChildProcess& process() { return *process_; }

 private:
  int port_;
  fs::path data_dir_;
  std::unique_ptr<ChildProcess> process_;
};

std::string ErrorCodeOf(const HttpReply& reply) {
  auto value = boost::json::parse(reply.body);
  return std::string(value.at("error").at("code").as_string());
}

TEST(AuthTest, GeneratedKeyFileIsPrivateAndTheKeyUnlocksRequests) {
  AuthServer server;
  ASSERT_TRUE(server.WaitHealthy()) << server.process().Stderr();
  fs::path key_file = server.data_dir() / "api_key";
  ASSERT_TRUE(fs::exists(key_file));
  struct stat info {};
  ASSERT_EQ(::stat(key_file.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0600u);
  std::string key = ReadText(key_file);
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) {
    key.pop_back();
  }
  ASSERT_EQ(key.size(), 64u);

  auto wrong = HttpGet(server.port(), "/healthz", "Authorization: Bearer not-the-key\r\n");
  auto other_scheme = HttpGet(server.port(), "/healthz", "Authorization: Basic YTpi\r\n");
  auto right = HttpGet(server.port(), "/healthz", "Authorization: Bearer " + key + "\r\n");
  auto anonymous = HttpGet(server.port(), "/healthz");

  ASSERT_TRUE(wrong && other_scheme && right && anonymous);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(wrong->Header("www-authenticate"), "Bearer");
  EXPECT_EQ(ErrorCodeOf(*wrong), "unauthenticated");
  EXPECT_EQ(other_scheme->status, 401);
  EXPECT_EQ(right->status, 200);
  EXPECT_EQ(anonymous->status, 200);
  std::string log = server.process().Stdout() + server.process().Stderr();
  EXPECT_NE(log.find("admin API key is in"), std::string::npos) << log;
  EXPECT_EQ(log.find(key), std::string::npos) << "the key was logged";
}

TEST(AuthTest, KeyFromTheEnvironmentWinsAndNoKeyFileIsWritten) {
  std::map<std::string, std::string> env = {
      {"STREAMGATE_AUTH__API_KEY", "an-operator-chosen-key-42"}};
  AuthServer server(env);
  ASSERT_TRUE(server.WaitHealthy()) << server.process().Stderr();

  auto right =
      HttpGet(server.port(), "/healthz", "Authorization: Bearer an-operator-chosen-key-42\r\n");
  auto wrong = HttpGet(server.port(), "/healthz", "Authorization: Bearer something-else\r\n");

  ASSERT_TRUE(right && wrong);
  EXPECT_EQ(right->status, 200);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_FALSE(fs::exists(server.data_dir() / "api_key"));
  std::string log = server.process().Stdout() + server.process().Stderr();
  EXPECT_EQ(log.find("an-operator-chosen-key-42"), std::string::npos) << "the key was logged";
}

TEST(AuthTest, WorldReadableKeyFileRefusesToStartWithChmodAdvice) {
  AuthServer server({}, [](const fs::path& data_dir) {
    fs::create_directories(data_dir);
    std::ofstream(data_dir / "api_key") << "0123456789abcdef0123456789abcdef\n";
    fs::permissions(data_dir / "api_key", fs::perms::owner_read | fs::perms::owner_write |
                                              fs::perms::group_read | fs::perms::others_read);
  });

  auto exit_code = server.process().WaitExit(15s);

  ASSERT_TRUE(exit_code.has_value()) << "the server started with a world-readable key file";
  EXPECT_NE(*exit_code, 0);
  std::string log = server.process().Stdout() + server.process().Stderr();
  EXPECT_NE(log.find("chmod 600"), std::string::npos) << log;
  EXPECT_EQ(log.find("0123456789abcdef0123"), std::string::npos) << "the key was logged";
}

}  // namespace
}  // namespace sg::testing
