#include "plugins/transcode/ladder.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

namespace sg::plugins::transcode {
namespace {

// The nearest even number, at least 2 (H.264 with 4:2:0 needs even dimensions).
std::int64_t RoundEven(double value) {
  auto even = static_cast<std::int64_t>(std::llround(value / 2.0)) * 2;
  return std::max<std::int64_t>(even, 2);
}

Result<std::int64_t> ParseInt(std::string_view text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "'{}' is not a whole number", text);
  }
  return value;
}

}  // namespace

Result<std::uint64_t> ParseBitrate(std::string_view text) {
  std::uint64_t scale = 1;
  std::string_view digits = text;
  if (!digits.empty()) {
    char unit = digits.back();
    if (unit == 'k' || unit == 'K') {
      scale = 1000;
    } else if (unit == 'm' || unit == 'M') {
      scale = 1000 * 1000;
    }
    if (scale != 1) {
      digits.remove_suffix(1);
    }
  }
  auto value = ParseInt(digits);
  if (!value || *value <= 0 || *value > 1'000'000'000 / static_cast<std::int64_t>(scale)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "bitrate '{}' must be a positive number with an optional k or M suffix", text);
  }
  return static_cast<std::uint64_t>(*value) * scale;
}

Result<std::vector<RungSpec>> ParseLadder(const std::vector<std::string>& entries) {
  if (entries.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "ladder: needs at least one rung");
  }
  std::vector<RungSpec> rungs;
  std::set<std::int64_t> seen;
  for (const auto& entry : entries) {
    auto at = entry.find('=');
    std::string_view name =
        at == std::string::npos ? std::string_view(entry) : std::string_view(entry).substr(0, at);
    if (at == std::string::npos || name.size() < 2 || name.back() != 'p') {
      return MakeError(ErrorCode::kInvalidArgument,
                       "ladder: '{}' must look like 360p=500k (short side, then bitrate)", entry);
    }
    auto size = ParseInt(name.substr(0, name.size() - 1));
    if (!size || *size < 16 || *size > 8192) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "ladder: '{}' needs a size between 16p and 8192p", entry);
    }
    auto bitrate = ParseBitrate(std::string_view(entry).substr(at + 1));
    if (!bitrate) {
      return MakeError(ErrorCode::kInvalidArgument, "ladder: '{}': {}", entry,
                       bitrate.error().message);
    }
    if (!seen.insert(*size).second) {
      return MakeError(ErrorCode::kInvalidArgument, "ladder: {}p is listed twice", *size);
    }
    rungs.push_back({std::string(name), *size, *bitrate});
  }
  std::sort(rungs.begin(), rungs.end(),
            [](const RungSpec& a, const RungSpec& b) { return a.short_side < b.short_side; });
  return rungs;
}

std::vector<PlannedRendition> PlanLadder(const std::vector<RungSpec>& rungs, std::int64_t width,
                                         std::int64_t height, int rotation) {
  std::vector<PlannedRendition> planned;
  if (rungs.empty() || width <= 1 || height <= 1) {
    return planned;
  }
  int quarter_turns = ((rotation % 360 + 360) % 360 + 45) / 90;
  if (quarter_turns % 2 == 1) {
    std::swap(width, height);  // what the viewer sees
  }
  bool landscape = width >= height;
  double short_side = static_cast<double>(std::min(width, height));
  double long_side = static_cast<double>(std::max(width, height));
  auto oriented = [&](std::string name, std::int64_t s, std::int64_t l, std::uint64_t bitrate) {
    return PlannedRendition{std::move(name), landscape ? l : s, landscape ? s : l, bitrate};
  };
  for (const auto& rung : rungs) {
    if (static_cast<double>(rung.short_side) > short_side) {
      continue;
    }
    std::int64_t s = RoundEven(static_cast<double>(rung.short_side));
    std::int64_t l = RoundEven(long_side * static_cast<double>(rung.short_side) / short_side);
    planned.push_back(oriented(rung.name, s, l, rung.bitrate));
  }
  if (planned.empty()) {
    // Smaller than the lowest rung: keep the source size, rounded DOWN to even (never up).
    std::int64_t s = std::max<std::int64_t>(static_cast<std::int64_t>(short_side) & ~1LL, 2);
    std::int64_t l = std::max<std::int64_t>(static_cast<std::int64_t>(long_side) & ~1LL, 2);
    const auto& lowest = rungs.front();
    double nominal_area = static_cast<double>(lowest.short_side) *
                          static_cast<double>(lowest.short_side) * 16.0 / 9.0;
    double ratio = std::clamp(static_cast<double>(s * l) / nominal_area, 0.25, 1.0);
    auto bitrate = static_cast<std::uint64_t>(
                       std::llround(static_cast<double>(lowest.bitrate) * ratio / 1000.0)) *
                   1000;
    planned.push_back(oriented(std::to_string(s) + "p", s, l, bitrate));
  }
  return planned;
}

}  // namespace sg::plugins::transcode
