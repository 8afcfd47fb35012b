#pragma once
/// ffmpeg `-progress pipe:1` output (blocks of key=value lines ending with
/// `progress=continue|end`) turned into percent, speed and ETA.

#include <optional>
#include <string_view>

namespace sg::plugins::transcode {

struct ProgressSnapshot {
  double out_time_seconds = 0;        ///< how far the output got
  double percent = 0;                 ///< 0..100 (of the source duration)
  std::optional<double> speed;        ///< x realtime; unset while ffmpeg says N/A
  std::optional<double> eta_seconds;  ///< unset when speed or duration is unknown
  bool end = false;                   ///< `progress=end`
};

class ProgressParser {
 public:
  /// `duration_seconds` <= 0: unknown (percent stays 0 until the end).
  explicit ProgressParser(double duration_seconds) : duration_(duration_seconds) {}

  /// Feeds one line. Returns a snapshot at the end of each block (`progress=...`); values
  /// ffmpeg reports as N/A (or garbage) keep their previous value.
  std::optional<ProgressSnapshot> Feed(std::string_view line);

  const ProgressSnapshot& last() const noexcept { return current_; }

 private:
  double duration_;
  ProgressSnapshot current_;
};

}  // namespace sg::plugins::transcode
