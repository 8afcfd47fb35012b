#pragma once
/// Reading what ffmpeg's hls muxer (fmp4 mode) leaves in the work dir: which segments are
/// FINAL (listed in the variant playlist, which ffmpeg rewrites by rename after closing each
/// segment) with their exact durations, and the codec of each track (from init.mp4).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/result.h"

namespace sg::plugins::transcode {

struct PlaylistSegment {
  std::string uri;
  double duration_seconds = 0;
};

struct MediaPlaylist {
  std::string init_uri;  ///< #EXT-X-MAP URI; empty when not (yet) there
  std::vector<PlaylistSegment> segments;
  bool ended = false;  ///< #EXT-X-ENDLIST
};

/// Tolerant: unknown tags are skipped; a URI line without a preceding #EXTINF is ignored.
MediaPlaylist ParseMediaPlaylist(std::string_view text);

/// Something that became final since the previous Poll.
struct ScannedItem {
  std::string variant;
  bool is_init = false;         ///< init.mp4 of the variant (reported once, first)
  std::uint32_t number = 0;     ///< segment position in the playlist, from 0
  double duration_seconds = 0;  ///< segments only
  std::filesystem::path path;   ///< the file in the work dir
};

/// Watches the per-variant playlists of one ffmpeg run.
class SegmentScanner {
 public:
  SegmentScanner(std::filesystem::path work_dir, std::vector<std::string> variants);

  /// Re-reads every playlist; returns the init files and segments not returned before, per
  /// variant in order (init first, then segments by number). A missing playlist is "nothing
  /// yet".
  std::vector<ScannedItem> Poll();

  /// True when every variant's playlist carries #EXT-X-ENDLIST (as of the last Poll).
  bool AllEnded() const;
  /// Segments returned so far for `variant`, and their total duration.
  std::uint32_t SegmentCount(std::string_view variant) const;
  double TotalSeconds(std::string_view variant) const;

 private:
  struct Variant {
    std::string name;
    bool init_reported = false;
    std::uint32_t reported = 0;
    double seconds = 0;
    bool ended = false;
  };
  std::filesystem::path work_dir_;
  std::vector<Variant> variants_;
};

/// The one track of a CMAF init segment.
struct TrackInfo {
  std::string kind;   ///< "video" | "audio"
  std::string codec;  ///< RFC 6381: "avc1.64001f", "mp4a.40.2"
  std::int64_t width = 0;
  std::int64_t height = 0;
  std::int64_t sample_rate = 0;
  std::int64_t channels = 0;
};

/// Parses moov/trak/mdia/minf/stbl/stsd of an init segment: avc1/avc3 (avcC: profile,
/// compatibility, level as lower-case hex) and mp4a (esds: object type, audio object
/// type). kInvalidArgument when the bytes are not such an init segment.
Result<TrackInfo> ReadInitSegment(std::string_view bytes);

}  // namespace sg::plugins::transcode
