#pragma once
/// The embedded (in-process) EventBus adapter, with the semantics of core NATS so that the
/// NATS adapter can replace it: subject wildcards, queue groups, request/reply with inboxes
/// and "no responders", at-most-once delivery with a bounded pending queue per subscription
/// (slow consumers lose new messages, counted and logged).
///
/// Threading: handlers run on a pool of `dispatch_threads` threads. Each subscription is a
/// serial executor: its messages are handled in publish order, one at a time; different
/// subscriptions run concurrently. No bus-wide lock is held while a handler runs, so
/// handlers may publish, subscribe, unsubscribe (themselves included) and reply. A handler
/// that calls `Request` occupies a dispatch thread until the reply arrives, so at least one
/// other thread must be free to run the responder.
///
/// Metrics: streamgate_bus_messages_published_total, streamgate_bus_messages_delivered_total,
/// streamgate_bus_dropped_total{subject}, streamgate_bus_handler_errors_total{subject}
/// (`subject` is the subscription pattern, never a published subject; all request inboxes
/// share `_INBOX.>`), streamgate_bus_subscriptions, streamgate_bus_pending_messages.

#include <spdlog/logger.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/api/clock.h"
#include "core/api/metrics.h"
#include "core/api/services/event_bus.h"

namespace sg::core {

class InMemoryEventBus final : public sg::EventBus {
 public:
  struct Options {
    /// Pending messages per subscription when its SubscribeOptions say 0.
    std::size_t max_pending = 10000;
    /// Threads that run handlers (at least 1).
    std::size_t dispatch_threads = 2;
  };

  /// `metrics` must outlive the bus (and any dispatch thread detached by Close).
  InMemoryEventBus(Options options, std::shared_ptr<spdlog::logger> logger,
                   sg::MetricsRegistry& metrics);
  /// Closes with a short deadline (1 s) if Close was not called.
  ~InMemoryEventBus() override;
  InMemoryEventBus(const InMemoryEventBus&) = delete;
  InMemoryEventBus& operator=(const InMemoryEventBus&) = delete;

  Result<> Publish(BusMessage message) override;
  Result<std::unique_ptr<BusSubscription>> Subscribe(std::string subject, BusHandler handler,
                                                     SubscribeOptions options = {}) override;
  Result<BusMessage> Request(BusMessage message, std::chrono::milliseconds timeout) override;

  /// Refuses new publishes and subscriptions (kUnavailable), lets queued messages drain
  /// until `deadline`, then drops what is left (logged and counted) and stops the dispatch
  /// threads. A handler still running at the deadline cannot be interrupted: its thread is
  /// detached (logged as an error) so that shutdown is not held hostage. Idempotent.
  void Close(sg::Deadline deadline) noexcept;

  struct Core;

 private:
  std::shared_ptr<Core> core_;
  std::vector<std::thread> threads_;
  bool threads_stopped_ = false;
};

}  // namespace sg::core
