#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/api/plugin.h"
#include "core/api/services/event_bus.h"

namespace sg::plugins::cache {

/// Subjects whose messages invalidate everything cached about their content.
inline constexpr std::string_view kInvalidatingSubjects[] = {
    "streamgate.transcoding.>",
    "streamgate.content.updated",
    "streamgate.content.deleted",
};

/// The prefix `content:<content_id>:` to drop for a message, or nullopt when its payload
/// is not a JSON object with a usable "content_id" string.
std::optional<std::string> InvalidationPrefixOf(const BusMessage& message);

/// For tests: a fresh cache plugin instance.
std::unique_ptr<Plugin> MakeCachePlugin();

}  // namespace sg::plugins::cache
