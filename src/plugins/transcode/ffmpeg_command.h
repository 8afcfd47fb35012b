#pragma once
/// The argv of the ONE ffmpeg process that transcodes a source: decode once, split to every
/// rung, libx264 per rung with keyframes at fixed times (aligned across rungs), AAC as its
/// own rendition, CMAF through ffmpeg's hls muxer in fmp4 mode, plus a poster JPEG.
/// A pure function of (source, renditions, settings, paths) so golden tests are exact.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/result.h"
#include "plugins/transcode/ladder.h"

namespace sg::plugins::transcode {

/// What the upload's probe summary (ContentRecord.probe_json) says about the source.
struct SourceInfo {
  std::string format_name;
  double duration_seconds = 0;  ///< 0 = unknown
  std::int64_t width = 0;
  std::int64_t height = 0;
  double frame_rate = 0;  ///< 0 = unknown
  int rotation = 0;       ///< degrees, when the probe carries it (phones)
  bool has_audio = false;
  std::int64_t audio_sample_rate = 0;
  std::int64_t audio_channels = 0;
};

/// Reads the probe summary of src/plugins/upload/probe.h ({format_name, duration,
/// streams:[{codec_type, width, height, r_frame_rate, channels, sample_rate, ...}]}); also
/// takes a stream's "rotation" / "tags.rotate" / "side_data_list[].rotation" when present.
/// kInvalidArgument when it is not JSON or has no video stream.
Result<SourceInfo> ParseSourceInfo(std::string_view probe_json);

struct EncodeSettings {
  std::string ffmpeg = "ffmpeg";
  std::string preset = "veryfast";
  std::uint64_t audio_bitrate = 128'000;  ///< bits/s
  double segment_seconds = 4;
  double gop_seconds = 2;
  std::int64_t threads = 0;  ///< 0 = ffmpeg decides
};

struct CommandPaths {
  std::filesystem::path input;
  /// Gets `<name>/playlist.m3u8`, `<name>/init_<i>.mp4`, `<name>/segment_<n>.m4s` per
  /// rendition (ffmpeg names init files after the variant index).
  std::filesystem::path work_dir;
  std::filesystem::path poster;
};

inline constexpr std::string_view kAudioRendition = "audio";

struct FfmpegCommand {
  std::vector<std::string> argv;
  /// Keyframe interval in frames (round(fps * gop_seconds); fps 30 when unknown).
  std::int64_t gop_frames = 0;
  double poster_seconds = 0;  ///< where the poster frame is taken
  /// Variant names in -var_stream_map order: the video rungs, then "audio" if any.
  std::vector<std::string> variants;
};

/// The playlist ffmpeg writes for variant `name`.
std::filesystem::path PlaylistPath(const std::filesystem::path& work_dir, std::string_view name);

/// Builds the command. `renditions` must not be empty (PlanLadder's output). Every video
/// rung uses profile High: every HLS/DASH player since about 2013 decodes it, and it saves
/// 10-15% bits against Main at the same quality even at small sizes.
FfmpegCommand BuildFfmpegCommand(const SourceInfo& source,
                                 const std::vector<PlannedRendition>& renditions,
                                 const EncodeSettings& settings, const CommandPaths& paths);

}  // namespace sg::plugins::transcode
