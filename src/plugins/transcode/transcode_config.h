#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/api/config.h"
#include "plugins/transcode/ladder.h"

namespace sg::plugins::transcode {

struct TranscodeConfig {
  std::string ffmpeg = "ffmpeg";
  std::string preset = "veryfast";
  std::vector<std::string> ladder = {"360p=500k", "480p=1000k", "720p=2000k", "1080p=4000k"};
  std::string audio_bitrate = "128k";
  double segment_seconds = 4;
  double gop_seconds = 2;
  std::int64_t threads = 0;
  ConfigDuration timeout{2LL * 3600 * 1000};
  std::int64_t max_attempts = 3;
  std::string work_dir;

  void Visit(ConfigVisitor& v) {
    v.Field("ffmpeg", ffmpeg, {.doc = "path or name (looked up in PATH) of ffmpeg"});
    v.Field("preset", preset,
            {.doc = "x264 preset of every rung (slower = smaller files, more CPU)",
             .choices = {"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                         "slower", "veryslow"}});
    v.Field("ladder", ladder,
            {.doc = "rungs as <short side>p=<bitrate>; rungs above the source's shorter side "
                    "are skipped (never upscaled)"});
    v.Field("audio_bitrate", audio_bitrate, {.doc = "AAC bitrate of the audio rendition"});
    v.Field("segment_seconds", segment_seconds,
            {.doc = "CMAF segment length; a whole multiple of gop_seconds", .min = 1, .max = 30});
    v.Field("gop_seconds", gop_seconds,
            {.doc = "fixed keyframe interval, identical in every rung", .min = 0.5, .max = 10});
    v.Field("threads", threads,
            {.doc = "ffmpeg threads for decoding and for each encoder; 0 = automatic",
             .min = 0,
             .max = 256});
    v.Field("timeout", timeout,
            {.doc = "an attempt running longer is killed and retried", .min = 10'000});
    v.Field("max_attempts", max_attempts,
            {.doc = "attempts before the job is dead-lettered and the content failed",
             .min = 1,
             .max = 100});
    v.Field("work_dir", work_dir,
            {.doc = "scratch space for ffmpeg's output; empty = <data_dir>/work/transcode"});
  }

  Result<> Validate() const {
    if (ffmpeg.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "ffmpeg: must not be empty");
    }
    SG_RETURN_IF_ERROR(ParseLadder(ladder));
    if (auto bits = ParseBitrate(audio_bitrate); !bits) {
      return MakeError(ErrorCode::kInvalidArgument, "audio_bitrate: {}", bits.error().message);
    }
    double ratio = segment_seconds / gop_seconds;
    if (std::abs(ratio - std::round(ratio)) > 1e-6) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "segment_seconds: must be a whole multiple of gop_seconds ({} is not a "
                       "multiple of {}), or segments would not start on keyframes",
                       segment_seconds, gop_seconds);
    }
    return {};
  }
};

}  // namespace sg::plugins::transcode
