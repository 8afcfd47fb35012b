#include "app/serve_command.h"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/kernel.h"
#include "core/logging.h"

namespace sg::app {
namespace {

sigset_t StopAndReloadSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

// A server holds a descriptor per connection and per cached open file; the usual soft limit
// of 1024 would cap it long before memory does. Raise it to the hard limit the operator
// allows (as Go's runtime and nginx's worker_rlimit_nofile do); returns the limit in force.
rlim_t RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return 0;
  }
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      return raised.rlim_cur;
    }
  }
  return limit.rlim_cur;
}

core::LogFormat FormatOf(const core::LogConfig& config) {
  return config.format == "text" ? core::LogFormat::kText : core::LogFormat::kJson;
}

}  // namespace

int RunServe(const core::PluginRegistry& registry, const core::ConfigSources& sources,
             const std::vector<std::string>& plugins) {
  // Block the signals before any thread exists so every thread inherits the mask and only
  // the loop below receives them (sigtimedwait), never an arbitrary worker thread.
  sigset_t signals = StopAndReloadSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto tree = core::LoadConfigTree(sources);
  if (!tree) {
    fmt::print(stderr, "streamgate: config error: {}\n", tree.error().message);
    return kExitConfigError;
  }
  core::Kernel kernel(registry);
  if (auto configured = kernel.Configure(*tree); !configured) {
    fmt::print(stderr, "streamgate: config error:\n{}\n", configured.error().message);
    return kExitConfigError;
  }
  auto level = core::ParseLogLevel(kernel.log_config().level);
  core::ConfigureLogging(FormatOf(kernel.log_config()), level ? *level : spdlog::level::info);
  auto log = core::MakeLogger("kernel");
  log->debug("open file limit {}", RaiseOpenFileLimit());

  std::error_code ec;
  std::filesystem::create_directories(kernel.server_config().data_dir, ec);
  if (ec) {
    log->critical("cannot create data directory {}: {}", kernel.server_config().data_dir,
                  ec.message());
    return kExitFailure;
  }

  if (auto started = kernel.Start(plugins); !started) {
    log->critical("start-up failed: {}", started.error().message);
    return started.error().code == ErrorCode::kInvalidArgument ? kExitConfigError : kExitFailure;
  }
  log->info("streamgate {} ready", SG_VERSION);

  std::atomic<bool> stopped{false};
  std::thread stopper;
  bool stopping = false;
  while (!stopped.load()) {
    timespec tick{0, 200'000'000};
    siginfo_t info{};
    int signal_number = sigtimedwait(&signals, &info, &tick);
    if (signal_number < 0) {
      continue;  // timeout or EINTR: check whether the drain finished
    }
    if (signal_number == SIGHUP) {
      if (stopping) {
        continue;
      }
      log->info("SIGHUP: reloading configuration");
      auto fresh = core::LoadConfigTree(sources);
      Result<> reloaded = fresh ? kernel.Reload(*fresh) : MakeError(fresh.error());
      if (!reloaded) {
        log->error("reload rejected, keeping the running configuration: {}",
                   reloaded.error().message);
      } else {
        log->info("configuration reloaded");
        log->debug("log level after reload: {}", kernel.log_config().level);
      }
      continue;
    }
    if (stopping) {
      log->warn("second {} during drain: exiting now", strsignal(signal_number));
      spdlog::shutdown();
      _exit(kExitForced);
    }
    stopping = true;
    auto timeout = kernel.server_config().shutdown_timeout;
    log->info("{}: draining (up to {} ms)", strsignal(signal_number), timeout.count());
    // Stop runs on its own thread so this loop keeps listening for a second signal.
    stopper = std::thread([&kernel, &stopped, timeout] {
      kernel.Stop(std::chrono::steady_clock::now() + timeout);
      stopped.store(true);
    });
  }
  stopper.join();
  log->info("stopped");
  spdlog::shutdown();
  return kExitOk;
}

}  // namespace sg::app
