#pragma once

#include <memory>

#include "core/api/plugin.h"

namespace sg::plugins::content {

/// For tests: a fresh content plugin instance.
std::unique_ptr<Plugin> MakeContentPlugin();

}  // namespace sg::plugins::content
