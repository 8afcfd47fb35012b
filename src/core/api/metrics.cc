#include "core/api/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "core/api/result.h"

namespace sg {

void Counter::Inc(double amount) noexcept {
  // A counter only goes up; a negative or NaN increment is a caller bug that would make
  // rate() lie, so it is ignored rather than recorded.
  if (!(amount >= 0.0)) {
    return;
  }
  value_.fetch_add(amount, std::memory_order_relaxed);
}

double Counter::Value() const noexcept { return value_.load(std::memory_order_relaxed); }

void Gauge::Set(double value) noexcept { value_.store(value, std::memory_order_relaxed); }

void Gauge::Inc(double amount) noexcept { value_.fetch_add(amount, std::memory_order_relaxed); }

void Gauge::Dec(double amount) noexcept { value_.fetch_sub(amount, std::memory_order_relaxed); }

double Gauge::Value() const noexcept { return value_.load(std::memory_order_relaxed); }

Histogram::Histogram(std::vector<double> upper_bounds) : upper_bounds_(std::move(upper_bounds)) {
  // +Inf is implicit; accept it spelled out as the last bound, as other clients do.
  if (!upper_bounds_.empty() && std::isinf(upper_bounds_.back()) && upper_bounds_.back() > 0) {
    upper_bounds_.pop_back();
  }
  for (std::size_t i = 0; i < upper_bounds_.size(); ++i) {
    SG_CHECK(std::isfinite(upper_bounds_[i]), "histogram bounds must be finite");
    SG_CHECK(i == 0 || upper_bounds_[i - 1] < upper_bounds_[i],
             "histogram bounds must be strictly ascending");
  }
  buckets_ = std::make_unique<std::atomic<std::uint64_t>[]>(upper_bounds_.size() + 1);
  for (std::size_t i = 0; i <= upper_bounds_.size(); ++i) {
    buckets_[i].store(0, std::memory_order_relaxed);
  }
}

void Histogram::Observe(double value) noexcept {
  // Prometheus buckets are inclusive upper bounds (`le`). NaN compares false with every
  // bound and so lands in +Inf only.
  auto it = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
  std::size_t index = static_cast<std::size_t>(it - upper_bounds_.begin());
  if (std::isnan(value)) {
    index = upper_bounds_.size();
  }
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Take() const {
  Snapshot snapshot;
  snapshot.upper_bounds = upper_bounds_;
  snapshot.cumulative_counts.reserve(upper_bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= upper_bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    snapshot.cumulative_counts.push_back(running);
  }
  // The count is derived from the buckets rather than read from count_, so that a scrape
  // racing with Observe still satisfies `_count == _bucket{le="+Inf"}`.
  snapshot.count = running;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

std::vector<double> DefaultLatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

}  // namespace sg
