#include "core/api/subprocess.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace sg {
namespace {

using namespace std::chrono_literals;

SubprocessOptions Shell(std::string script, std::chrono::milliseconds timeout = 10s) {
  SubprocessOptions options;
  options.argv = {"/bin/sh", "-c", std::move(script)};
  options.timeout = timeout;
  return options;
}

TEST(SubprocessTest, CapturesStdoutAndExitCodeZero) {
  auto result = RunSubprocess(Shell("printf 'hello world'"));
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_TRUE(result->Succeeded());
  EXPECT_EQ(result->exit_code, 0);
  EXPECT_EQ(result->stdout_data, "hello world");
  EXPECT_FALSE(result->stdout_truncated);
  EXPECT_FALSE(result->timed_out);
}

TEST(SubprocessTest, ReportsNonZeroExitAndKeepsStderr) {
  auto result = RunSubprocess(Shell("echo broken input >&2; exit 3"));
  ASSERT_TRUE(result);
  EXPECT_FALSE(result->Succeeded());
  EXPECT_EQ(result->exit_code, 3);
  EXPECT_EQ(result->stderr_tail, "broken input\n");
  EXPECT_EQ(result->Describe(), "exit code 3");
}

TEST(SubprocessTest, StdoutBeyondTheLimitIsDiscardedButTheChildFinishes) {
  auto options = Shell("head -c 1000000 /dev/zero; echo done >&2");
  options.max_stdout_bytes = 1000;
  auto result = RunSubprocess(options);
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->Succeeded()) << result->Describe();
  EXPECT_EQ(result->stdout_data.size(), 1000u);
  EXPECT_TRUE(result->stdout_truncated);
  EXPECT_EQ(result->stderr_tail, "done\n");
}

TEST(SubprocessTest, KeepsOnlyTheTailOfStderr) {
  auto options = Shell("for i in 1 2 3 4 5 6 7 8 9; do printf \"line$i\\n\" >&2; done");
  options.stderr_tail_bytes = 12;
  auto result = RunSubprocess(options);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->stderr_tail, "line8\nline9\n");
}

TEST(SubprocessTest, TimeoutKillsTheWholeProcessGroup) {
  auto marker = std::filesystem::temp_directory_path() /
                ("sg-subprocess-" + std::to_string(::getpid()) + ".pid");
  std::filesystem::remove(marker);
  // The grandchild records its pid and sleeps; killing only the shell would leave it alive.
  auto result = RunSubprocess(Shell("sleep 30 & echo $! > " + marker.string() + "; wait", 300ms));
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->timed_out);
  EXPECT_FALSE(result->Succeeded());
  EXPECT_EQ(result->term_signal, SIGKILL);
  EXPECT_LT(result->elapsed, 5s);
  std::ifstream in(marker);
  pid_t grandchild = 0;
  ASSERT_TRUE(in >> grandchild);
  // The grandchild is reaped by init asynchronously: wait for it to be gone.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (::kill(grandchild, 0) == 0 && std::chrono::steady_clock::now() < deadline) {
    ::usleep(10'000);
  }
  EXPECT_NE(::kill(grandchild, 0), 0) << "grandchild " << grandchild << " survived";
  std::filesystem::remove(marker);
}

TEST(SubprocessTest, LineCallbackSeesEveryLineAsItArrives) {
  auto options = Shell("printf 'progress=continue\\nout_time_us=5\\n'; sleep 0.2; printf 'end'");
  std::vector<std::string> lines;
  options.on_stdout_line = [&](std::string_view line) { lines.emplace_back(line); };
  auto result = RunSubprocess(options);
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->Succeeded());
  // The last line has no newline: it is still delivered, at EOF.
  EXPECT_EQ(lines, (std::vector<std::string>{"progress=continue", "out_time_us=5", "end"}));
  EXPECT_TRUE(result->stdout_data.empty());
}

TEST(SubprocessTest, CancelKillsTheChildPromptly) {
  std::atomic<bool> stop{false};
  auto options = Shell("echo started; sleep 30");
  options.poll_interval = 20ms;
  options.on_stdout_line = [&](std::string_view line) {
    if (line == "started") {
      stop = true;
    }
  };
  options.cancelled = [&] { return stop.load(); };
  auto result = RunSubprocess(options);
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->cancelled);
  EXPECT_FALSE(result->timed_out);
  EXPECT_FALSE(result->Succeeded());
  EXPECT_EQ(result->term_signal, SIGKILL);
  EXPECT_LT(result->elapsed, 5s);
  EXPECT_NE(result->Describe().find("cancelled"), std::string::npos);
}

TEST(SubprocessTest, RunsInTheGivenWorkingDirectory) {
  auto options = Shell("pwd");
  options.working_directory = "/tmp";
  auto result = RunSubprocess(options);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->stdout_data, "/tmp\n");
}

TEST(SubprocessTest, ChildDiesWhenTheServerIsKilled) {
  auto marker = std::filesystem::temp_directory_path() /
                ("sg-subprocess-orphan-" + std::to_string(::getpid()) + ".pid");
  std::filesystem::remove(marker);
  // A stand-in for the server: a forked process that runs a child and is then SIGKILLed.
  pid_t server = ::fork();
  ASSERT_GE(server, 0);
  if (server == 0) {
    auto ignored = RunSubprocess(Shell("echo $$ > " + marker.string() + "; exec sleep 30", 60s));
    ::_exit(ignored ? 0 : 1);
  }
  pid_t child = 0;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (child == 0 && std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(marker);
    if (!(in >> child)) {
      child = 0;
      ::usleep(10'000);
    }
  }
  ASSERT_NE(child, 0) << "the child never started";
  ::kill(server, SIGKILL);
  ::waitpid(server, nullptr, 0);
  deadline = std::chrono::steady_clock::now() + 5s;
  while (::kill(child, 0) == 0 && std::chrono::steady_clock::now() < deadline) {
    ::usleep(10'000);
  }
  EXPECT_NE(::kill(child, 0), 0) << "child " << child << " outlived its parent";
  std::filesystem::remove(marker);
}

TEST(SubprocessTest, StdinIsDevNull) {
  auto result = RunSubprocess(Shell("cat; echo eof"));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->stdout_data, "eof\n");
}

TEST(SubprocessTest, ChildDoesNotInheritABlockedSignalMask) {
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGTERM);
  sigset_t previous;
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &blocked, &previous), 0);
  auto result = RunSubprocess(Shell("kill -TERM $$; sleep 5"));
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->term_signal, SIGTERM);
}

TEST(SubprocessTest, MissingProgramIsNotFound) {
  SubprocessOptions options;
  options.argv = {"sg-no-such-program-xyz"};
  auto result = RunSubprocess(options);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kNotFound);
}

TEST(SubprocessTest, EmptyArgvIsInvalid) {
  auto result = RunSubprocess(SubprocessOptions{});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace sg
