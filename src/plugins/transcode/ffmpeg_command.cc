#include "plugins/transcode/ffmpeg_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>

#include "core/api/services/media.h"
namespace sg::plugins::transcode {
namespace {

namespace json = boost::json;

// ffprobe writes numbers as strings ("duration": "2.000000"); the summary keeps some as
// numbers. Either way, 0 when absent or unreadable.
double NumberOf(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
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
  if (value->is_number()) {
    return value->to_number<double>();
  }
  return 0;
}

// "30000/1001" -> 29.97; "0/0" and garbage -> 0.
double ParseRate(const json::object& stream) {
  const auto* value = stream.if_contains("r_frame_rate");
  if (value == nullptr || !value->is_string()) {
    return NumberOf(stream, "r_frame_rate");
  }
  std::string text(value->as_string());
  auto slash = text.find('/');
  try {
    if (slash == std::string::npos) {
      return std::stod(text);
    }
    double num = std::stod(text.substr(0, slash));
    double den = std::stod(text.substr(slash + 1));
    return den > 0 ? num / den : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

int ParseRotation(const json::object& stream) {
  if (stream.contains("rotation")) {
    return static_cast<int>(NumberOf(stream, "rotation"));
  }
  if (const auto* tags = stream.if_contains("tags"); tags != nullptr && tags->is_object()) {
    if (tags->as_object().contains("rotate")) {
      return static_cast<int>(NumberOf(tags->as_object(), "rotate"));
    }
  }
  if (const auto* list = stream.if_contains("side_data_list");
      list != nullptr && list->is_array()) {
    for (const auto& item : list->as_array()) {
      if (item.is_object() && item.as_object().contains("rotation")) {
        return static_cast<int>(NumberOf(item.as_object(), "rotation"));
      }
    }
  }
  return 0;
}

// Bits/s as ffmpeg reads them: "500k" when whole kilobits.
std::string Bits(std::uint64_t bits) {
  if (bits % 1000 == 0) {
    return fmt::format("{}k", bits / 1000);
  }
  return std::to_string(bits);
}

std::uint64_t Scaled(std::uint64_t bits, double factor) {
  return static_cast<std::uint64_t>(std::llround(static_cast<double>(bits) * factor));
}

// A scale filter that fits whatever orientation the decoded frames have: ffmpeg applies the
// display rotation (autorotate) before the graph, and the probe summary may not say whether
// the source is rotated, so the orientation is decided on the frames, not on the probe.
std::string ScaleFilter(const PlannedRendition& rendition) {
  auto long_side = std::max(rendition.width, rendition.height);
  auto short_side = std::min(rendition.width, rendition.height);
  return fmt::format("scale=w='if(gte(iw,ih),{0},{1})':h='if(gte(iw,ih),{1},{0})'", long_side,
                     short_side);
}

}  // namespace

Result<SourceInfo> ParseSourceInfo(std::string_view probe_json) {
  json::value parsed;
  try {
    parsed = json::parse(probe_json);
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInvalidArgument, "probe summary is not JSON: {}", e.what());
  }
  if (!parsed.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "probe summary is not a JSON object");
  }
  const auto& root = parsed.as_object();
  SourceInfo info;
  if (const auto* name = root.if_contains("format_name"); name != nullptr && name->is_string()) {
    info.format_name = std::string(name->as_string());
  }
  info.duration_seconds = std::max(0.0, NumberOf(root, "duration"));
  bool has_video = false;
  if (const auto* list = root.if_contains("streams"); list != nullptr && list->is_array()) {
    for (const auto& item : list->as_array()) {
      if (!item.is_object()) {
        continue;
      }
      const auto& stream = item.as_object();
      const auto* type = stream.if_contains("codec_type");
      if (type == nullptr || !type->is_string()) {
        continue;
      }
      if (type->as_string() == "video" && !has_video) {
        has_video = true;
        info.width = static_cast<std::int64_t>(NumberOf(stream, "width"));
        info.height = static_cast<std::int64_t>(NumberOf(stream, "height"));
        info.frame_rate = ParseRate(stream);
        info.rotation = ParseRotation(stream);
      } else if (type->as_string() == "audio" && !info.has_audio) {
        info.has_audio = true;
        info.audio_sample_rate = static_cast<std::int64_t>(NumberOf(stream, "sample_rate"));
        info.audio_channels = static_cast<std::int64_t>(NumberOf(stream, "channels"));
      }
    }
  }
  if (!has_video) {
    return MakeError(ErrorCode::kInvalidArgument, "probe summary has no video stream");
  }
  if (!(info.frame_rate > 0 && info.frame_rate <= 1000)) {
    info.frame_rate = 0;
  }
  return info;
}

std::filesystem::path PlaylistPath(const std::filesystem::path& work_dir, std::string_view name) {
  return work_dir / std::string(name) / "playlist.m3u8";
}

FfmpegCommand BuildFfmpegCommand(const SourceInfo& source,
                                 const std::vector<PlannedRendition>& renditions,
                                 const EncodeSettings& settings, const CommandPaths& paths) {
  FfmpegCommand command;
  double fps = source.frame_rate > 0 ? source.frame_rate : 30.0;
  command.gop_frames = std::max<std::int64_t>(
      1, static_cast<std::int64_t>(std::llround(fps * settings.gop_seconds)));
  double poster = std::min(1.0, 0.1 * source.duration_seconds);
  command.poster_seconds = std::round(std::max(0.0, poster) * 1000.0) / 1000.0;

  auto& a = command.argv;
  a = {settings.ffmpeg, "-hide_banner", "-loglevel", "error",
       "-nostats",      "-progress",    "pipe:1",    "-y"};
  if (settings.threads > 0) {
    a.insert(a.end(), {"-threads", std::to_string(settings.threads)});
  }
  // "file:" so that a name with a colon is never taken for a protocol.
  // Only containers that hold their media (see kSourceFormatAllowlist).
  a.insert(a.end(), {"-format_whitelist", std::string(kSourceFormatAllowlist), "-i",
                     "file:" + paths.input.string()});

  // Decode once. Each rung is scaled from the smallest larger rung that is at least 1.5x
  // its size (a downscale of that ratio loses nothing visible), else from the source: the
  // small rungs then read 720p frames instead of 1080p or 4K ones, which is most of the
  // scaling cost. The poster branch keeps one frame and ends.
  const std::size_t count = renditions.size();
  std::vector<int> parent(count, -1);
  std::vector<std::vector<std::size_t>> children(count);
  for (std::size_t i = 0; i < count; ++i) {
    auto short_side = std::min(renditions[i].width, renditions[i].height);
    for (std::size_t j = i + 1; j < count; ++j) {
      auto larger = std::min(renditions[j].width, renditions[j].height);
      if (larger * 2 >= short_side * 3) {
        parent[i] = static_cast<int>(j);
        children[j].push_back(i);
        break;
      }
    }
  }
  std::string from_source;
  std::size_t source_outputs = 1;  // the poster
  for (std::size_t i = 0; i < count; ++i) {
    if (parent[i] < 0) {
      from_source += fmt::format("[s{}]", i);
      ++source_outputs;
    }
  }
  std::string graph = fmt::format("[0:v:0]split={}{}[sp]", source_outputs, from_source);
  for (std::size_t i = count; i-- > 0;) {
    std::string input = parent[i] < 0 ? fmt::format("[s{}]", i) : fmt::format("[c{}]", i);
    graph += fmt::format(";{}{}", input, ScaleFilter(renditions[i]));
    if (children[i].empty()) {
      graph += fmt::format("[v{}]", i);
      continue;
    }
    graph += fmt::format(",split={}[v{}]", children[i].size() + 1, i);
    for (auto child : children[i]) {
      graph += fmt::format("[c{}]", child);
    }
  }
  // The mjpeg encoder wants full-range YUV.
  graph += fmt::format(";[sp]trim=start={:.3f},trim=end_frame=1,{},format=yuvj420p[poster]",
                       command.poster_seconds, ScaleFilter(renditions.back()));
  a.insert(a.end(), {"-filter_complex", graph});

  for (std::size_t i = 0; i < renditions.size(); ++i) {
    a.insert(a.end(), {"-map", fmt::format("[v{}]", i)});
  }
  if (source.has_audio) {
    a.insert(a.end(), {"-map", "0:a:0"});
  }
  a.insert(a.end(), {"-c:v", "libx264", "-preset", settings.preset, "-profile:v", "high",
                     "-pix_fmt", "yuv420p"});
  for (std::size_t i = 0; i < renditions.size(); ++i) {
    auto bits = renditions[i].bitrate;
    a.insert(a.end(),
             {fmt::format("-b:v:{}", i), Bits(bits), fmt::format("-maxrate:v:{}", i),
              Bits(Scaled(bits, 1.07)), fmt::format("-bufsize:v:{}", i), Bits(Scaled(bits, 1.5))});
  }
  // Keyframes at the same instants in every rung: a fixed GOP, no scene-cut keyframes, and
  // forced keyframes on the gop_seconds grid (the grid wins over -g for odd frame rates).
  auto gop = std::to_string(command.gop_frames);
  a.insert(a.end(), {"-g", gop, "-keyint_min", gop, "-sc_threshold", "0", "-force_key_frames",
                     fmt::format("expr:gte(t,n_forced*{:g})", settings.gop_seconds)});
  if (source.has_audio) {
    a.insert(a.end(), {"-c:a", "aac", "-b:a", Bits(settings.audio_bitrate), "-ac", "2"});
  }
  if (settings.threads > 0) {
    a.insert(a.end(), {"-threads", std::to_string(settings.threads)});
  }

  std::string stream_map;
  for (std::size_t i = 0; i < renditions.size(); ++i) {
    stream_map += fmt::format("{}v:{},name:{}", i == 0 ? "" : " ", i, renditions[i].name);
    command.variants.push_back(renditions[i].name);
  }
  if (source.has_audio) {
    stream_map += fmt::format(" a:0,name:{}", kAudioRendition);
    command.variants.emplace_back(kAudioRendition);
  }
  a.insert(a.end(), {"-f",
                     "hls",
                     "-hls_segment_type",
                     "fmp4",
                     "-hls_time",
                     fmt::format("{:g}", settings.segment_seconds),
                     "-hls_list_size",
                     "0",
                     "-hls_playlist_type",
                     "event",
                     "-hls_flags",
                     "independent_segments",
                     "-hls_fmp4_init_filename",
                     "init.mp4",
                     "-hls_segment_filename",
                     (paths.work_dir / "%v" / "segment_%d.m4s").string(),
                     "-start_number",
                     "0",
                     "-var_stream_map",
                     stream_map,
                     PlaylistPath(paths.work_dir, "%v").string()});

  a.insert(a.end(), {"-map", "[poster]", "-frames:v", "1", "-c:v", "mjpeg", "-q:v", "3", "-update",
                     "1", "-f", "image2", paths.poster.string()});
  return command;
}

}  // namespace sg::plugins::transcode
