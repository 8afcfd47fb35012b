#pragma once

#include <memory>

#include "core/api/plugin.h"

namespace sg::plugins::transcode {

/// A fresh plugin instance (for tests; production code goes through RegisterTranscodePlugin).
std::unique_ptr<Plugin> MakeTranscodePlugin();

}  // namespace sg::plugins::transcode
