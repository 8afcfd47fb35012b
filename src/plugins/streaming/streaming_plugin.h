#pragma once

#include "core/api/plugin.h"

namespace sg {

/// Registers the streaming plugin: HLS and DASH manifests generated from metadata and
/// segment delivery (Range, ETag, sendfile) under /api/v1/streaming/.
Result<> RegisterStreamingPlugin(PluginRegistrar& registrar);

}  // namespace sg
