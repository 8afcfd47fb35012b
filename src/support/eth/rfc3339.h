#pragma once
/// RFC 3339 §5.6 `date-time` with every option the grammar allows (any offset, any number
/// of fractional digits, lower-case "t"/"z"), as EIP-4361 timestamps need; core/api/clock.h
/// only formats the one canonical form of the JSON APIs.

#include <string>
#include <string_view>

#include "core/api/clock.h"
#include "core/api/result.h"

namespace sg::eth {

/// Parses `full-date "T" full-time`, e.g. "2021-09-30T16:25:24Z",
/// "2021-09-30T18:25:24.123+02:00". Checks field ranges (the day against its month and leap
/// years; second 60 is allowed, as RFC 3339 allows leap seconds, and counts as the next
/// minute's 00). Fractional digits beyond nanoseconds are ignored. kInvalidArgument naming
/// the problem for anything else, including times outside WallTime's range (about
/// 1678..2261).
Result<WallTime> ParseRfc3339(std::string_view text);

/// UTC with "Z", seconds, and only as many fractional digits as needed (none for a whole
/// second): "2021-09-30T16:25:24Z", "2021-09-30T16:25:24.5Z". ParseRfc3339 reads it back
/// exactly.
std::string FormatRfc3339Exact(WallTime time);

}  // namespace sg::eth
