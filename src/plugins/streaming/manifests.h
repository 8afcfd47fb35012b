#pragma once
/// Pure builders of the streaming manifests (HLS master and media playlists, DASH MPD) from
/// the metadata that transcode records: no I/O, so they are cheap to cache and to test with
/// exact golden text. Every URI they write is RELATIVE (`360p/playlist.m3u8`, `init.mp4`,
/// `$RepresentationID$/segment_$Number$.m4s`), so a path prefix that carries a playback
/// token is inherited by every request the player makes.

#include <string>
#include <string_view>
#include <vector>

#include "core/api/result.h"
#include "core/api/services/metadata_store.h"

namespace sg::plugins::streaming {

/// One rendition with its recorded segments (as `MetadataStore::ListSegments` returns them).
struct RenditionMedia {
  RenditionRecord rendition;
  std::vector<SegmentRecord> segments;
};

/// Everything a manifest is made of. Renditions may come in any order; video ones are listed
/// by height ascending. Renditions whose name is not [a-z0-9_-]+ or whose kind is neither
/// video nor audio are ignored (a name ends up in URIs and playlist lines).
struct ManifestInput {
  ContentRecord content;
  std::vector<RenditionMedia> renditions;
};

/// True when every segment is known: content.status == "ready", at least one rendition, and
/// every rendition complete with segments contiguous from 0 (a gap would make a VOD playlist
/// skip media for good).
bool IsComplete(const ManifestInput& input);

/// The HLS master playlist: one variant per video rendition (BANDWIDTH = peak segment
/// bitrate, AVERAGE-BANDWIDTH = mean, both including the audio rendition), audio as an
/// EXT-X-MEDIA group. Without video renditions, the audio rendition is the only variant.
/// `uri_prefix` ("t/<token>/" or empty) goes in front of every playlist URI; the media
/// playlists' URIs are relative to theirs, so they inherit it.
std::string BuildHlsMaster(const ManifestInput& input, std::string_view uri_prefix = {});

/// The media playlist of `rendition`: VOD with ENDLIST when IsComplete, else EVENT listing
/// the contiguous prefix of segments from 0 (a later segment past a gap is not final yet).
/// kNotFound for an unknown rendition.
Result<std::string> BuildHlsMedia(const ManifestInput& input, std::string_view rendition);

/// A static DASH MPD (SegmentTemplate + SegmentTimeline in milliseconds, one adaptation set
/// for video, one for audio). kUnavailable while !IsComplete: a static MPD must list every
/// segment, and DASH players would treat a partial one as the whole video. A non-empty
/// `uri_prefix` becomes the MPD's BaseURL (RFC 3986 relative, resolved against the MPD).
Result<std::string> BuildDashMpd(const ManifestInput& input, std::string_view uri_prefix = {});

/// DASH frameRate: "25", "30000/1001"; the closest of n/1 and n*1000/1001, else the rate
/// to a thousandth as a reduced fraction ("25/2"). Empty for a rate <= 0. Exposed for tests.
std::string DashFrameRate(double frames_per_second);

/// Escapes text for an XML attribute value or element text; drops characters XML 1.0 cannot
/// carry at all (C0 controls other than tab, LF, CR). Exposed for tests.
std::string XmlEscape(std::string_view text);

}  // namespace sg::plugins::streaming
