#pragma once

#include "core/api/config.h"

namespace sg::plugins::monitor {

struct MonitorConfig {
  /// How often every plugin's CheckHealth() runs; /readyz answers from the cached result.
  ConfigDuration health_interval{10'000};

  void Visit(ConfigVisitor& v) {
    v.Field("health_interval", health_interval,
            {.doc = "how often plugin health is checked; /readyz serves the cached result",
             .reloadable = true,
             .min = 100,
             .max = 3'600'000});
  }
  Result<> Validate() const { return {}; }
};

}  // namespace sg::plugins::monitor
