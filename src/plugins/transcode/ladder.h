#pragma once
/// The bitrate ladder: which renditions one source gets.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/result.h"

namespace sg::plugins::transcode {

/// One configured rung, from "360p=500k".
struct RungSpec {
  std::string name;             ///< "360p"
  std::int64_t short_side = 0;  ///< 360: the nominal size applies to the SHORTER side
  std::uint64_t bitrate = 0;    ///< bits/s
};

/// One rendition to encode: dimensions in display orientation, both even.
struct PlannedRendition {
  std::string name;
  std::int64_t width = 0;
  std::int64_t height = 0;
  std::uint64_t bitrate = 0;  ///< bits/s, the encoder's target (-b:v)
};

/// "128k" -> 128000, "4M" -> 4000000, "96000" -> 96000. kInvalidArgument otherwise.
Result<std::uint64_t> ParseBitrate(std::string_view text);

/// Parses "<N>p=<bitrate>" entries; sorted by short side ascending. kInvalidArgument naming
/// the bad entry, for duplicates and for an empty ladder.
Result<std::vector<RungSpec>> ParseLadder(const std::vector<std::string>& entries);

/// The renditions of a `width` x `height` source whose display is rotated by `rotation`
/// degrees (phones store landscape frames with a 90/270 rotation). Never upscales: keeps the
/// rungs whose nominal size is <= the source's shorter side; a source smaller than the lowest
/// rung gets ONE rendition at its own (even) size, named after its shorter side, at the
/// lowest rung's bitrate scaled by area (at least a quarter of it). Aspect ratio is kept;
/// both dimensions are rounded to even numbers. Empty when the size is unknown (<= 1).
std::vector<PlannedRendition> PlanLadder(const std::vector<RungSpec>& rungs, std::int64_t width,
                                         std::int64_t height, int rotation = 0);

}  // namespace sg::plugins::transcode
