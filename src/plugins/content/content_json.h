#pragma once
/// The Content API's JSON: records out, PATCH bodies in (with their validation).

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "core/api/clock.h"
#include "core/api/result.h"
#include "core/api/services/metadata_store.h"

namespace sg::plugins::content {

inline constexpr std::size_t kMaxTitleChars = 200;
inline constexpr std::size_t kMaxDescriptionChars = 5000;
inline constexpr std::size_t kMaxTagChars = 40;
inline constexpr std::size_t kMaxTags = 20;
inline constexpr std::size_t kMaxCategoryChars = 64;

/// The public JSON shape of a record; `probe` is the parsed probe_json object or null.
boost::json::object ContentToJson(const ContentRecord& record);

/// A rendition as GET /api/v1/content/{id} shows it: what it is, how many segments are
/// recorded, and when the first one was (the benchmark's time to first segment).
boost::json::object RenditionToJson(const RenditionRecord& rendition,
                                    const std::vector<SegmentRecord>& segments);

/// Lower-cases (ASCII), trims spaces and checks one tag: 1..40 characters of [a-z0-9-_ ].
/// kInvalidArgument naming the tag otherwise.
Result<std::string> NormalizeTag(std::string_view tag);
/// Normalises each tag, removes duplicates, sorts; at most 20.
Result<std::vector<std::string>> NormalizeTags(const std::vector<std::string>& tags);

/// Parses a PATCH body {title?, description?, tags?, visibility?, category?}.
/// kInvalidArgument for malformed JSON, a non-object, an unknown field (named), a wrong
/// type or a value out of bounds. Nothing else of ContentPatch is ever set.
Result<ContentPatch> ParseContentPatch(std::string_view body);

}  // namespace sg::plugins::content
