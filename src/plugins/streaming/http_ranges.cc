#include "plugins/streaming/http_ranges.h"

#include <fmt/format.h>

#include <charconv>
#include <limits>

#include "core/api/services/http.h"

namespace sg::plugins::streaming {
namespace {

// Digits only (no sign, no spaces); false on overflow, so "99999999999999999999" is not a
// number rather than a huge one.
bool ParseNumber(std::string_view text, std::uint64_t& value) {
  if (text.empty()) {
    return false;
  }
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

RangeDecision ParseRange(std::string_view header, std::uint64_t length) {
  RangeDecision whole;
  header = TrimOws(header);
  if (!header.starts_with("bytes=")) {
    return whole;  // another unit, or malformed: ignored
  }
  std::string_view spec = TrimOws(header.substr(6));
  if (spec.find(',') != std::string_view::npos) {
    return whole;  // several ranges: the whole object (documented)
  }
  auto dash = spec.find('-');
  if (dash == std::string_view::npos) {
    return whole;
  }
  std::string_view first_text = TrimOws(spec.substr(0, dash));
  std::string_view last_text = TrimOws(spec.substr(dash + 1));
  RangeDecision partial{.kind = RangeKind::kPartial};
  RangeDecision unsatisfiable{.kind = RangeKind::kUnsatisfiable};
  if (first_text.empty()) {
    // Suffix: the last N bytes.
    std::uint64_t suffix = 0;
    if (!ParseNumber(last_text, suffix)) {
      return whole;
    }
    if (suffix == 0 || length == 0) {
      return unsatisfiable;
    }
    std::uint64_t take = std::min(suffix, length);
    partial.span = {length - take, length - 1};
    return partial;
  }
  std::uint64_t first = 0;
  if (!ParseNumber(first_text, first)) {
    return whole;
  }
  std::uint64_t last = std::numeric_limits<std::uint64_t>::max();
  if (!last_text.empty()) {
    if (!ParseNumber(last_text, last)) {
      return whole;
    }
    if (last < first) {
      return whole;  // syntactically invalid: ignored
    }
  }
  if (first >= length) {
    return unsatisfiable;
  }
  partial.span = {first, std::min(last, length - 1)};
  return partial;
}

std::string ContentRangeHeader(const RangeDecision& decision, std::uint64_t length) {
  if (decision.kind == RangeKind::kPartial) {
    return fmt::format("bytes {}-{}/{}", decision.span.first, decision.span.last, length);
  }
  return fmt::format("bytes */{}", length);
}

bool RangeStillValid(std::optional<std::string_view> if_range, std::string_view etag,
                     WallTime last_modified) {
  if (!if_range) {
    return true;
  }
  std::string_view value = TrimOws(*if_range);
  if (value.starts_with("\"") || value.starts_with("W/")) {
    // Strong comparison: a weak tag never matches.
    return !value.starts_with("W/") && value == etag;
  }
  auto date = ParseHttpDate(value);
  return date && std::chrono::floor<std::chrono::seconds>(last_modified) == *date;
}

}  // namespace sg::plugins::streaming
