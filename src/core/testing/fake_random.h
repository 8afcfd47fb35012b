#pragma once
/// A Random that returns a fixed sequence (cycling), for deterministic jitter.

#include <cstdint>
#include <mutex>
#include <vector>

#include "core/api/random.h"

namespace sg::testing {

class FakeRandom final : public Random {
 public:
  explicit FakeRandom(std::vector<double> units = {0.5}) : units_(std::move(units)) {}
  double NextUnit() override {
    std::lock_guard lock(mutex_);
    double value = units_[next_ % units_.size()];
    ++next_;
    return value;
  }
  std::uint64_t NextU64() override {
    return static_cast<std::uint64_t>(NextUnit() * 18446744073709551615.0);
  }

 private:
  std::mutex mutex_;
  std::vector<double> units_;
  std::size_t next_ = 0;
};

}  // namespace sg::testing
