#pragma once
/// Runs a child process to completion with bounded memory and time: ffprobe today, ffmpeg
/// for transcoding later. The child gets its own process group (so a timeout kills it and
/// everything it started), stdin from /dev/null, a default signal mask and dispositions
/// (our threads block the stop signals; children must not inherit that), stdout captured up
/// to a byte limit and the tail of stderr kept for error messages. One thread, poll()-based.

#include <chrono>
#include <cstddef>
#include <string>
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
};

struct SubprocessResult {
  /// The exit status when the child exited; -1 when it was killed by a signal.
  int exit_code = -1;
  /// The signal that ended the child, 0 when it exited.
  int term_signal = 0;
  bool timed_out = false;
  std::string stdout_data;
  bool stdout_truncated = false;
  std::string stderr_tail;
  std::chrono::milliseconds elapsed{0};

  bool Succeeded() const noexcept { return !timed_out && term_signal == 0 && exit_code == 0; }
  /// "exit code 1", "killed by signal 9", "timed out after 30000 ms" — for messages.
  std::string Describe() const;
};

/// Runs `options.argv` and waits for it (up to the timeout). The Result is an error only
/// when the child could not be started (kInvalidArgument for an empty argv, kNotFound when
/// the program does not exist, kInternal for other spawn failures); a child that fails,
/// crashes or times out is a successful Result describing that.
Result<SubprocessResult> RunSubprocess(const SubprocessOptions& options);

}  // namespace sg
