#pragma once

#include "core/api/plugin.h"

namespace sg {

/// Registers the worker plugin: the durable JobQueue (SQLite), the JobRunner worker pool
/// with its periodic scheduler, and the jobs API (/api/v1/jobs).
Result<> RegisterWorkerPlugin(PluginRegistrar& registrar);

}  // namespace sg
