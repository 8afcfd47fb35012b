#pragma once

#include <memory>

#include "core/api/plugin.h"

namespace sg::plugins::upload {

/// A fresh plugin instance (for tests; production code goes through RegisterUploadPlugin).
std::unique_ptr<Plugin> MakeUploadPlugin();

}  // namespace sg::plugins::upload
