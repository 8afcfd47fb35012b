#pragma once
// Test helpers: temporary folders and small clips generated with ffmpeg at test time.

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/api/subprocess.h"
#include "core/testing/temp_dir.h"

namespace sg::plugins::transcode::testing {

using sg::testing::TempDir;

struct ClipSpec {
  int width = 320;
  int height = 180;
  double seconds = 2;
  bool audio = true;
  int fps = 25;
  int rotate = 0;  ///< display rotation tag (a phone's portrait video stored landscape)
};

/// testsrc2 (+ sine) encoded with x264 ultrafast; empty string on success, else the reason.
inline std::string MakeClip(const std::filesystem::path& path, const ClipSpec& spec) {
  SubprocessOptions options;
  auto seconds = std::to_string(spec.seconds);
  options.argv = {"ffmpeg",
                  "-v",
                  "error",
                  "-y",
                  "-f",
                  "lavfi",
                  "-i",
                  "testsrc2=duration=" + seconds + ":size=" + std::to_string(spec.width) + "x" +
                      std::to_string(spec.height) + ":rate=" + std::to_string(spec.fps)};
  if (spec.audio) {
    options.argv.insert(options.argv.end(),
                        {"-f", "lavfi", "-i", "sine=frequency=440:duration=" + seconds});
  }
  options.argv.insert(options.argv.end(), {"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt",
                                           "yuv420p", "-threads", "2"});
  if (spec.audio) {
    options.argv.insert(options.argv.end(), {"-c:a", "aac", "-shortest"});
  }
  auto encoded = spec.rotate == 0 ? path : std::filesystem::path(path.string() + ".plain.mp4");
  options.argv.push_back(encoded.string());
  options.timeout = std::chrono::seconds(60);
  auto run = RunSubprocess(options);
  if (!run) {
    return run.error().ToString();
  }
  if (!run->Succeeded()) {
    return run->Describe() + ": " + run->stderr_tail;
  }
  if (spec.rotate != 0) {
    // ffmpeg 5.1 writes the display matrix only when remuxing with a rotate tag.
    options.argv = {"ffmpeg",
                    "-v",
                    "error",
                    "-y",
                    "-i",
                    encoded.string(),
                    "-c",
                    "copy",
                    "-metadata:s:v:0",
                    "rotate=" + std::to_string(spec.rotate),
                    path.string()};
    run = RunSubprocess(options);
    std::filesystem::remove(encoded);
    if (!run || !run->Succeeded()) {
      return "cannot add the rotation";
    }
  }
  return {};
}

}  // namespace sg::plugins::transcode::testing
