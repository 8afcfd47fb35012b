#pragma once

#include "core/api/plugin.h"

namespace sg {

/// Registers the upload plugin: resumable uploads through the chunked API
/// (/api/v1/upload/...) and tus 1.0 (/api/v1/tus), expiry of abandoned sessions.
Result<> RegisterUploadPlugin(PluginRegistrar& registrar);

}  // namespace sg
