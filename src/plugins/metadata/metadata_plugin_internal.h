#pragma once

#include <memory>

#include "core/api/plugin.h"

namespace sg::plugins::metadata {

/// For tests: a fresh metadata plugin instance.
std::unique_ptr<Plugin> MakeMetadataPlugin();

}  // namespace sg::plugins::metadata
