#include "core/api/request_context.h"

#include <fmt/format.h>

#include "core/api/random.h"

namespace sg {
namespace {

// Layout of a version-00 traceparent: "vv-<32 hex>-<16 hex>-ff".
constexpr std::size_t kVersionLength = 2;
constexpr std::size_t kTraceIdLength = 32;
constexpr std::size_t kSpanIdLength = 16;
constexpr std::size_t kFlagsLength = 2;
constexpr std::size_t kTraceIdOffset = kVersionLength + 1;
constexpr std::size_t kSpanIdOffset = kTraceIdOffset + kTraceIdLength + 1;
constexpr std::size_t kFlagsOffset = kSpanIdOffset + kSpanIdLength + 1;
constexpr std::size_t kHeaderLength = kFlagsOffset + kFlagsLength;  // 55

bool IsLowerHex(char c) noexcept { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool IsLowerHex(std::string_view text) noexcept {
  for (char c : text) {
    if (!IsLowerHex(c)) {
      return false;
    }
  }
  return true;
}

bool IsAllZero(std::string_view text) noexcept {
  return text.find_first_not_of('0') == std::string_view::npos;
}

int HexValue(char c) noexcept { return c <= '9' ? c - '0' : c - 'a' + 10; }

// A non-zero id; the chance of producing all zeros is nil, but an all-zero id is invalid on
// the wire, so never emit one.
std::string NewId(std::size_t bytes) {
  std::string id = UniqueHex(bytes);
  while (IsAllZero(id)) {
    id = UniqueHex(bytes);
  }
  return id;
}

thread_local const RequestContext* current_context = nullptr;

}  // namespace

std::optional<TraceContext> TraceContext::Parse(std::string_view traceparent) {
  if (traceparent.size() < kHeaderLength) {
    return std::nullopt;
  }
  std::string_view version = traceparent.substr(0, kVersionLength);
  if (!IsLowerHex(version) || version == "ff") {
    return std::nullopt;
  }
  // Version 00 has exactly four fields. Later versions may append fields after a dash;
  // the spec asks us to read the first four and ignore the rest.
  if (version == "00" && traceparent.size() != kHeaderLength) {
    return std::nullopt;
  }
  if (traceparent.size() > kHeaderLength && traceparent[kHeaderLength] != '-') {
    return std::nullopt;
  }
  if (traceparent[kVersionLength] != '-' || traceparent[kSpanIdOffset - 1] != '-' ||
      traceparent[kFlagsOffset - 1] != '-') {
    return std::nullopt;
  }
  std::string_view trace_id = traceparent.substr(kTraceIdOffset, kTraceIdLength);
  std::string_view span_id = traceparent.substr(kSpanIdOffset, kSpanIdLength);
  std::string_view flags = traceparent.substr(kFlagsOffset, kFlagsLength);
  if (!IsLowerHex(trace_id) || !IsLowerHex(span_id) || !IsLowerHex(flags)) {
    return std::nullopt;
  }
  if (IsAllZero(trace_id) || IsAllZero(span_id)) {
    return std::nullopt;
  }
  TraceContext context;
  context.trace_id = std::string(trace_id);
  context.span_id = std::string(span_id);
  context.flags = static_cast<std::uint8_t>(HexValue(flags[0]) * 16 + HexValue(flags[1]));
  if (version != "00") {
    // Only the sampled bit is defined across versions; we re-emit version 00.
    context.flags &= 0x01;
  }
  return context;
}

TraceContext TraceContext::NewRoot() {
  TraceContext context;
  context.trace_id = NewId(kTraceIdLength / 2);
  context.span_id = NewId(kSpanIdLength / 2);
  context.flags = 1;
  return context;
}

TraceContext TraceContext::NewChildSpan() const {
  TraceContext child = *this;
  child.span_id = NewId(kSpanIdLength / 2);
  return child;
}

std::string TraceContext::ToTraceparent() const {
  return fmt::format("00-{}-{}-{:02x}", trace_id, span_id, flags);
}

const RequestContext* CurrentRequestContext() noexcept { return current_context; }

ScopedRequestContext::ScopedRequestContext(const RequestContext* context) noexcept
    : previous_(current_context) {
  current_context = context;
}

ScopedRequestContext::~ScopedRequestContext() { current_context = previous_; }

}  // namespace sg
