#pragma once

#include "core/api/plugin.h"

namespace sg::app {

/// Registers every plugin compiled into the binary. The one place that names them all:
/// adding a plugin means one line here and one in app.cmake.
Result<> RegisterBuiltinPlugins(PluginRegistrar& registrar);

}  // namespace sg::app
