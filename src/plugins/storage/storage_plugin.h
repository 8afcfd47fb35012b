#pragma once

#include "core/api/plugin.h"

namespace sg {

/// Registers the storage plugin: the ObjectStore service backed by a local folder.
Result<> RegisterStoragePlugin(PluginRegistrar& registrar);

}  // namespace sg
