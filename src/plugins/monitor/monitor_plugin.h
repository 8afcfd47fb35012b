#pragma once

#include "core/api/plugin.h"

namespace sg {

/// Registers the monitor plugin: /healthz, /readyz, /metrics, periodic health checks and
/// process metrics.
Result<> RegisterMonitorPlugin(PluginRegistrar& registrar);

}  // namespace sg
