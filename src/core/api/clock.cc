#include "core/api/clock.h"

#include <fmt/format.h>

#include <ctime>
#include <thread>

namespace sg {

void SystemClock::SleepFor(Duration duration) const {
  if (duration <= Duration::zero()) {
    return;
  }
  std::this_thread::sleep_for(duration);
}

std::string FormatRfc3339(WallTime time) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(time.time_since_epoch()).count();
  auto seconds = static_cast<std::time_t>(ms / 1000);
  auto millis = ms % 1000;
  if (millis < 0) {  // before 1970: floor, not truncate
    millis += 1000;
    --seconds;
  }
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

}  // namespace sg
