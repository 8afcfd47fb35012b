#pragma once
/// A circuit breaker for calls to a dependency that may be down (chain RPC, S3, Redis):
/// after `failure_threshold` consecutive failures it opens and fails calls fast for
/// `open_for`, then lets `half_open_max_probes` trial calls through; success closes it,
/// failure opens it again for another `open_for`.
///
/// ```cpp
/// if (!breaker.Allow()) return MakeError(ErrorCode::kUnavailable, "rpc for {} is failing", chain);
/// auto result = rpc.Call(...);
/// result ? breaker.RecordSuccess() : breaker.RecordFailure();
/// ```
/// Every `Allow()` that returned true must be followed by exactly one RecordSuccess or
/// RecordFailure (a half-open probe slot is held until then; slots that were never reported
/// are reclaimed after `open_for`). Thread-safe. Time comes from the injected Clock.

#include <functional>
#include <mutex>
#include <string_view>

#include "core/api/clock.h"

namespace sg {

class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };

  struct Options {
    /// Consecutive failures that open a closed breaker.
    int failure_threshold = 5;
    /// How long an open breaker rejects calls before it lets probes through.
    Duration open_for = std::chrono::seconds(30);
    /// Concurrent trial calls allowed while half-open.
    int half_open_max_probes = 1;
    /// Successful probes that close a half-open breaker.
    int success_threshold = 1;
    /// Called on every state change, after the breaker's lock is released (so it may call
    /// `state()`), for metrics and logs. Must be thread-safe; may be empty.
    std::function<void(State from, State to)> on_transition;
  };

  /// `clock` must outlive the breaker.
  CircuitBreaker(Options options, const Clock& clock);

  /// Whether a call may go ahead now: true when closed; false when open; when half-open,
  /// true for up to `half_open_max_probes` calls in flight.
  bool Allow();
  void RecordSuccess();
  void RecordFailure();
  /// The current state (an open breaker whose time is up reports kHalfOpen).
  State state() const;

  /// "closed", "open", "half_open".
  static std::string_view StateName(State state) noexcept;

 private:
  /// A state change to report once the lock is released (from == to: none).
  struct Transition {
    State from = State::kClosed;
    State to = State::kClosed;
  };
  /// Moves open -> half-open when `open_for` has elapsed. Needs `mutex_`.
  void AdvanceLocked(SteadyTime now, Transition& transition) const;
  void SetStateLocked(State to, SteadyTime now, Transition& transition) const;
  void Notify(const Transition& transition) const;

  Options options_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  // Mutable because state() is const yet applies the time-based open -> half-open move.
  mutable State state_ = State::kClosed;
  mutable SteadyTime state_since_{};
  mutable int consecutive_failures_ = 0;
  mutable int probes_in_flight_ = 0;
  mutable int probe_successes_ = 0;
};

}  // namespace sg
