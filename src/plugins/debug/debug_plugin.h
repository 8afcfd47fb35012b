#pragma once

#include "core/api/plugin.h"

namespace sg {

/// Registers the debug plugin (not enabled by default): routes that let tests and
/// operators exercise the gateway's slow-request, body and failure paths.
Result<> RegisterDebugPlugin(PluginRegistrar& registrar);

}  // namespace sg
