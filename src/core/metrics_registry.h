#pragma once
/// The kernel's MetricsRegistry: families of counters, gauges and histograms keyed by label
/// values, rendered in the Prometheus text exposition format 0.0.4 (what `promtool check
/// metrics` and every Prometheus server accept).
///
/// Thread-safety: every method may be called from any thread. Series are created on first
/// use and never erased, so references returned by `WithLabels` stay valid for the
/// registry's lifetime. Recording into a series is lock-free.
///
/// Registration mistakes are bugs and abort (SG_CHECK): an invalid metric or label name, a
/// counter whose name does not end in `_total`, the same name registered again with another
/// type, other label names or other histogram bounds, or a label-count mismatch in
/// `WithLabels`.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/api/metrics.h"

namespace sg::core {

class PrometheusMetricsRegistry final : public sg::MetricsRegistry {
 public:
  PrometheusMetricsRegistry();
  ~PrometheusMetricsRegistry() override;
  PrometheusMetricsRegistry(const PrometheusMetricsRegistry&) = delete;
  PrometheusMetricsRegistry& operator=(const PrometheusMetricsRegistry&) = delete;

  MetricFamily<Counter>& CounterFamily(std::string name, std::string help,
                                       std::vector<std::string> label_names = {}) override;
  MetricFamily<Gauge>& GaugeFamily(std::string name, std::string help,
                                   std::vector<std::string> label_names = {}) override;
  MetricFamily<Histogram>& HistogramFamily(std::string name, std::string help,
                                           std::vector<std::string> label_names,
                                           std::vector<double> upper_bounds) override;
  /// Registering the same callback name again (same type) replaces the callback, so a
  /// plugin that is initialised twice (tests, restarts) does not leave a stale one behind.
  /// The callback is called during RenderPrometheus without any registry lock held; if it
  /// throws, that family is left out of the scrape.
  void CallbackGauge(std::string name, std::string help, std::function<double()> read) override;
  void CallbackCounter(std::string name, std::string help, std::function<double()> read) override;
  std::string RenderPrometheus() const override;

  /// Formats a sample value the way Prometheus parses it: integers without exponent,
  /// otherwise the shortest representation that round-trips; `+Inf`, `-Inf`, `NaN`.
  static std::string FormatValue(double value);

  class FamilyBase;

 private:
  FamilyBase& Register(std::unique_ptr<FamilyBase> family);

  mutable std::mutex mutex_;
  /// Sorted by name, which is the render order. Families are never erased.
  std::map<std::string, std::unique_ptr<FamilyBase>, std::less<>> families_;
};

}  // namespace sg::core
