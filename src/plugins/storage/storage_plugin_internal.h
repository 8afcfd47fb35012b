#pragma once

#include <memory>

#include "core/api/plugin.h"

namespace sg::plugins::storage {

/// For tests: a fresh storage plugin instance.
std::unique_ptr<Plugin> MakeStoragePlugin();

}  // namespace sg::plugins::storage
