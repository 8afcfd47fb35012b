#pragma once
/// Helpers shared by the worker plugin's tests.

#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <system_error>

#include "core/testing/temp_dir.h"
namespace sg::plugins::worker::testing {

using sg::testing::TempDir;

/// Polls `condition` until it holds or `timeout` passes (real time): tests wait on
/// conditions, never assert after a fixed sleep.
inline bool WaitFor(const std::function<bool()>& condition,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::mutex mutex;
  std::condition_variable never;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return condition();
    }
    std::unique_lock lock(mutex);
    never.wait_for(lock, std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace sg::plugins::worker::testing
