#pragma once
/// Request-scoped context: the request id and W3C trace context of the request being
/// handled on this thread. The gateway sets it around each handler call; the logger puts
/// it on every line, and the event bus copies `traceparent` into published messages.
///
/// It is thread-local, so it is only valid in synchronous code; code that hops threads
/// (coroutines, pools) captures `CurrentRequestContext()` and re-installs it with
/// `ScopedRequestContext`.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sg {

/// W3C Trace Context (https://www.w3.org/TR/trace-context/), version 00.
struct TraceContext {
  std::string trace_id;  ///< 32 lower-case hex, not all zero.
  std::string span_id;   ///< 16 lower-case hex, not all zero (the parent for a child).
  std::uint8_t flags = 1;

  /// Parses a `traceparent` header; nullopt when malformed (then start a new trace).
  static std::optional<TraceContext> Parse(std::string_view traceparent);
  /// A fresh root context with random ids.
  static TraceContext NewRoot();
  /// Same trace, new span id.
  TraceContext NewChildSpan() const;
  /// "00-<trace_id>-<span_id>-<flags>"
  std::string ToTraceparent() const;
};

struct RequestContext {
  std::string request_id;
  TraceContext trace;
};

/// The context installed on this thread, or nullptr.
const RequestContext* CurrentRequestContext() noexcept;

/// Installs `context` on this thread for the scope's lifetime; restores the previous one.
class ScopedRequestContext {
 public:
  explicit ScopedRequestContext(const RequestContext* context) noexcept;
  ~ScopedRequestContext();
  ScopedRequestContext(const ScopedRequestContext&) = delete;
  ScopedRequestContext& operator=(const ScopedRequestContext&) = delete;

 private:
  const RequestContext* previous_;
};

}  // namespace sg
