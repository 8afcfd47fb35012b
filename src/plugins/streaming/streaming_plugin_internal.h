#pragma once

#include <memory>

#include "core/api/plugin.h"

namespace sg::plugins::streaming {

/// For tests: a fresh streaming plugin instance.
std::unique_ptr<Plugin> MakeStreamingPlugin();

}  // namespace sg::plugins::streaming
