#pragma once
/// HTTP semantics of serving a stored object (RFC 9110 §13, §14): conditional requests and
/// byte ranges, as pure functions so every case is a table test.
///
/// Decisions documented in the streaming README:
/// - One range → 206 with Content-Range. Several ranges ("0-1,5-6") → the whole object with
///   200 (allowed by RFC 9110 §14.2: a server may ignore Range); multipart/byteranges is not
///   produced (no player asks for it).
/// - A malformed Range header is ignored (200), as RFC 9110 requires; a well-formed range
///   that starts at or beyond the end → 416 with `Content-Range: bytes */<length>`.
/// - If-None-Match (weak comparison) wins over If-Modified-Since; a match → 304.
/// - If-Range with an ETag (strong comparison) or an HTTP date that does not match → the
///   Range is ignored (200 with the whole, current object).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/api/clock.h"

namespace sg::plugins::streaming {

struct ByteSpan {
  std::uint64_t first = 0;  ///< inclusive
  std::uint64_t last = 0;   ///< inclusive
  std::uint64_t size() const { return last - first + 1; }
};

enum class RangeKind {
  kWhole,          ///< no usable Range: send everything (200)
  kPartial,        ///< one satisfiable range (206)
  kUnsatisfiable,  ///< 416
};

struct RangeDecision {
  RangeKind kind = RangeKind::kWhole;
  ByteSpan span;  ///< for kPartial
};

/// Interprets one Range header value against an object of `length` bytes.
RangeDecision ParseRange(std::string_view header, std::uint64_t length);

/// "bytes 0-99/1000"; for unsatisfiable ranges "bytes */1000".
std::string ContentRangeHeader(const RangeDecision& decision, std::uint64_t length);

/// Whether a Range may be honoured given If-Range (absent → yes).
bool RangeStillValid(std::optional<std::string_view> if_range, std::string_view etag,
                     WallTime last_modified);

}  // namespace sg::plugins::streaming
