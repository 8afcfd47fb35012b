#include "plugins/streaming/manifests.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <numeric>
#include <optional>

namespace sg::plugins::streaming {
namespace {

constexpr std::string_view kVideo = "video";
constexpr std::string_view kAudio = "audio";
// EXTINF is written with 6 decimals: a duration that prints as 4.000000 must not raise the
// target duration to 5 because of floating-point noise.
constexpr double kDurationEpsilon = 1e-6;

bool IsSafeName(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

bool IsUsable(const RenditionRecord& rendition) {
  return IsSafeName(rendition.name) && (rendition.kind == kVideo || rendition.kind == kAudio);
}

/// The segments a player may be given: numbers 0, 1, 2, ... up to the first gap. Input is
/// usually sorted by number already; duplicates (a re-recorded segment) count once.
std::vector<const SegmentRecord*> ContiguousPrefix(const std::vector<SegmentRecord>& segments) {
  std::vector<const SegmentRecord*> sorted;
  sorted.reserve(segments.size());
  for (const auto& segment : segments) {
    sorted.push_back(&segment);
  }
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto* a, const auto* b) { return a->number < b->number; });
  std::vector<const SegmentRecord*> prefix;
  std::uint32_t expected = 0;
  for (const auto* segment : sorted) {
    if (segment->number + 1 == expected) {
      continue;  // duplicate of the previous one
    }
    if (segment->number != expected) {
      break;
    }
    prefix.push_back(segment);
    ++expected;
  }
  return prefix;
}

struct Track {
  const RenditionRecord* rendition = nullptr;
  std::vector<const SegmentRecord*> segments;  // contiguous prefix
};

struct Tracks {
  std::vector<Track> video;  // height ascending
  std::optional<Track> audio;
  std::vector<Track> all_audio;
};

Tracks Classify(const ManifestInput& input) {
  Tracks tracks;
  for (const auto& media : input.renditions) {
    if (!IsUsable(media.rendition)) {
      continue;
    }
    Track track{&media.rendition, ContiguousPrefix(media.segments)};
    if (media.rendition.kind == kVideo) {
      tracks.video.push_back(std::move(track));
    } else {
      tracks.all_audio.push_back(std::move(track));
    }
  }
  std::stable_sort(tracks.video.begin(), tracks.video.end(), [](const Track& a, const Track& b) {
    if (a.rendition->height != b.rendition->height) {
      return a.rendition->height < b.rendition->height;
    }
    return a.rendition->bandwidth < b.rendition->bandwidth;
  });
  // The transcoder makes at most one audio rendition; HLS and DASH use the first.
  if (!tracks.all_audio.empty()) {
    tracks.audio = tracks.all_audio.front();
  }
  return tracks;
}

struct Bitrates {
  double peak = 0;
  double average = 0;
};

/// From the real segments; the encoder's target when none has a duration yet. The peak
/// ignores segments shorter than half the longest: a 23 ms audio tail holding one AAC frame
/// plus its headers "peaks" at twice the real rate, which would make players pick a lower
/// rung than the network allows.
Bitrates MeasureBitrates(const Track& track) {
  double total_bits = 0;
  double total_seconds = 0;
  double longest = 0;
  for (const auto* segment : track.segments) {
    longest = std::max(longest, segment->duration_seconds);
  }
  Bitrates rates;
  for (const auto* segment : track.segments) {
    if (segment->duration_seconds <= 0) {
      continue;
    }
    const double bits = static_cast<double>(segment->bytes) * 8.0;
    if (segment->duration_seconds * 2 >= longest) {
      rates.peak = std::max(rates.peak, bits / segment->duration_seconds);
    }
    total_bits += bits;
    total_seconds += segment->duration_seconds;
  }
  if (total_seconds <= 0) {
    const auto target = static_cast<double>(track.rendition->bandwidth);
    return Bitrates{target, target};
  }
  rates.average = total_bits / total_seconds;
  return rates;
}

std::uint64_t RoundUp(double bits_per_second) {
  return static_cast<std::uint64_t>(std::ceil(bits_per_second - kDurationEpsilon));
}

std::uint64_t RoundNearest(double bits_per_second) {
  return static_cast<std::uint64_t>(std::llround(bits_per_second));
}

/// An HLS quoted-string may hold neither '"' nor CR/LF (RFC 8216 §4.2): drop them rather
/// than let a strange codec string break the playlist.
std::string HlsQuoted(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c != '"' && c != '\r' && c != '\n') {
      out.push_back(c);
    }
  }
  return out;
}

std::int64_t TargetDuration(const Track& track) {
  double longest = 0;
  for (const auto* segment : track.segments) {
    longest = std::max(longest, segment->duration_seconds);
  }
  if (longest <= 0) {
    longest = track.rendition->target_segment_seconds;
  }
  const auto target = static_cast<std::int64_t>(std::ceil(longest - kDurationEpsilon));
  return std::max<std::int64_t>(target, 1);
}

/// Segment start times in milliseconds: t_i = round(cumulative seconds * 1000), so the
/// rounding of one duration never accumulates into later ones. Size = segments + 1.
std::vector<std::int64_t> TimelineMillis(const Track& track) {
  std::vector<std::int64_t> starts;
  starts.reserve(track.segments.size() + 1);
  double cumulative = 0;
  starts.push_back(0);
  for (const auto* segment : track.segments) {
    cumulative += segment->duration_seconds;
    starts.push_back(std::llround(cumulative * 1000.0));
  }
  return starts;
}

std::string FormatSeconds(double seconds) { return fmt::format("PT{:.3f}S", seconds); }

using Out = std::back_insert_iterator<std::string>;

void AppendSegmentTemplate(Out out, const Track& track, std::string_view indent) {
  fmt::format_to(out,
                 "{}<SegmentTemplate timescale=\"1000\" "
                 "initialization=\"$RepresentationID$/init.mp4\" "
                 "media=\"$RepresentationID$/segment_$Number$.m4s\" startNumber=\"0\">\n",
                 indent);
  fmt::format_to(out, "{}  <SegmentTimeline>\n", indent);
  const auto starts = TimelineMillis(track);
  std::size_t i = 0;
  while (i + 1 < starts.size()) {
    const std::int64_t duration = starts[i + 1] - starts[i];
    std::size_t repeats = 0;
    while (i + repeats + 2 < starts.size() &&
           starts[i + repeats + 2] - starts[i + repeats + 1] == duration) {
      ++repeats;
    }
    if (repeats > 0) {
      fmt::format_to(out, "{}    <S t=\"{}\" d=\"{}\" r=\"{}\"/>\n", indent, starts[i], duration,
                     repeats);
    } else {
      fmt::format_to(out, "{}    <S t=\"{}\" d=\"{}\"/>\n", indent, starts[i], duration);
    }
    i += repeats + 1;
  }
  fmt::format_to(out, "{}  </SegmentTimeline>\n", indent);
  fmt::format_to(out, "{}</SegmentTemplate>\n", indent);
}

}  // namespace

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      // Attribute-value normalisation would turn these into spaces: keep them as written.
      case '\t':
        out += "&#9;";
        break;
      case '\n':
        out += "&#10;";
        break;
      case '\r':
        out += "&#13;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          break;  // not representable in XML 1.0, even as a reference (0x7f: kept out too)
        }
        out.push_back(c);
    }
  }
  return out;
}

std::string DashFrameRate(double frames_per_second) {
  if (!(frames_per_second > 0) || !std::isfinite(frames_per_second)) {
    return {};
  }
  const std::int64_t whole = std::llround(frames_per_second);
  const std::int64_t ntsc = std::llround(frames_per_second * 1.001);
  const double whole_error = std::abs(frames_per_second - static_cast<double>(whole));
  const double ntsc_error =
      std::abs(frames_per_second - static_cast<double>(ntsc) * 1000.0 / 1001.0);
  constexpr double kTolerance = 0.005;
  if (whole > 0 && whole_error <= ntsc_error && whole_error <= kTolerance) {
    return fmt::format("{}", whole);
  }
  if (ntsc > 0 && ntsc_error <= kTolerance) {
    return fmt::format("{}/1001", ntsc * 1000);
  }
  // Neither a whole nor an NTSC rate (12.5, 7.5): the rate to a thousandth, reduced.
  std::int64_t numerator = std::llround(frames_per_second * 1000.0);
  std::int64_t denominator = 1000;
  const std::int64_t divisor = std::gcd(numerator, denominator);
  numerator /= divisor;
  denominator /= divisor;
  if (numerator <= 0) {
    return {};
  }
  if (denominator == 1) {
    return fmt::format("{}", numerator);
  }
  return fmt::format("{}/{}", numerator, denominator);
}

bool IsComplete(const ManifestInput& input) {
  if (input.content.status != "ready") {
    return false;
  }
  std::size_t usable = 0;
  for (const auto& media : input.renditions) {
    if (!IsUsable(media.rendition)) {
      continue;
    }
    ++usable;
    if (!media.rendition.complete || media.segments.empty()) {
      return false;
    }
    // A gap: later segments are recorded but the contiguous prefix stops before them.
    const auto prefix = ContiguousPrefix(media.segments);
    const auto last = std::max_element(
        media.segments.begin(), media.segments.end(),
        [](const SegmentRecord& a, const SegmentRecord& b) { return a.number < b.number; });
    if (prefix.empty() || prefix.back()->number != last->number) {
      return false;
    }
  }
  return usable > 0;
}

std::string BuildHlsMaster(const ManifestInput& input, std::string_view uri_prefix) {
  const Tracks tracks = Classify(input);
  std::string text;
  Out out(text);
  text += "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n";

  Bitrates audio_rates;
  if (tracks.audio) {
    audio_rates = MeasureBitrates(*tracks.audio);
  }
  if (tracks.video.empty()) {
    // Audio-only content: the audio rendition is the one variant.
    if (tracks.audio) {
      const auto& audio = *tracks.audio->rendition;
      fmt::format_to(out, "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},CODECS=\"{}\"\n",
                     RoundUp(audio_rates.peak), RoundNearest(audio_rates.average),
                     HlsQuoted(audio.codec));
      fmt::format_to(out, "{}{}/playlist.m3u8\n", uri_prefix, audio.name);
    }
    return text;
  }

  if (tracks.audio) {
    const auto& audio = *tracks.audio->rendition;
    fmt::format_to(out,
                   "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"{}\",DEFAULT=YES,"
                   "AUTOSELECT=YES",
                   audio.name);
    if (audio.channels > 0) {
      fmt::format_to(out, ",CHANNELS=\"{}\"", audio.channels);
    }
    fmt::format_to(out, ",URI=\"{}{}/playlist.m3u8\"\n", uri_prefix, audio.name);
  }
  for (const auto& track : tracks.video) {
    const auto& video = *track.rendition;
    const Bitrates rates = MeasureBitrates(track);
    fmt::format_to(out, "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={}",
                   RoundUp(rates.peak + audio_rates.peak),
                   RoundNearest(rates.average + audio_rates.average));
    if (video.width > 0 && video.height > 0) {
      fmt::format_to(out, ",RESOLUTION={}x{}", video.width, video.height);
    }
    if (video.frame_rate > 0) {
      fmt::format_to(out, ",FRAME-RATE={:.3f}", video.frame_rate);
    }
    std::string codecs = HlsQuoted(video.codec);
    if (tracks.audio) {
      codecs += "," + HlsQuoted(tracks.audio->rendition->codec);
    }
    fmt::format_to(out, ",CODECS=\"{}\"", codecs);
    if (tracks.audio) {
      text += ",AUDIO=\"audio\"";
    }
    fmt::format_to(out, "\n{}{}/playlist.m3u8\n", uri_prefix, video.name);
  }
  return text;
}

Result<std::string> BuildHlsMedia(const ManifestInput& input, std::string_view rendition) {
  const RenditionMedia* found = nullptr;
  for (const auto& media : input.renditions) {
    if (media.rendition.name == rendition && IsUsable(media.rendition)) {
      found = &media;
      break;
    }
  }
  if (found == nullptr) {
    return MakeError(ErrorCode::kNotFound, "content {} has no rendition {}", input.content.id,
                     rendition);
  }
  const Track track{&found->rendition, ContiguousPrefix(found->segments)};
  const bool complete = IsComplete(input);

  std::string text;
  Out out(text);
  fmt::format_to(out,
                 "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:0\n"
                 "#EXT-X-PLAYLIST-TYPE:{}\n#EXT-X-INDEPENDENT-SEGMENTS\n"
                 "#EXT-X-MAP:URI=\"init.mp4\"\n",
                 TargetDuration(track), complete ? "VOD" : "EVENT");
  for (const auto* segment : track.segments) {
    fmt::format_to(out, "#EXTINF:{:.6f},\nsegment_{}.m4s\n", segment->duration_seconds,
                   segment->number);
  }
  if (complete) {
    text += "#EXT-X-ENDLIST\n";
  }
  return text;
}

Result<std::string> BuildDashMpd(const ManifestInput& input, std::string_view uri_prefix) {
  if (!IsComplete(input)) {
    return MakeError(ErrorCode::kUnavailable,
                     "content {} is not fully transcoded yet: no static MPD before it is ready",
                     input.content.id);
  }
  const Tracks tracks = Classify(input);

  // Presentation duration from the same millisecond timeline the segments use.
  std::int64_t duration_ms = 0;
  double target_seconds = 0;
  const auto& duration_tracks = tracks.video.empty() ? tracks.all_audio : tracks.video;
  for (const auto& track : duration_tracks) {
    duration_ms = std::max(duration_ms, TimelineMillis(track).back());
  }
  for (const auto& track : tracks.video) {
    target_seconds = std::max(target_seconds, track.rendition->target_segment_seconds);
  }
  for (const auto& track : tracks.all_audio) {
    target_seconds = std::max(target_seconds, track.rendition->target_segment_seconds);
  }
  if (target_seconds <= 0) {
    // Not configured on the records: the longest segment stands in for it.
    for (const auto& media : input.renditions) {
      for (const auto& segment : media.segments) {
        target_seconds = std::max(target_seconds, segment.duration_seconds);
      }
    }
  }

  std::string text;
  Out out(text);
  text += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  fmt::format_to(out,
                 "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" "
                 "profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" type=\"static\" "
                 "mediaPresentationDuration=\"{}\" minBufferTime=\"{}\">\n",
                 FormatSeconds(static_cast<double>(duration_ms) / 1000.0),
                 FormatSeconds(2 * target_seconds));
  if (!uri_prefix.empty()) {
    // Every SegmentTemplate URI resolves against it (ISO/IEC 23009-1 5.6), so one element
    // puts the playback token in front of all of them.
    fmt::format_to(out, "  <BaseURL>{}</BaseURL>\n", uri_prefix);
  }
  text += "  <Period id=\"0\" start=\"PT0S\">\n";

  if (!tracks.video.empty()) {
    std::int64_t max_width = 0;
    std::int64_t max_height = 0;
    double max_frame_rate = 0;
    for (const auto& track : tracks.video) {
      max_width = std::max(max_width, track.rendition->width);
      max_height = std::max(max_height, track.rendition->height);
      max_frame_rate = std::max(max_frame_rate, track.rendition->frame_rate);
    }
    text +=
        "    <AdaptationSet id=\"0\" contentType=\"video\" mimeType=\"video/mp4\" "
        "segmentAlignment=\"true\" startWithSAP=\"1\"";
    fmt::format_to(out, " maxWidth=\"{}\" maxHeight=\"{}\"", max_width, max_height);
    if (const auto rate = DashFrameRate(max_frame_rate); !rate.empty()) {
      fmt::format_to(out, " maxFrameRate=\"{}\"", rate);
    }
    text += ">\n";
    for (const auto& track : tracks.video) {
      const auto& video = *track.rendition;
      fmt::format_to(out,
                     "      <Representation id=\"{}\" bandwidth=\"{}\" width=\"{}\" "
                     "height=\"{}\"",
                     video.name, RoundUp(MeasureBitrates(track).peak), video.width, video.height);
      if (const auto rate = DashFrameRate(video.frame_rate); !rate.empty()) {
        fmt::format_to(out, " frameRate=\"{}\"", rate);
      }
      fmt::format_to(out, " codecs=\"{}\" sar=\"1:1\">\n", XmlEscape(video.codec));
      AppendSegmentTemplate(out, track, "        ");
      text += "      </Representation>\n";
    }
    text += "    </AdaptationSet>\n";
  }

  if (!tracks.all_audio.empty()) {
    text +=
        "    <AdaptationSet id=\"1\" contentType=\"audio\" mimeType=\"audio/mp4\" lang=\"und\" "
        "segmentAlignment=\"true\">\n";
    for (const auto& track : tracks.all_audio) {
      const auto& audio = *track.rendition;
      fmt::format_to(out, "      <Representation id=\"{}\" codecs=\"{}\" bandwidth=\"{}\"",
                     audio.name, XmlEscape(audio.codec), RoundUp(MeasureBitrates(track).peak));
      if (audio.sample_rate > 0) {
        fmt::format_to(out, " audioSamplingRate=\"{}\"", audio.sample_rate);
      }
      text += ">\n";
      if (audio.channels > 0) {
        fmt::format_to(out,
                       "        <AudioChannelConfiguration "
                       "schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\" "
                       "value=\"{}\"/>\n",
                       audio.channels);
      }
      AppendSegmentTemplate(out, track, "        ");
      text += "      </Representation>\n";
    }
    text += "    </AdaptationSet>\n";
  }
  text += "  </Period>\n</MPD>\n";
  return text;
}

}  // namespace sg::plugins::streaming
