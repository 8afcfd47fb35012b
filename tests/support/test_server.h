#pragma once
/// The real streamgate binary on a free loopback port with its own data directory, for
/// integration tests. Restartable on the same data directory (crash-recovery tests).

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace sg::testing {

class TestServer {
 public:
  /// Starts `streamgate serve` with `extra_args` and `env` (added to the environment).
  explicit TestServer(std::vector<std::string> extra_args = {},
                      std::map<std::string, std::string> env = {});
  /// Kills the process if running and removes the data directory.
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  /// Waits until /readyz answers 200: every plugin started (15 s).
  bool WaitHealthy();
  /// SIGKILL, then wait for the exit.
  void Kill();
  /// Starts the binary again on the same port and data directory.
  void Restart();

  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::filesystem::path& data_dir() const { return data_dir_; }
  ChildProcess& process() { return *process_; }
  /// The admin API key the auth plugin generated into the data directory ("" if none).
  std::string ApiKey() const;
  /// "Authorization: Bearer <key>\r\n", for RawConnection / HttpGet header strings.
  std::string AuthHeader() const { return "Authorization: Bearer " + ApiKey() + "\r\n"; }

 private:
  void Launch();

  int port_;
  std::filesystem::path data_dir_;
  std::vector<std::string> extra_args_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace sg::testing
