#pragma once
/// Process metrics with the standard Prometheus client names (process_*), read from /proc.

#include <cstdint>
#include <optional>

#include "core/api/metrics.h"

namespace sg::plugins::monitor {

struct ProcessSample {
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double cpu_seconds = 0;
  double open_fds = 0;
  double max_fds = 0;
  double start_time_seconds = 0;  ///< since the Unix epoch
  double threads = 0;
};

/// Reads /proc/self; nullopt when /proc is not mounted.
std::optional<ProcessSample> SampleProcess();

/// Registers process_resident_memory_bytes, process_virtual_memory_bytes,
/// process_cpu_seconds_total, process_open_fds, process_max_fds,
/// process_start_time_seconds and process_threads as callback metrics.
void RegisterProcessMetrics(MetricsRegistry& metrics);

}  // namespace sg::plugins::monitor
