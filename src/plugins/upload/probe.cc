#include "plugins/upload/probe.h"

#include <boost/json.hpp>

#include <utility>

#include "core/api/services/media.h"
#include "core/api/subprocess.h"

namespace sg::plugins::upload {
namespace {

namespace json = boost::json;

// ffprobe writes numbers as strings ("duration": "2.000000").
double NumberOf(const json::object& object, std::string_view key) {
  auto* value = object.if_contains(key);
  if (value == nullptr) {
    return 0;
  }
  if (value->is_string()) {
    try {
      return std::stod(std::string(value->as_string()));
    } catch (const std::exception&) {
      return 0;
    }
  }
  if (value->is_int64()) {
    return static_cast<double>(value->as_int64());
  }
  if (value->is_double()) {
    return value->as_double();
  }
  return 0;
}

void CopyIf(const json::object& from, json::object& to, std::string_view key) {
  if (auto* value = from.if_contains(key)) {
    to[key] = *value;
  }
}

// A phone's portrait video is usually stored landscape with a display rotation: in the
// display matrix side data (ffmpeg 5+) or an older "rotate" tag. 0 when there is none.
int RotationOf(const json::object& stream) {
  if (auto* list = stream.if_contains("side_data_list"); list != nullptr && list->is_array()) {
    for (const auto& item : list->as_array()) {
      if (item.is_object() && item.as_object().contains("rotation")) {
        return static_cast<int>(NumberOf(item.as_object(), "rotation"));
      }
    }
  }
  if (auto* tags = stream.if_contains("tags"); tags != nullptr && tags->is_object()) {
    return static_cast<int>(NumberOf(tags->as_object(), "rotate"));
  }
  return 0;
}

// The last non-empty line of ffprobe's stderr: its actual complaint.
std::string LastLine(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  auto at = text.find_last_of('\n');
  return std::string(at == std::string_view::npos ? text : text.substr(at + 1));
}

}  // namespace

tl::expected<ProbeSummary, NotPlayable> SummarizeProbe(std::string_view ffprobe_json) {
  json::value parsed;
  try {
    parsed = json::parse(ffprobe_json);
  } catch (const std::exception& e) {
    return tl::unexpected(NotPlayable{fmt::format("ffprobe output is not JSON: {}", e.what())});
  }
  if (!parsed.is_object()) {
    return tl::unexpected(NotPlayable{"ffprobe output is not a JSON object"});
  }
  const auto& root = parsed.as_object();
  ProbeSummary summary;
  json::object compact;
  if (auto* format = root.if_contains("format"); format != nullptr && format->is_object()) {
    const auto& f = format->as_object();
    CopyIf(f, compact, "format_name");
    summary.duration_seconds = NumberOf(f, "duration");
    compact["duration"] = summary.duration_seconds;
    compact["bit_rate"] = static_cast<std::int64_t>(NumberOf(f, "bit_rate"));
  }
  json::array streams;
  bool has_video = false;
  if (auto* list = root.if_contains("streams"); list != nullptr && list->is_array()) {
    for (const auto& item : list->as_array()) {
      if (!item.is_object()) {
        continue;
      }
      const auto& s = item.as_object();
      json::object stream;
      for (auto key : {"codec_type", "codec_name", "width", "height", "r_frame_rate", "channels",
                       "sample_rate"}) {
        CopyIf(s, stream, key);
      }
      auto* type = s.if_contains("codec_type");
      bool video = type != nullptr && type->is_string() && type->as_string() == "video";
      // Cover art is a video stream of one picture: not a playable video.
      auto* disposition = s.if_contains("disposition");
      if (video && disposition != nullptr && disposition->is_object()) {
        auto* attached = disposition->as_object().if_contains("attached_pic");
        if (attached != nullptr && attached->is_int64() && attached->as_int64() == 1) {
          video = false;
        }
      }
      if (video && !has_video) {
        has_video = true;
        summary.width = static_cast<std::int64_t>(NumberOf(s, "width"));
        summary.height = static_cast<std::int64_t>(NumberOf(s, "height"));
        // The stream keeps its stored size plus the rotation (the transcode plans from
        // both); the content record gets the size as it is shown.
        if (int rotation = RotationOf(s); rotation != 0) {
          stream["rotation"] = rotation;
          if (rotation % 180 != 0) {
            std::swap(summary.width, summary.height);
          }
        }
      }
      streams.push_back(std::move(stream));
    }
  }
  if (!has_video) {
    return tl::unexpected(NotPlayable{"no video stream"});
  }
  compact["streams"] = std::move(streams);
  summary.json = json::serialize(compact);
  return summary;
}

Result<tl::expected<ProbeSummary, NotPlayable>> ProbeFile(const std::string& ffprobe,
                                                          const std::filesystem::path& file,
                                                          std::chrono::milliseconds timeout) {
  SubprocessOptions options;
  options.argv = {ffprobe,
                  "-v",
                  "error",
                  "-format_whitelist",
                  std::string(kSourceFormatAllowlist),
                  "-print_format",
                  "json",
                  "-show_format",
                  "-show_streams",
                  "file:" + file.string()};
  options.timeout = timeout;
  options.max_stdout_bytes = 4 * 1024 * 1024;
  options.stderr_tail_bytes = 4 * 1024;
  SG_ASSIGN_OR_RETURN(auto run, RunSubprocess(options));
  using Outcome = tl::expected<ProbeSummary, NotPlayable>;
  if (run.timed_out) {
    return Outcome(tl::unexpected(NotPlayable{fmt::format("ffprobe {}", run.Describe())}));
  }
  if (!run.Succeeded()) {
    auto line = LastLine(run.stderr_tail);
    // ffprobe prefixes messages with the path, which means nothing to the client.
    if (auto at = line.find(file.string()); at != std::string::npos) {
      line.erase(at, file.string().size());
      while (!line.empty() && (line.front() == ':' || line.front() == ' ')) {
        line.erase(0, 1);
      }
    }
    return Outcome(tl::unexpected(
        NotPlayable{line.empty() ? fmt::format("ffprobe failed ({})", run.Describe()) : line}));
  }
  if (run.stdout_truncated) {
    return Outcome(tl::unexpected(NotPlayable{"ffprobe output too large"}));
  }
  return Outcome(SummarizeProbe(run.stdout_data));
}

}  // namespace sg::plugins::upload
