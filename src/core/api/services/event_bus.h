#pragma once
/// EventBus port: publish/subscribe and request/reply with NATS subject semantics, so the
/// embedded in-process adapter and the NATS adapter are interchangeable.
///
/// Subjects are dot-separated tokens (`streamgate.file.uploaded`). Subscriptions may use
/// `*` (exactly one token) and `>` (one or more trailing tokens, last position only).
/// Delivery is asynchronous and at-most-once per subscriber on this port (durable,
/// at-least-once work goes through the JobQueue port). Messages to one subscription are
/// handled in publish order, one at a time; different subscriptions run concurrently.
/// Handlers must be idempotent: the distributed adapter may redeliver.
///
/// Overflow policy (the same as a NATS "slow consumer"): each subscription has a bounded
/// pending queue; when it is full, new messages for that subscription are dropped,
/// counted in `streamgate_bus_dropped_total` and logged (rate-limited). Publish never
/// blocks on a slow subscriber.

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/api/result.h"

namespace sg {

struct BusMessage {
  std::string subject;
  std::string data;
  /// Where a reply goes (request/reply); empty for plain events.
  std::string reply_to;
  /// Carried end to end (NATS headers). The bus adds `traceparent` from the current
  /// request context when the publisher did not set it.
  std::map<std::string, std::string> headers;
};

using BusHandler = std::function<void(const BusMessage& message)>;

struct SubscribeOptions {
  /// Members of the same queue group on a subject share its messages: each message goes
  /// to exactly one of them. Empty = an ordinary subscriber that gets every message.
  std::string queue_group;
  /// Bound of this subscription's pending queue (messages), 0 = the bus default.
  std::size_t max_pending = 0;
};

/// Unsubscribes when destroyed (or on `Unsubscribe()`); after it returns, the handler is
/// not running and will not be called again.
class BusSubscription {
 public:
  virtual ~BusSubscription() = default;
  virtual void Unsubscribe() noexcept = 0;
  virtual const std::string& subject() const noexcept = 0;
};

class EventBus {
 public:
  static constexpr std::string_view kServiceName = "EventBus";
  virtual ~EventBus() = default;

  /// Publishes to a concrete subject (no wildcards). kInvalidArgument for a bad subject,
  /// kUnavailable when the bus is closed or (NATS) disconnected.
  virtual Result<> Publish(BusMessage message) = 0;

  /// kInvalidArgument for a bad subject pattern.
  virtual Result<std::unique_ptr<BusSubscription>> Subscribe(std::string subject,
                                                             BusHandler handler,
                                                             SubscribeOptions options = {}) = 0;

  /// Sends a request and waits for the first reply. kUnavailable with "no responders"
  /// when nobody subscribes to the subject, kUnavailable with "timed out" after `timeout`.
  /// Blocks the calling thread: do not call it from an HTTP I/O thread in a hot path.
  virtual Result<BusMessage> Request(BusMessage message, std::chrono::milliseconds timeout) = 0;

  /// Replies to a request message (publishes to its reply_to).
  Result<> Reply(const BusMessage& request, std::string data) {
    if (request.reply_to.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "message on {} has no reply subject",
                       request.subject);
    }
    BusMessage reply;
    reply.subject = request.reply_to;
    reply.data = std::move(data);
    return Publish(std::move(reply));
  }
};

/// Checks a subject: non-empty tokens of printable characters without spaces; wildcards
/// only when `allow_wildcards`, `>` only as the last token.
Result<> ValidateSubject(std::string_view subject, bool allow_wildcards);

/// True when `subject` (concrete) matches `pattern` (may hold `*` and `>`).
bool SubjectMatches(std::string_view pattern, std::string_view subject) noexcept;

}  // namespace sg
