#include "plugins/content/content_json.h"

#include <boost/json.hpp>

#include <algorithm>
#include <ctime>

namespace sg::plugins::content {
namespace {

namespace json = boost::json;

// Boost.JSON has already rejected invalid UTF-8, so code points are the bytes that do not
// continue a sequence.
std::size_t CodePoints(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string_view Trim(std::string_view text) {
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return {};
  }
  auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

// Control characters break log lines and terminals; descriptions may keep line breaks.
bool HasControl(std::string_view text, bool allow_line_breaks) {
  return std::any_of(text.begin(), text.end(), [&](char c) {
    auto u = static_cast<unsigned char>(c);
    if (allow_line_breaks && (c == '\n' || c == '\r' || c == '\t')) {
      return false;
    }
    return u < 0x20 || u == 0x7f;
  });
}

Result<std::string> StringField(const json::value& value, std::string_view field) {
  if (!value.is_string()) {
    return MakeError(ErrorCode::kInvalidArgument, "{} must be a string", field);
  }
  return std::string(value.get_string());
}

}  // namespace

json::object ContentToJson(const ContentRecord& record) {
  json::object out;
  out["id"] = record.id;
  out["owner"] = record.owner;
  out["title"] = record.title;
  out["description"] = record.description;
  json::array tags;
  for (const auto& tag : record.tags) {
    tags.emplace_back(tag);
  }
  out["tags"] = std::move(tags);
  out["category"] = record.category;
  out["visibility"] = record.visibility;
  out["status"] = record.status;
  out["status_reason"] = record.status_reason;
  out["filename"] = record.filename;
  out["content_type"] = record.content_type;
  out["size"] = record.size;
  out["sha256"] = record.sha256;
  out["duration_seconds"] = record.duration_seconds;
  out["width"] = record.width;
  out["height"] = record.height;
  out["frame_rate"] = record.frame_rate;
  out["has_poster"] = !record.poster_key.empty();
  out["poster_url"] = record.poster_key.empty()
                          ? json::value(nullptr)
                          : json::value("/api/v1/content/" + record.id + "/poster.jpg");
  // Whether watching needs a token condition (the policy itself: GET .../policy).
  out["gated"] = !record.access_policy.empty() && record.access_policy != R"({"public":true})";
  out["created_at"] = FormatRfc3339(record.created_at);
  out["updated_at"] = FormatRfc3339(record.updated_at);
  json::value probe = nullptr;
  if (!record.probe_json.empty()) {
    boost::system::error_code ec;
    auto parsed = json::parse(record.probe_json, ec);
    // A probe that is not an object (or not JSON) is shown as absent rather than failing
    // the whole record: it is advisory data written by another process.
    if (!ec && parsed.is_object()) {
      probe = std::move(parsed);
    }
  }
  out["probe"] = std::move(probe);
  return out;
}

json::object RenditionToJson(const RenditionRecord& rendition,
                             const std::vector<SegmentRecord>& segments) {
  json::object out;
  out["name"] = rendition.name;
  out["kind"] = rendition.kind;
  out["codec"] = rendition.codec;
  out["bandwidth"] = rendition.bandwidth;
  if (rendition.kind == "video") {
    out["width"] = rendition.width;
    out["height"] = rendition.height;
    out["frame_rate"] = rendition.frame_rate;
  } else {
    out["sample_rate"] = rendition.sample_rate;
    out["channels"] = rendition.channels;
  }
  out["complete"] = rendition.complete;
  out["segments"] = segments.size();
  double seconds = 0;
  for (const auto& segment : segments) {
    seconds += segment.duration_seconds;
  }
  out["duration_seconds"] = seconds;
  out["first_segment_at"] = segments.empty()
                                ? json::value(nullptr)
                                : json::value(FormatRfc3339(segments.front().created_at));
  return out;
}

Result<std::string> NormalizeTag(std::string_view raw) {
  std::string tag(Trim(raw));
  for (char& c : tag) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  if (tag.empty() || tag.size() > kMaxTagChars) {
    return MakeError(ErrorCode::kInvalidArgument, "tag \"{}\" must be 1..{} characters", tag,
                     kMaxTagChars);
  }
  bool allowed = std::all_of(tag.begin(), tag.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == ' ';
  });
  if (!allowed) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "tag \"{}\" may only contain a-z, 0-9, '-', '_' and spaces", tag);
  }
  return tag;
}

Result<std::vector<std::string>> NormalizeTags(const std::vector<std::string>& raw) {
  std::vector<std::string> tags;
  for (const auto& tag : raw) {
    SG_ASSIGN_OR_RETURN(auto normalized, NormalizeTag(tag));
    tags.push_back(std::move(normalized));
  }
  std::sort(tags.begin(), tags.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
  if (tags.size() > kMaxTags) {
    return MakeError(ErrorCode::kInvalidArgument, "at most {} tags, got {}", kMaxTags, tags.size());
  }
  return tags;
}

Result<ContentPatch> ParseContentPatch(std::string_view body) {
  boost::system::error_code ec;
  json::value parsed = json::parse(body, ec);
  if (ec) {
    return MakeError(ErrorCode::kInvalidArgument, "body is not valid JSON: {}", ec.message());
  }
  if (!parsed.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "body must be a JSON object");
  }
  ContentPatch patch;
  for (const auto& [key, value] : parsed.get_object()) {
    if (key == "title") {
      SG_ASSIGN_OR_RETURN(auto title, StringField(value, "title"));
      std::string trimmed(Trim(title));
      std::size_t chars = CodePoints(trimmed);
      if (chars < 1 || chars > kMaxTitleChars) {
        return MakeError(ErrorCode::kInvalidArgument, "title must be 1..{} characters, got {}",
                         kMaxTitleChars, chars);
      }
      if (HasControl(trimmed, false)) {
        return MakeError(ErrorCode::kInvalidArgument, "title must not contain control characters");
      }
      patch.title = std::move(trimmed);
    } else if (key == "description") {
      SG_ASSIGN_OR_RETURN(auto description, StringField(value, "description"));
      std::size_t chars = CodePoints(description);
      if (chars > kMaxDescriptionChars) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "description must be at most {} characters, got {}", kMaxDescriptionChars,
                         chars);
      }
      if (HasControl(description, true)) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "description must not contain control characters");
      }
      patch.description = std::move(description);
    } else if (key == "tags") {
      if (!value.is_array()) {
        return MakeError(ErrorCode::kInvalidArgument, "tags must be an array of strings");
      }
      std::vector<std::string> raw;
      for (const auto& tag : value.get_array()) {
        if (!tag.is_string()) {
          return MakeError(ErrorCode::kInvalidArgument, "tags must be an array of strings");
        }
        raw.emplace_back(tag.get_string());
      }
      SG_ASSIGN_OR_RETURN(patch.tags, NormalizeTags(raw));
    } else if (key == "visibility") {
      SG_ASSIGN_OR_RETURN(auto visibility, StringField(value, "visibility"));
      if (visibility != "public" && visibility != "unlisted" && visibility != "private") {
        return MakeError(ErrorCode::kInvalidArgument,
                         "visibility must be public, unlisted or private, got \"{}\"", visibility);
      }
      patch.visibility = std::move(visibility);
    } else if (key == "category") {
      SG_ASSIGN_OR_RETURN(auto category, StringField(value, "category"));
      std::string trimmed(Trim(category));
      if (CodePoints(trimmed) > kMaxCategoryChars || HasControl(trimmed, false)) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "category must be at most {} characters without control characters",
                         kMaxCategoryChars);
      }
      patch.category = std::move(trimmed);
    } else {
      return MakeError(ErrorCode::kInvalidArgument,
                       "unknown field \"{}\" (allowed: title, description, tags, visibility, "
                       "category)",
                       std::string_view(key));
    }
  }
  return patch;
}

}  // namespace sg::plugins::content
