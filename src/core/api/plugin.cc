#include "core/api/plugin.h"

namespace sg {

std::string_view HealthStatusName(HealthStatus status) noexcept {
  switch (status) {
    case HealthStatus::kOk:
      return "ok";
    case HealthStatus::kDegraded:
      return "degraded";
    case HealthStatus::kDown:
      return "down";
  }
  return "down";
}

}  // namespace sg
