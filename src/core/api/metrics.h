#pragma once
/// The metrics sink every plugin records into; the monitor plugin renders it as
/// Prometheus text at /metrics. Families are created once (typically in Init) and the
/// returned references stay valid for the registry's lifetime. Recording is lock-free
/// after a series exists; looking up a label set takes a short lock (cache the reference
/// on hot paths when the labels are fixed).

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sg {

class Counter {
 public:
  void Inc(double amount = 1.0) noexcept;
  double Value() const noexcept;

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void Set(double value) noexcept;
  void Inc(double amount = 1.0) noexcept;
  void Dec(double amount = 1.0) noexcept;
  double Value() const noexcept;

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  /// `upper_bounds` ascending; +Inf is implicit.
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value) noexcept;
  /// Snapshot for rendering: cumulative counts per bound (last = +Inf), sum, count.
  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<std::uint64_t> cumulative_counts;
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot Take() const;

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // one per bound + Inf
  std::atomic<double> sum_{0.0};
  std::atomic<std::uint64_t> count_{0};
};

/// Default latency buckets in seconds (1 ms .. 60 s).
std::vector<double> DefaultLatencyBuckets();

template <class Metric>
class MetricFamily {
 public:
  virtual ~MetricFamily() = default;
  /// The series for these label values (in the order the family declared its label
  /// names); created on first use. SG_CHECKs that the count matches.
  virtual Metric& WithLabels(std::initializer_list<std::string_view> values) = 0;
  virtual Metric& WithLabels(const std::vector<std::string>& values) = 0;
};

class MetricsRegistry {
 public:
  virtual ~MetricsRegistry() = default;
  /// Registering the same name twice with the same type and labels returns the same family;
  /// a conflicting re-registration is a bug (SG_CHECK). Names follow Prometheus rules:
  /// counters end in `_total`, units in the name (`_seconds`, `_bytes`).
  virtual MetricFamily<Counter>& CounterFamily(std::string name, std::string help,
                                               std::vector<std::string> label_names = {}) = 0;
  virtual MetricFamily<Gauge>& GaugeFamily(std::string name, std::string help,
                                           std::vector<std::string> label_names = {}) = 0;
  virtual MetricFamily<Histogram>& HistogramFamily(std::string name, std::string help,
                                                   std::vector<std::string> label_names,
                                                   std::vector<double> upper_bounds) = 0;
  /// A gauge computed when scraped (e.g. process RSS). `read` must be cheap and thread-safe.
  virtual void CallbackGauge(std::string name, std::string help, std::function<double()> read) = 0;
  /// Same, for a monotonically increasing value rendered as a counter.
  virtual void CallbackCounter(std::string name, std::string help,
                               std::function<double()> read) = 0;
  /// Prometheus text exposition format 0.0.4 of every family, sorted by name.
  virtual std::string RenderPrometheus() const = 0;
};

}  // namespace sg
