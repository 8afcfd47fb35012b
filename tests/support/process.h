#pragma once
/// Runs the real streamgate binary (or any program) as a child for integration tests:
/// output captured to files, bounded waits, killed on destruction.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sg::testing {

class ChildProcess {
 public:
  /// Starts `argv[0]` with `argv`, the current environment plus `env` (name -> value;
  /// empty value unsets), stdout and stderr captured.
  ChildProcess(std::vector<std::string> argv, std::map<std::string, std::string> env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int signal_number) const;
  /// The exit code (128 + signal when killed by one), or nullopt if still running after
  /// `timeout`.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);
  bool Running();
  std::string Stdout() const;
  std::string Stderr() const;
  /// Waits until stderr contains `text` (true) or `timeout` passes (false).
  bool WaitForStderr(const std::string& text, std::chrono::milliseconds timeout) const;

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string stdout_path_;
  std::string stderr_path_;
};

/// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

/// Runs a command through the shell with `input` on stdin; returns {exit code, output
/// (stdout and stderr)}.
std::pair<int, std::string> RunShell(const std::string& command, const std::string& input = "");

}  // namespace sg::testing
