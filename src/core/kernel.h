#pragma once
/// The microkernel: configures plugins, orders them by dependency, starts them, reloads
/// their config and stops them. Owns the service registry, the metrics registry and the
/// embedded event bus (provided as the `EventBus` service before any plugin's Init).

#include <memory>
#include <string>
#include <vector>

#include "core/api/plugin.h"
#include "core/config_loader.h"
#include "core/plugin_registry.h"

namespace sg {
class Clock;
class Random;
class MetricsRegistry;
}  // namespace sg

namespace sg::core {

/// `server` section: process-wide settings.
struct ServerConfig {
  std::string data_dir = "./data";
  std::string public_url;  ///< empty = derived from gateway.listen
  ConfigDuration shutdown_timeout{30'000};
  void Visit(ConfigVisitor& visitor);
  Result<> Validate() const;
};

/// `log` section.
struct LogConfig {
  std::string level = "info";   ///< reloadable
  std::string format = "json";  ///< json | text
  void Visit(ConfigVisitor& visitor);
  Result<> Validate() const;
};

/// `bus` section (embedded event bus).
struct BusConfig {
  std::int64_t max_pending = 10000;  ///< per subscription
  std::int64_t dispatch_threads = 2;
  void Visit(ConfigVisitor& visitor);
  Result<> Validate() const;
};

struct KernelDeps {
  std::shared_ptr<Clock> clock;    ///< default SystemClock
  std::shared_ptr<Random> random;  ///< default SystemRandom
};

class Kernel {
 public:
  Kernel(const PluginRegistry& registry, KernelDeps deps = {});
  ~Kernel();  // stops if still running (with the configured shutdown timeout)
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  /// Reads and validates the kernel's sections and every registered plugin's section
  /// (enabled or not, so `config validate` checks the whole file). Unknown top-level
  /// sections and unknown keys are errors naming the path. All problems are reported,
  /// one per line, in one kInvalidArgument.
  Result<> Configure(const ConfigTree& tree);

  /// Effective configuration as YAML with every key (defaults included), secrets shown as
  /// "<redacted>". Call after Configure.
  std::string PrintConfig() const;

  /// Selects `plugins` (empty = every plugin enabled by default), checks that every
  /// dependency is selected and there is no cycle (errors name them), then Inits all in
  /// dependency order and Starts all in the same order. On any failure, stops what was
  /// started (and what was initialised) in reverse order and returns the error naming
  /// the plugin.
  Result<> Start(const std::vector<std::string>& plugins);

  /// Stops running plugins in reverse start order, each bounded by `deadline`. Idempotent.
  void Stop(Deadline deadline) noexcept;

  /// Re-reads config: on any error keeps the running config and returns the error. Else
  /// applies reloadable keys (log level, plugin Reload) and logs keys that need a restart.
  Result<> Reload(const ConfigTree& tree);

  /// Names in start order (after Start).
  std::vector<std::string> StartedPlugins() const;
  const ServerConfig& server_config() const;
  const LogConfig& log_config() const;
  MetricsRegistry& metrics();
  bool ShuttingDown() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Orders `selected` so that dependencies come first (stable: ties keep input order).
/// kInvalidArgument naming a missing dependency ("plugin monitor depends on gateway, which
/// is not selected") or the cycle ("dependency cycle: a -> b -> a").
Result<std::vector<std::string>> OrderByDependencies(const std::vector<PluginInfo>& selected);

}  // namespace sg::core
