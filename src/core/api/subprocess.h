#pragma once
/// Runs a child process to completion with bounded memory and time: ffprobe today, ffmpeg
/// for transcoding. The child gets its own process group (so a timeout kills it and
/// everything it started), dies with the server (PR_SET_PDEATHSIG: a `kill -9` of streamgate
/// leaves no ffmpeg behind), stdin from /dev/null, a default signal mask and dispositions
/// (our threads block the stop signals; children must not inherit that), stdout captured up
/// to a byte limit and the tail of stderr kept for error messages. One thread, poll()-based.

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/result.h"

namespace sg {

struct SubprocessOptions {
  /// argv[0] is looked up in PATH when it has no `/`.
  std::vector<std::string> argv;
  /// After this, the whole process group gets SIGKILL and the result says timed_out.
  std::chrono::milliseconds timeout{30'000};
  /// Stdout beyond this is read and discarded (stdout_truncated).
  std::size_t max_stdout_bytes = 16 * 1024 * 1024;
  /// Only the last this-many bytes of stderr are kept.
  std::size_t stderr_tail_bytes = 16 * 1024;
  /// When set, stdout is not captured: each complete line (without its '\n') is passed here
  /// as it arrives, on the calling thread (ffmpeg `-progress pipe:1`). A line longer than
  /// `max_stdout_bytes` is cut. The callback must be quick: the child blocks while it runs.
  std::function<void(std::string_view line)> on_stdout_line;
  /// When set, polled at least every `poll_interval`; returning true kills the process
  /// group with SIGKILL and the result says `cancelled` (a stopping server, a lost lease).
  std::function<bool()> cancelled;
  std::chrono::milliseconds poll_interval{200};
  /// The child's working directory; empty = ours.
  std::filesystem::path working_directory;
};

struct SubprocessResult {
  /// The exit status when the child exited; -1 when it was killed by a signal.
  int exit_code = -1;
  /// The signal that ended the child, 0 when it exited.
  int term_signal = 0;
  bool timed_out = false;
  /// `options.cancelled` returned true and the child was killed.
  bool cancelled = false;
  std::string stdout_data;
  bool stdout_truncated = false;
  std::string stderr_tail;
  std::chrono::milliseconds elapsed{0};

  bool Succeeded() const noexcept {
    return !timed_out && !cancelled && term_signal == 0 && exit_code == 0;
  }
  /// "exit code 1", "killed by signal 9", "timed out after 30000 ms", "cancelled" — for
  /// messages.
  std::string Describe() const;
};

/// Runs `options.argv` and waits for it (up to the timeout). The Result is an error only
/// when the child could not be started (kInvalidArgument for an empty argv, kNotFound when
/// the program does not exist, kInternal for other spawn failures); a child that fails,
/// crashes or times out is a successful Result describing that.
Result<SubprocessResult> RunSubprocess(const SubprocessOptions& options);

}  // namespace sg
