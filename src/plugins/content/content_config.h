#pragma once

#include <cstdint>

#include "core/api/config.h"

namespace sg::plugins::content {

struct ContentConfig {
  std::int64_t max_event_streams = 1000;
  ConfigDuration event_heartbeat{15'000};
  ConfigDuration orphan_sweep_interval{6LL * 3600 * 1000};
  ConfigDuration orphan_grace{3600LL * 1000};

  void Visit(ConfigVisitor& v) {
    v.Field("max_event_streams", max_event_streams,
            {.doc = "open /content/{id}/events streams per process (503 above)",
             .min = 1,
             .max = 1'000'000});
    v.Field("event_heartbeat", event_heartbeat,
            {.doc = "an idle event stream gets a comment line this often (keeps proxies open)",
             .min = 1'000});
    v.Field(
        "orphan_sweep_interval", orphan_sweep_interval,
        {.doc = "how often objects whose content and upload are gone are removed", .min = 60'000});
    v.Field("orphan_grace", orphan_grace,
            {.doc = "objects younger than this are never treated as orphans (an upload or "
                    "transcode may be writing them)",
             .min = 0});
  }

  Result<> Validate() const { return {}; }
};

}  // namespace sg::plugins::content
