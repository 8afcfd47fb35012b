#pragma once
/// What the kernel knows about the running process, for health and admin endpoints.

#include <string>
#include <string_view>
#include <vector>

#include "core/api/plugin.h"

namespace sg {

struct PluginStatus {
  std::string name;
  std::string version;
  Health health;
};

/// Published on the EventBus once every selected plugin has started; data = the plugin
/// names in start order, comma-separated.
inline constexpr std::string_view kKernelStartedSubject = "streamgate.kernel.started";

class RuntimeInfo {
 public:
  static constexpr std::string_view kServiceName = "RuntimeInfo";
  virtual ~RuntimeInfo() = default;
  /// Calls CheckHealth() on every started plugin, in start order. Thread-safe.
  virtual std::vector<PluginStatus> CheckPlugins() const = 0;
  /// True once shutdown began (readiness then reports 503 so load balancers move away).
  virtual bool ShuttingDown() const noexcept = 0;
  virtual std::string_view Version() const noexcept = 0;
};

}  // namespace sg
