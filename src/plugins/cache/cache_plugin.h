#pragma once

#include "core/api/plugin.h"

namespace sg {

/// Registers the cache plugin: the Cache service (an in-process sharded LRU bounded in
/// bytes), invalidated by content and transcoding events.
Result<> RegisterCachePlugin(PluginRegistrar& registrar);

}  // namespace sg
