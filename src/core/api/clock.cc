#include "core/api/clock.h"

#include <thread>

namespace sg {

void SystemClock::SleepFor(Duration duration) const {
  if (duration <= Duration::zero()) {
    return;
  }
  std::this_thread::sleep_for(duration);
}

}  // namespace sg
