#pragma once

#include <cstdint>

#include "core/api/config.h"

namespace sg::plugins::streaming {

struct StreamingConfig {
  ConfigDuration manifest_max_age{30'000};
  ConfigDuration segment_max_age{365LL * 24 * 3600 * 1000};
  ConfigDuration retry_after{5'000};

  void Visit(ConfigVisitor& v) {
    v.Field("manifest_max_age", manifest_max_age,
            {.doc = "Cache-Control max-age of the manifests of ready content (while "
                    "transcoding they are never cached)",
             .min = 0});
    v.Field("segment_max_age", segment_max_age,
            {.doc = "Cache-Control max-age of init and media segments (immutable)", .min = 0});
    v.Field("retry_after", retry_after,
            {.doc = "Retry-After of a manifest asked for before any segment exists",
             .min = 1'000});
  }

  Result<> Validate() const { return {}; }
};

}  // namespace sg::plugins::streaming
