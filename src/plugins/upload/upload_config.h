#pragma once

#include <cstdint>
#include <string>

#include "core/api/config.h"

namespace sg::plugins::upload {

inline constexpr std::uint64_t kMiB = 1024 * 1024;
inline constexpr std::uint64_t kGiB = 1024 * kMiB;

struct UploadConfig {
  ByteSize max_file_size{20 * kGiB};
  ByteSize chunk_size{8 * kMiB};
  ByteSize min_chunk_size{1 * kMiB};
  ByteSize max_chunk_size{64 * kMiB};
  std::int64_t max_open_sessions_per_owner = 20;
  ByteSize quota_per_owner{0};
  ConfigDuration session_ttl{24LL * 3600 * 1000};
  ConfigDuration cleanup_interval{10LL * 60 * 1000};
  ConfigDuration probe_timeout{30'000};
  std::string ffprobe = "ffprobe";

  void Visit(ConfigVisitor& v) {
    v.Field("max_file_size", max_file_size,
            {.doc = "largest file one upload may declare (413 above)", .min = 1});
    v.Field(
        "chunk_size", chunk_size,
        {.doc = "chunk size when the client does not ask for one; tus always uses it", .min = 1});
    v.Field("min_chunk_size", min_chunk_size,
            {.doc = "smallest chunk_size a client may request", .min = 1});
    v.Field("max_chunk_size", max_chunk_size,
            {.doc = "largest chunk_size a client may request (also the chunk PUT body limit)",
             .min = 1,
             .max = 1024.0 * 1024 * 1024});
    v.Field("max_open_sessions_per_owner", max_open_sessions_per_owner,
            {.doc = "open upload sessions per owner (429 above)", .min = 1, .max = 100000});
    v.Field("quota_per_owner", quota_per_owner,
            {.doc = "bytes of contents plus open uploads per owner; 0 = unlimited (413 above)"});
    v.Field("session_ttl", session_ttl,
            {.doc = "an unfinished upload session is removed this long after it was created",
             .min = 60'000});
    v.Field("cleanup_interval", cleanup_interval,
            {.doc = "how often expired sessions are removed", .min = 1'000});
    v.Field("probe_timeout", probe_timeout,
            {.doc = "ffprobe is killed after this long (the upload then fails with 415)",
             .min = 1'000});
    v.Field("ffprobe", ffprobe, {.doc = "path or name (looked up in PATH) of ffprobe"});
  }

  Result<> Validate() const {
    if (min_chunk_size.bytes > max_chunk_size.bytes) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "min_chunk_size: must not exceed max_chunk_size");
    }
    if (chunk_size.bytes < min_chunk_size.bytes || chunk_size.bytes > max_chunk_size.bytes) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "chunk_size: must be between min_chunk_size and max_chunk_size");
    }
    if (ffprobe.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "ffprobe: must not be empty");
    }
    return {};
  }
};

}  // namespace sg::plugins::upload
