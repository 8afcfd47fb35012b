#pragma once
/// A Clock that only moves when told (or when code under test sleeps on it).

#include <atomic>
#include <mutex>

#include "core/api/clock.h"

namespace sg::testing {

class FakeClock final : public Clock {
 public:
  FakeClock() = default;
  SteadyTime Now() const override {
    std::lock_guard lock(mutex_);
    return steady_;
  }
  WallTime WallNow() const override {
    std::lock_guard lock(mutex_);
    return wall_;
  }
  /// Sleeping on a fake clock advances it, so retry loops run instantly in tests.
  void SleepFor(Duration duration) const override {
    const_cast<FakeClock*>(this)->Advance(duration);
    sleeps_.fetch_add(1);
  }
  void Advance(Duration duration) {
    std::lock_guard lock(mutex_);
    steady_ += duration;
    wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(duration);
  }
  int sleeps() const { return sleeps_.load(); }

 private:
  mutable std::mutex mutex_;
  SteadyTime steady_{std::chrono::hours(1000)};
  WallTime wall_{std::chrono::sys_days{std::chrono::year{2026} / 1 / 1}};
  mutable std::atomic<int> sleeps_{0};
};

}  // namespace sg::testing
