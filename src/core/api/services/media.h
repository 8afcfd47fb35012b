#pragma once
/// Conventions the media plugins (upload, transcode, content, streaming) share without
/// including each other: event subjects and which source formats ffmpeg may open.

#include <string_view>

namespace sg {

/// Published by upload when a file is complete and probed: {"content_id", "object_key",
/// "size", "sha256", "owner", "probe"}.
inline constexpr std::string_view kFileUploadedSubject = "streamgate.file.uploaded";

/// Published by transcode; every payload carries "content_id" and "job_id".
inline constexpr std::string_view kTranscodingStartedSubject = "streamgate.transcoding.started";
inline constexpr std::string_view kTranscodingProgressSubject = "streamgate.transcoding.progress";
inline constexpr std::string_view kTranscodingCompletedSubject = "streamgate.transcoding.completed";
inline constexpr std::string_view kTranscodingFailedSubject = "streamgate.transcoding.failed";

/// The only demuxers ffprobe and ffmpeg may use on an upload (`-format_whitelist`):
/// containers that hold their media. Playlists and concatenation formats (hls, concat,
/// image2, tee, ...) name other files or URLs, so an "upload" in one of them could make the
/// server read another user's file, a local secret or an internal URL. Matched by ffmpeg
/// against each name of a demuxer ("mov" covers "mov,mp4,m4a,3gp,3g2,mj2").
inline constexpr std::string_view kSourceFormatAllowlist =
    "mov,matroska,webm,avi,flv,mpegts,mpeg,ogg,asf,mxf,dv,m4v,h264,hevc,mpegvideo,ivf,nut";

}  // namespace sg
