#include "plugins/monitor/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace sg::plugins::monitor {
namespace {

// Seconds since the epoch at which the machine booted (btime in /proc/stat).
std::optional<double> BootTime() {
  std::ifstream stat("/proc/stat");
  std::string key;
  while (stat >> key) {
    if (key == "btime") {
      double value = 0;
      stat >> value;
      return value;
    }
    stat.ignore(1 << 16, '\n');
  }
  return std::nullopt;
}

}  // namespace

std::optional<ProcessSample> SampleProcess() {
  std::ifstream stat_file("/proc/self/stat");
  if (!stat_file) {
    return std::nullopt;
  }
  std::string line;
  std::getline(stat_file, line);
  // The command name (field 2) may contain spaces and parentheses: skip to the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) {
    return std::nullopt;
  }
  std::istringstream rest(line.substr(close + 2));
  std::vector<std::string> fields;  // fields[0] is field 3 (state)
  for (std::string field; rest >> field;) {
    fields.push_back(field);
  }
  if (fields.size() < 22) {
    return std::nullopt;
  }
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  ProcessSample sample;
  // Field numbers from proc(5): utime 14, stime 15, num_threads 20, starttime 22,
  // vsize 23, rss 24; index = number - 3.
  sample.cpu_seconds = (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
  sample.threads = std::stod(fields[17]);
  sample.virtual_bytes = std::stod(fields[20]);
  sample.resident_bytes = std::stod(fields[21]) * page;
  if (auto boot = BootTime()) {
    sample.start_time_seconds = *boot + std::stod(fields[19]) / ticks;
  }
  std::error_code ec;
  double fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  sample.open_fds = fds;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    sample.max_fds = static_cast<double>(limit.rlim_cur);
  }
  return sample;
}

void RegisterProcessMetrics(MetricsRegistry& metrics) {
  auto field = [](double ProcessSample::*member) {
    return [member] {
      auto sample = SampleProcess();
      return sample ? (*sample).*member : 0.0;
    };
  };
  metrics.CallbackGauge("process_resident_memory_bytes", "Resident memory size in bytes.",
                        field(&ProcessSample::resident_bytes));
  metrics.CallbackGauge("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                        field(&ProcessSample::virtual_bytes));
  metrics.CallbackCounter("process_cpu_seconds_total",
                          "Total user and system CPU time spent in seconds.",
                          field(&ProcessSample::cpu_seconds));
  metrics.CallbackGauge("process_open_fds", "Number of open file descriptors.",
                        field(&ProcessSample::open_fds));
  metrics.CallbackGauge("process_max_fds", "Maximum number of open file descriptors.",
                        field(&ProcessSample::max_fds));
  metrics.CallbackGauge("process_start_time_seconds",
                        "Start time of the process since unix epoch in seconds.",
                        field(&ProcessSample::start_time_seconds));
  metrics.CallbackGauge("process_threads", "Number of OS threads in the process.",
                        field(&ProcessSample::threads));
}

}  // namespace sg::plugins::monitor
