#pragma once
/// Time as a service: production code reads time and sleeps only through `Clock`, so that
/// tests drive retry, breakers, leases and expiry with a fake clock (core/testing/fake_clock.h).

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace sg {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;
using Duration = std::chrono::nanoseconds;
/// A point on the steady clock by which an operation must give up.
using Deadline = SteadyTime;

class Clock {
 public:
  virtual ~Clock() = default;
  /// Monotonic time, for deadlines and intervals. Thread-safe.
  virtual SteadyTime Now() const = 0;
  /// Wall-clock time, for timestamps shown to people and stored records. Thread-safe.
  virtual WallTime WallNow() const = 0;
  /// Blocks the calling thread for `duration` (a fake clock advances instead).
  virtual void SleepFor(Duration duration) const = 0;
};

/// "2026-01-01T00:00:00.000Z": RFC 3339, UTC, milliseconds (floored, also before 1970). The
/// one timestamp format of every JSON API.
std::string FormatRfc3339(WallTime time);

/// IMF-fixdate (RFC 9110 §5.6.7), "Sun, 06 Nov 1994 08:49:37 GMT", for HTTP headers.
std::string FormatHttpDate(WallTime time);
/// Parses IMF-fixdate; nullopt for anything else (the obsolete RFC 850 and asctime forms
/// are not accepted: a conditional header we cannot read is treated as absent).
std::optional<WallTime> ParseHttpDate(std::string_view text);

/// The real clocks of the machine.
class SystemClock final : public Clock {
 public:
  SteadyTime Now() const override { return std::chrono::steady_clock::now(); }
  WallTime WallNow() const override { return std::chrono::system_clock::now(); }
  void SleepFor(Duration duration) const override;
};

}  // namespace sg
