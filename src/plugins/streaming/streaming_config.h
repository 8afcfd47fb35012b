#pragma once

#include <cstdint>
#include <string>

#include "core/api/config.h"

namespace sg::plugins::streaming {

struct StreamingConfig {
  ConfigDuration manifest_max_age{30'000};
  ConfigDuration segment_max_age{365LL * 24 * 3600 * 1000};
  ConfigDuration retry_after{5'000};
  std::string accel_redirect_prefix;
  ConfigDuration view_dedup_window{30LL * 60 * 1000};
  std::string view_salt;

  void Visit(ConfigVisitor& v) {
    v.Field("manifest_max_age", manifest_max_age,
            {.doc = "Cache-Control max-age of the manifests of ready content (while "
                    "transcoding they are never cached)",
             .min = 0});
    v.Field("segment_max_age", segment_max_age,
            {.doc = "Cache-Control max-age of init and media segments (immutable)", .min = 0});
    v.Field("retry_after", retry_after,
            {.doc = "Retry-After of a manifest asked for before any segment exists", .min = 1'000});
    v.Field("accel_redirect_prefix", accel_redirect_prefix,
            {.doc = "nginx mode: when set (e.g. /_objects), segment responses carry "
                    "X-Accel-Redirect: <prefix>/<object key> and no body, so an nginx in front "
                    "sends the bytes (deploy/nginx.conf); empty = StreamGate sends them"});
    v.Field("view_dedup_window", view_dedup_window,
            {.doc = "a viewer's manifest fetches of one content count as one view within this",
             .min = 1'000});
    v.Field("view_salt", view_salt,
            {.doc = "key of the viewer hashes (IP + User-Agent are never stored); empty = "
                    "random per process, so unique viewers restart counting after a restart",
             .secret = true});
  }

  Result<> Validate() const {
    if (!accel_redirect_prefix.empty() &&
        (accel_redirect_prefix.front() != '/' || accel_redirect_prefix.back() == '/' ||
         accel_redirect_prefix.find_first_of(" \r\n") != std::string::npos)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "accel_redirect_prefix: must start with / and not end with / (e.g. "
                       "/_objects)");
    }
    return {};
  }
};

}  // namespace sg::plugins::streaming
