#include "core/api/circuit_breaker.h"

#include <algorithm>
#include <utility>

namespace sg {

CircuitBreaker::CircuitBreaker(Options options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {
  options_.failure_threshold = std::max(options_.failure_threshold, 1);
  options_.half_open_max_probes = std::max(options_.half_open_max_probes, 1);
  options_.success_threshold = std::max(options_.success_threshold, 1);
  state_since_ = clock_.Now();
}

bool CircuitBreaker::Allow() {
  Transition transition;
  bool allowed = false;
  {
    std::lock_guard lock(mutex_);
    SteadyTime now = clock_.Now();
    AdvanceLocked(now, transition);
    switch (state_) {
      case State::kClosed:
        allowed = true;
        break;
      case State::kOpen:
        allowed = false;
        break;
      case State::kHalfOpen:
        // A probe whose caller never reported back would wedge the breaker half-open
        // forever; after another `open_for` its slot is given to a new probe.
        if (probes_in_flight_ >= options_.half_open_max_probes &&
            now - state_since_ >= options_.open_for) {
          probes_in_flight_ = 0;
          state_since_ = now;
        }
        if (probes_in_flight_ < options_.half_open_max_probes) {
          ++probes_in_flight_;
          allowed = true;
        }
        break;
    }
  }
  Notify(transition);
  return allowed;
}

void CircuitBreaker::RecordSuccess() {
  Transition transition;
  {
    std::lock_guard lock(mutex_);
    switch (state_) {
      case State::kClosed:
        consecutive_failures_ = 0;
        break;
      case State::kOpen:
        // A call admitted before the breaker opened: it says nothing about now.
        break;
      case State::kHalfOpen:
        probes_in_flight_ = std::max(probes_in_flight_ - 1, 0);
        if (++probe_successes_ >= options_.success_threshold) {
          SetStateLocked(State::kClosed, clock_.Now(), transition);
        }
        break;
    }
  }
  Notify(transition);
}

void CircuitBreaker::RecordFailure() {
  Transition transition;
  {
    std::lock_guard lock(mutex_);
    switch (state_) {
      case State::kClosed:
        if (++consecutive_failures_ >= options_.failure_threshold) {
          SetStateLocked(State::kOpen, clock_.Now(), transition);
        }
        break;
      case State::kOpen:
        // Already open; a late failure must not extend the open period.
        break;
      case State::kHalfOpen:
        SetStateLocked(State::kOpen, clock_.Now(), transition);
        break;
    }
  }
  Notify(transition);
}

CircuitBreaker::State CircuitBreaker::state() const {
  Transition transition;
  State current;
  {
    std::lock_guard lock(mutex_);
    AdvanceLocked(clock_.Now(), transition);
    current = state_;
  }
  Notify(transition);
  return current;
}

std::string_view CircuitBreaker::StateName(State state) noexcept {
  switch (state) {
    case State::kClosed:
      return "closed";
    case State::kOpen:
      return "open";
    case State::kHalfOpen:
      return "half_open";
  }
  return "unknown";
}

void CircuitBreaker::AdvanceLocked(SteadyTime now, Transition& transition) const {
  if (state_ == State::kOpen && now - state_since_ >= options_.open_for) {
    SetStateLocked(State::kHalfOpen, now, transition);
  }
}

void CircuitBreaker::SetStateLocked(State to, SteadyTime now, Transition& transition) const {
  transition = Transition{state_, to};
  state_ = to;
  state_since_ = now;
  consecutive_failures_ = 0;
  probes_in_flight_ = 0;
  probe_successes_ = 0;
}

void CircuitBreaker::Notify(const Transition& transition) const {
  if (transition.from != transition.to && options_.on_transition) {
    options_.on_transition(transition.from, transition.to);
  }
}

}  // namespace sg
