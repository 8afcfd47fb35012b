#pragma once

#include "core/api/plugin.h"

namespace sg {

/// Registers the metadata plugin: the MetadataStore service on a local SQLite file.
Result<> RegisterMetadataPlugin(PluginRegistrar& registrar);

}  // namespace sg
