#include "core/api/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>

namespace sg {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Closes a descriptor once; -1 means closed.
void CloseFd(int& fd) noexcept {
  if (fd >= 0) {
    ::close(fd);
    fd = -1;
  }
}

struct Pipe {
  int read_end = -1;
  int write_end = -1;
  ~Pipe() {
    CloseFd(read_end);
    CloseFd(write_end);
  }
};

Result<> MakePipe(Pipe& pipe) {
  int fds[2];
  // O_CLOEXEC: no other child spawned concurrently from another thread inherits our ends
  // (dup2 clears the flag on the child's 1 and 2).
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return MakeError(ErrorCode::kInternal, "pipe2: {}", std::strerror(errno));
  }
  pipe.read_end = fds[0];
  pipe.write_end = fds[1];
  return {};
}

// The program to exec: argv[0] itself when it names a path, else the first executable
// match in PATH. Resolved in the parent so the forked child does no allocation.
std::optional<std::string> ResolveProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    return ::access(name.c_str(), X_OK) == 0 ? std::optional<std::string>(name) : std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    auto colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (colon == std::string_view::npos) {
      return std::nullopt;
    }
    dirs.remove_prefix(colon + 1);
  }
}

// In the forked child: reports errno to the parent and exits.
[[noreturn]] void FailChild(int status_fd) {
  int error = errno;
  ssize_t ignored = ::write(status_fd, &error, sizeof(error));
  (void)ignored;
  ::_exit(127);
}

// In the forked child, before exec: only async-signal-safe calls. Never returns.
[[noreturn]] void ExecChild(const char* program, char* const* argv, int out_fd, int err_fd,
                            int status_fd, const char* working_directory, pid_t parent) {
  // Own process group, so a timeout or cancel kills ffmpeg and whatever it started.
  ::setpgid(0, 0);
  // Dies with the server: a `kill -9` of streamgate must not leave an ffmpeg writing into a
  // work directory that the job's next attempt is about to reuse.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) {
    ::_exit(127);  // the parent died before prctl took effect
  }
  // Default mask and dispositions: the server blocks SIGTERM/SIGINT/SIGHUP in its threads.
  sigset_t empty_mask;
  sigemptyset(&empty_mask);
  ::sigprocmask(SIG_SETMASK, &empty_mask, nullptr);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2}) {
    ::signal(sig, SIG_DFL);
  }
  int null_fd = ::open("/dev/null", O_RDONLY);
  if (null_fd < 0 || ::dup2(null_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0) {
    FailChild(status_fd);
  }
  if (working_directory != nullptr && ::chdir(working_directory) != 0) {
    FailChild(status_fd);
  }
  ::execv(program, argv);
  FailChild(status_fd);
}

// Reads what is available on `fd` (non-blocking after poll said readable). Returns false at
// EOF or on a hard error.
bool Drain(int fd, std::string& sink, std::size_t limit, bool keep_tail, bool& truncated) {
  char buffer[16 * 1024];
  ssize_t n = ::read(fd, buffer, sizeof(buffer));
  if (n < 0) {
    return errno == EINTR || errno == EAGAIN;
  }
  if (n == 0) {
    return false;
  }
  if (keep_tail) {
    sink.append(buffer, static_cast<std::size_t>(n));
    if (sink.size() > limit) {
      sink.erase(0, sink.size() - limit);
    }
    return true;
  }
  std::size_t room = limit > sink.size() ? limit - sink.size() : 0;
  std::size_t take = std::min(room, static_cast<std::size_t>(n));
  sink.append(buffer, take);
  if (take < static_cast<std::size_t>(n)) {
    truncated = true;  // keep reading so the child never blocks on a full pipe
  }
  return true;
}

void RecordStatus(int status, SubprocessResult& result) {
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
    result.term_signal = 0;
  } else if (WIFSIGNALED(status)) {
    result.exit_code = -1;
    result.term_signal = WTERMSIG(status);
  }
}

int RemainingMs(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 1'000'000));
}

// Splits what arrived on stdout into lines for `on_stdout_line`; keeps the unfinished tail.
void DeliverLines(std::string& pending, const SubprocessOptions& options, bool at_eof) {
  std::size_t start = 0;
  for (;;) {
    std::size_t end = pending.find('\n', start);
    if (end == std::string::npos) {
      break;
    }
    options.on_stdout_line(std::string_view(pending).substr(start, end - start));
    start = end + 1;
  }
  pending.erase(0, start);
  if (pending.size() > options.max_stdout_bytes || (at_eof && !pending.empty())) {
    options.on_stdout_line(std::string_view(pending).substr(0, options.max_stdout_bytes));
    pending.clear();
  }
}

}  // namespace

std::string SubprocessResult::Describe() const {
  if (cancelled) {
    return fmt::format("cancelled after {} ms", elapsed.count());
  }
  if (timed_out) {
    return fmt::format("timed out after {} ms", elapsed.count());
  }
  if (term_signal != 0) {
    return fmt::format("killed by signal {}", term_signal);
  }
  return fmt::format("exit code {}", exit_code);
}

Result<SubprocessResult> RunSubprocess(const SubprocessOptions& options) {
  if (options.argv.empty() || options.argv[0].empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "subprocess: empty argv");
  }
  Pipe out;
  Pipe err;
  SG_RETURN_IF_ERROR(MakePipe(out));
  SG_RETURN_IF_ERROR(MakePipe(err));

  auto program = ResolveProgram(options.argv[0]);
  if (!program) {
    return MakeError(ErrorCode::kNotFound, "cannot start {}: no such program", options.argv[0]);
  }
  // Tells the parent whether exec worked: closed by a successful exec (O_CLOEXEC), or
  // carries the child's errno.
  Pipe exec_status;
  SG_RETURN_IF_ERROR(MakePipe(exec_status));

  std::vector<char*> argv;
  argv.reserve(options.argv.size() + 1);
  for (const auto& arg : options.argv) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  const std::string working_directory = options.working_directory.string();

  const auto started = SteadyClock::now();
  const auto deadline = started + options.timeout;
  const pid_t parent = ::getpid();
  // fork, not posix_spawn: only a forked child can ask to die with its parent (prctl).
  // The child runs async-signal-safe calls only until exec.
  pid_t pid = ::fork();
  if (pid < 0) {
    return MakeError(ErrorCode::kInternal, "fork: {}", std::strerror(errno));
  }
  if (pid == 0) {
    ExecChild(program->c_str(), argv.data(), out.write_end, err.write_end, exec_status.write_end,
              working_directory.empty() ? nullptr : working_directory.c_str(), parent);
  }
  // Also set from here: whichever runs first, the group exists before we might kill it.
  ::setpgid(pid, pid);
  CloseFd(exec_status.write_end);
  int child_errno = 0;
  ssize_t got = 0;
  do {
    got = ::read(exec_status.read_end, &child_errno, sizeof(child_errno));
  } while (got < 0 && errno == EINTR);
  CloseFd(exec_status.read_end);
  if (got == static_cast<ssize_t>(sizeof(child_errno))) {
    int ignored_status = 0;
    while (::waitpid(pid, &ignored_status, 0) < 0 && errno == EINTR) {
    }
    auto code = (child_errno == ENOENT || child_errno == EACCES) ? ErrorCode::kNotFound
                                                                 : ErrorCode::kInternal;
    return MakeError(code, "cannot start {}: {}", options.argv[0], std::strerror(child_errno));
  }
  CloseFd(out.write_end);
  CloseFd(err.write_end);
  ::fcntl(out.read_end, F_SETFL, O_NONBLOCK);
  ::fcntl(err.read_end, F_SETFL, O_NONBLOCK);

  SubprocessResult result;
  bool out_open = true;
  bool err_open = true;
  bool ignored = false;
  const bool line_mode = static_cast<bool>(options.on_stdout_line);
  std::string pending_lines;
  const int poll_cap_ms =
      options.cancelled ? static_cast<int>(std::max<std::int64_t>(options.poll_interval.count(), 1))
                        : 1'000'000;
  auto cancel_requested = [&] {
    if (options.cancelled && options.cancelled()) {
      result.cancelled = true;
    }
    return result.cancelled;
  };
  while ((out_open || err_open) && !result.timed_out && !cancel_requested()) {
    int wait_ms = RemainingMs(deadline);
    if (wait_ms == 0) {
      result.timed_out = true;
      break;
    }
    wait_ms = std::min(wait_ms, poll_cap_ms);
    pollfd fds[2] = {{out_open ? out.read_end : -1, POLLIN, 0},
                     {err_open ? err.read_end : -1, POLLIN, 0}};
    int ready = ::poll(fds, 2, wait_ms);
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      result.timed_out = true;  // cannot watch the child any more: treat as a hang
      break;
    }
    if (out_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      if (line_mode) {
        // The pending tail is bounded by DeliverLines, so the limit here only guards a read.
        out_open =
            Drain(out.read_end, pending_lines, pending_lines.size() + 64 * 1024, false, ignored);
        DeliverLines(pending_lines, options, !out_open);
      } else {
        out_open = Drain(out.read_end, result.stdout_data, options.max_stdout_bytes, false,
                         result.stdout_truncated);
      }
    }
    if (err_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      err_open = Drain(err.read_end, result.stderr_tail, options.stderr_tail_bytes, true, ignored);
    }
  }

  // Both pipes closed: the child is exiting (or closed them and keeps running; the deadline
  // still applies).
  int status = 0;
  while (!result.timed_out && !cancel_requested()) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      RecordStatus(status, result);
      result.elapsed =
          std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started);
      return result;
    }
    if (done < 0 && errno != EINTR) {
      return MakeError(ErrorCode::kInternal, "waitpid: {}", std::strerror(errno));
    }
    int wait_ms = RemainingMs(deadline);
    if (wait_ms == 0) {
      result.timed_out = true;
      break;
    }
    ::poll(nullptr, 0, std::min(wait_ms, 10));
  }

  // Timed out or cancelled: the child is not reaped yet, so its pid is still the group's id.
  ::kill(-pid, SIGKILL);
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  RecordStatus(status, result);
  result.elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started);
  return result;
}

}  // namespace sg
