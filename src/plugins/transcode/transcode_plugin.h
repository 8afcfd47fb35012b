#pragma once

#include "core/api/plugin.h"

namespace sg {

/// Registers the transcode plugin: every uploaded content becomes a "transcode" job that
/// runs one ffmpeg process to a CMAF ladder (renditions, segments, poster).
Result<> RegisterTranscodePlugin(PluginRegistrar& registrar);

}  // namespace sg
