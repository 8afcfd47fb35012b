#pragma once

#include <memory>

#include "core/api/plugin.h"

namespace sg::plugins::monitor {

/// For tests: a fresh monitor plugin instance.
std::unique_ptr<Plugin> MakeMonitorPlugin();

}  // namespace sg::plugins::monitor
