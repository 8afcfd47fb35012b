#include "tests/support/test_server.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "tests/support/http_client.h"

namespace sg::testing {
namespace {

// A fresh folder per server (mkdtemp): parallel tests never share one.
std::filesystem::path MakeDataDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "sg-it-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return std::filesystem::temp_directory_path() / ("sg-it-" + std::to_string(::getpid()));
  }
  return pattern;
}

}  // namespace

TestServer::TestServer(std::vector<std::string> extra_args, std::map<std::string, std::string> env)
    : port_(FreePort()),
      data_dir_(MakeDataDir()),
      extra_args_(std::move(extra_args)),
      env_(std::move(env)) {
  Launch();
}

TestServer::~TestServer() {
  process_.reset();
  std::error_code ec;
  std::filesystem::remove_all(data_dir_, ec);
}

void TestServer::Launch() {
  std::vector<std::string> argv = {SG_STREAMGATE_BINARY, "serve",
                                   "--listen",           "127.0.0.1:" + std::to_string(port_),
                                   "--data-dir",         data_dir_.string()};
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  process_ = std::make_unique<ChildProcess>(argv, env_);
}

bool TestServer::WaitHealthy() {
  // Give up at once when the server exited (a start-up error) instead of polling for 15 s.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_->Running()) {
      return false;
    }
    // Ready, not only live: every plugin has started (upload, worker, transcode...).
    if (WaitUntilHealthy(port_, std::chrono::milliseconds(200), "/readyz")) {
      return true;
    }
  }
  return false;
}

void TestServer::Kill() {
  process_->Signal(SIGKILL);
  process_->WaitExit(std::chrono::seconds(10));
}

void TestServer::Restart() {
  process_.reset();
  Launch();
}

std::string TestServer::ApiKey() const {
  std::ifstream in(data_dir_ / "api_key");
  std::stringstream text;
  text << in.rdbuf();
  std::string key = text.str();
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) {
    key.pop_back();
  }
  return key;
}

}  // namespace sg::testing
