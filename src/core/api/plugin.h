#pragma once
/// The plugin contract. A plugin is created by its factory (cheap, no I/O), configured by
/// the kernel through `NewConfig()`, then driven through Init -> Start -> Drain -> Stop.
/// The kernel orders Init/Start/Drain by `dependencies` and stops in reverse order, also
/// after a failed start. Every method is called from one kernel thread; `CheckHealth` may be called
/// from any thread at any time after Start and must not block.
///
/// Exceptions must not escape these methods; the kernel catches any that do, treats them
/// as a failure of that plugin and logs them, so none crosses a plugin boundary.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/clock.h"
#include "core/api/config.h"
#include "core/api/result.h"

namespace sg {

class PluginContext;

struct PluginInfo {
  std::string name;     ///< lower-case, [a-z0-9_]; also its config section
  std::string version;  ///< semantic version
  std::string description;
  /// Plugins that must be initialised and started before this one.
  std::vector<std::string> dependencies;
  /// Runs when `--plugins` is not given. Tools and test helpers are false.
  bool enabled_by_default = true;
};

enum class HealthStatus { kOk, kDegraded, kDown };
std::string_view HealthStatusName(HealthStatus status) noexcept;

struct Health {
  HealthStatus status = HealthStatus::kOk;
  std::string detail;
};

class Plugin {
 public:
  virtual ~Plugin() = default;

  virtual const PluginInfo& Info() const = 0;

  /// A config object holding this plugin's defaults, or nullptr when it has none. The
  /// kernel reads the plugin's section into it and validates it before Init.
  virtual std::unique_ptr<PluginConfig> NewConfig() const { return nullptr; }

  /// Reads config (`context.config()`), looks up and provides services, registers routes and
  /// subscriptions. No sockets, no threads.
  virtual Result<> Init(PluginContext& context) = 0;
  /// Opens sockets, starts threads. May use services of its dependencies.
  virtual Result<> Start() = 0;
  /// First shutdown phase: stop taking work from outside (close listeners, stop pulling
  /// jobs) and finish what is in flight until `deadline`. Called on every started plugin
  /// in START order before any Stop, so ingress (the gateway) drains while the plugins its
  /// handlers call are still running. Default: nothing to drain.
  virtual void Drain(Deadline deadline) noexcept {}
  /// Second phase, in reverse start order: refuses new work, finishes or abandons what is
  /// left by `deadline`, releases everything. Must be safe to call after a failed or
  /// skipped Start (after a successful Init), and after Drain.
  virtual void Stop(Deadline deadline) noexcept = 0;
  /// A cheap snapshot; never blocks on I/O.
  virtual Health CheckHealth() const = 0;
  /// Applies the reloadable keys of `fresh` (already validated). Called on SIGHUP from the
  /// kernel thread while the plugin runs; must be thread-safe with respect to its workers.
  virtual Result<> Reload(const PluginConfig& fresh) { return {}; }
};

/// Creates a fresh, unconfigured plugin instance (cheap, no I/O).
using PluginFactory = std::function<std::unique_ptr<Plugin>()>;

/// Where plugins are registered explicitly (src/app/builtin_plugins.cc). Each plugin
/// exports `sg::Result<> Register<Name>Plugin(sg::PluginRegistrar&)`.
class PluginRegistrar {
 public:
  virtual ~PluginRegistrar() = default;
  /// kAlreadyExists when a plugin of the same name is registered; kInvalidArgument for a
  /// malformed name or version.
  virtual Result<> Register(PluginFactory factory) = 0;
};

}  // namespace sg
