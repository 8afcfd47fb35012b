#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/config_loader.h"
#include "core/plugin_registry.h"

namespace sg::app {

/// Process exit codes (documented in the README).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;      ///< a plugin failed to start, I/O errors
inline constexpr int kExitConfigError = 2;  ///< bad config, flags or plugin selection
inline constexpr int kExitForced = 130;     ///< a second SIGTERM/SIGINT during drain

/// Runs `streamgate serve` until SIGTERM/SIGINT: loads and validates config (exit 2 before
/// any port opens), starts the selected plugins, reloads on SIGHUP, drains on the first
/// stop signal and exits at once on the second.
int RunServe(const core::PluginRegistry& registry, const core::ConfigSources& sources,
             const std::vector<std::string>& plugins);

}  // namespace sg::app
