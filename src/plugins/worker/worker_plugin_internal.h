#pragma once

#include <memory>

#include "core/api/plugin.h"

namespace sg::plugins::worker {

/// For tests: a fresh worker plugin instance.
std::unique_ptr<Plugin> MakeWorkerPlugin();

}  // namespace sg::plugins::worker
