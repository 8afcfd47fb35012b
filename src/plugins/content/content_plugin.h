#pragma once

#include "core/api/plugin.h"

namespace sg {

/// Registers the content plugin: the Content API (list/search, read, edit, delete).
Result<> RegisterContentPlugin(PluginRegistrar& registrar);

}  // namespace sg
