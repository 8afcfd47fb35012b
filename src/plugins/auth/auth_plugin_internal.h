#pragma once

#include <memory>

#include "core/api/plugin.h"

namespace sg::plugins::auth {

/// For tests: a fresh auth plugin instance.
std::unique_ptr<Plugin> MakeAuthPlugin();

}  // namespace sg::plugins::auth
