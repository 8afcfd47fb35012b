#pragma once
/// ffprobe as a child process (core/api/subprocess.h), reduced to what StreamGate keeps.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "core/api/result.h"

namespace sg::plugins::upload {

struct ProbeSummary {
  /// Compact JSON: {format_name, duration, bit_rate, streams:[{codec_type, codec_name, width,
  /// height, r_frame_rate, channels, sample_rate}]}.
  std::string json;
  double duration_seconds = 0;
  std::int64_t width = 0;
  std::int64_t height = 0;
};

/// What made a file unplayable, for the 415 message.
struct NotPlayable {
  std::string reason;
};

/// Summarises ffprobe's `-print_format json -show_format -show_streams` output. A file
/// without a video stream is NotPlayable ("no video stream").
tl::expected<ProbeSummary, NotPlayable> SummarizeProbe(std::string_view ffprobe_json);

/// Runs ffprobe on `file`. NotPlayable when ffprobe fails, times out or finds no video
/// stream; an Error (outer) only when ffprobe cannot be started at all.
Result<tl::expected<ProbeSummary, NotPlayable>> ProbeFile(const std::string& ffprobe,
                                                          const std::filesystem::path& file,
                                                          std::chrono::milliseconds timeout);

}  // namespace sg::plugins::upload
