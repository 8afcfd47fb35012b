#include "plugins/transcode/progress.h"

#include <algorithm>
#include <cstdlib>
#include <string>

namespace sg::plugins::transcode {
namespace {

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\r' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// A finite number, or nullopt ("N/A", empty, garbage).
std::optional<double> Number(std::string_view text) {
  std::string copy(text);
  char* end = nullptr;
  double value = std::strtod(copy.c_str(), &end);
  if (copy.empty() || end != copy.c_str() + copy.size() || !(value == value) || value > 1e300 ||
      value < -1e300) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

std::optional<ProgressSnapshot> ProgressParser::Feed(std::string_view line) {
  line = Trim(line);
  auto eq = line.find('=');
  if (eq == std::string_view::npos) {
    return std::nullopt;
  }
  auto key = Trim(line.substr(0, eq));
  auto value = Trim(line.substr(eq + 1));
  if (key == "out_time_us" || key == "out_time_ms") {
    // Both are microseconds (out_time_ms is misnamed in ffmpeg); negative at the start.
    if (auto us = Number(value)) {
      current_.out_time_seconds = std::max(0.0, *us / 1e6);
    }
  } else if (key == "speed") {
    if (!value.empty() && value.back() == 'x') {
      value.remove_suffix(1);
    }
    auto speed = Number(Trim(value));
    if (speed && *speed > 0) {
      current_.speed = speed;
    }
  } else if (key == "progress") {
    current_.end = value == "end";
    if (duration_ > 0) {
      current_.percent = std::clamp(current_.out_time_seconds / duration_ * 100.0, 0.0, 100.0);
      if (current_.speed) {
        current_.eta_seconds =
            std::max(0.0, duration_ - current_.out_time_seconds) / *current_.speed;
      }
    }
    if (current_.end) {
      current_.percent = 100;
      current_.eta_seconds = 0.0;
    }
    return current_;
  }
  return std::nullopt;
}

}  // namespace sg::plugins::transcode
