#pragma once

#include <memory>

#include "core/api/plugin.h"

namespace sg::plugins::debug {

/// For tests: a fresh debug plugin instance.
std::unique_ptr<Plugin> MakeDebugPlugin();

}  // namespace sg::plugins::debug
