#include "support/eth/rfc3339.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <limits>

namespace sg::eth {
namespace {

bool IsDigit(char c) noexcept { return c >= '0' && c <= '9'; }

// Reads exactly `count` digits at `pos`; false when any is not a digit or the text ends.
bool ReadDigits(std::string_view text, std::size_t pos, std::size_t count, int& value) {
  if (pos + count > text.size()) {
    return false;
  }
  value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (!IsDigit(text[i])) {
      return false;
    }
    value = value * 10 + (text[i] - '0');
  }
  return true;
}

bool Expect(std::string_view text, std::size_t pos, char c) {
  return pos < text.size() && text[pos] == c;
}

}  // namespace

Result<WallTime> ParseRfc3339(std::string_view text) {
  using namespace std::chrono;
  constexpr std::string_view kShape = "expected YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm|-hh:mm)";
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!ReadDigits(text, 0, 4, year) || !Expect(text, 4, '-') || !ReadDigits(text, 5, 2, month) ||
      !Expect(text, 7, '-') || !ReadDigits(text, 8, 2, day) ||
      !(Expect(text, 10, 'T') || Expect(text, 10, 't')) || !ReadDigits(text, 11, 2, hour) ||
      !Expect(text, 13, ':') || !ReadDigits(text, 14, 2, minute) || !Expect(text, 16, ':') ||
      !ReadDigits(text, 17, 2, second)) {
    return MakeError(ErrorCode::kInvalidArgument, "not an RFC 3339 date-time: {}", kShape);
  }
  std::size_t pos = 19;
  std::int64_t nanos = 0;
  if (Expect(text, pos, '.')) {
    ++pos;
    std::size_t first = pos;
    std::int64_t scale = 100'000'000;
    while (pos < text.size() && IsDigit(text[pos])) {
      nanos += (text[pos] - '0') * scale;
      scale /= 10;  // reaches 0 after nine digits: later digits are read but ignored
      ++pos;
    }
    if (pos == first) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "not an RFC 3339 date-time: a '.' must be followed by digits");
    }
  }
  int offset_minutes = 0;
  if (Expect(text, pos, 'Z') || Expect(text, pos, 'z')) {
    ++pos;
  } else if (Expect(text, pos, '+') || Expect(text, pos, '-')) {
    int sign = text[pos] == '-' ? -1 : 1;
    int offset_hour = 0;
    int offset_minute = 0;
    if (!ReadDigits(text, pos + 1, 2, offset_hour) || !Expect(text, pos + 3, ':') ||
        !ReadDigits(text, pos + 4, 2, offset_minute)) {
      return MakeError(ErrorCode::kInvalidArgument, "not an RFC 3339 date-time: {}", kShape);
    }
    if (offset_hour > 23 || offset_minute > 59) {
      return MakeError(ErrorCode::kInvalidArgument, "RFC 3339 date-time: offset out of range");
    }
    offset_minutes = sign * (offset_hour * 60 + offset_minute);
    pos += 6;
  } else {
    return MakeError(ErrorCode::kInvalidArgument,
                     "not an RFC 3339 date-time: missing time zone (Z or +hh:mm)");
  }
  if (pos != text.size()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "not an RFC 3339 date-time: unexpected characters after the time zone");
  }
  year_month_day date{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                      std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "RFC 3339 date-time: no such date {:04}-{:02}-{:02}", year, month, day);
  }
  if (hour > 23 || minute > 59 || second > 60) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "RFC 3339 date-time: time {:02}:{:02}:{:02} out of "
                     "range",
                     hour, minute, second);
  }
  // Seconds since the epoch cannot overflow for 4-digit years; WallTime (nanoseconds) can.
  std::int64_t epoch_seconds = sys_days(date).time_since_epoch().count() * 86'400LL +
                               hour * 3'600LL + minute * 60LL + second - offset_minutes * 60LL;
  constexpr std::int64_t kMaxSeconds =
      std::numeric_limits<WallTime::duration::rep>::max() / 1'000'000'000LL - 1;
  if (epoch_seconds > kMaxSeconds || epoch_seconds < -kMaxSeconds) {
    return MakeError(ErrorCode::kInvalidArgument, "RFC 3339 date-time: year {} out of range", year);
  }
  return WallTime(duration_cast<WallTime::duration>(std::chrono::seconds(epoch_seconds) +
                                                    std::chrono::nanoseconds(nanos)));
}

std::string FormatRfc3339Exact(WallTime time) {
  using namespace std::chrono;
  auto since_epoch = duration_cast<nanoseconds>(time.time_since_epoch());
  auto days = floor<std::chrono::days>(since_epoch);
  year_month_day date{sys_days(days)};
  auto in_day = since_epoch - days;  // [0, 24h)
  auto seconds_in_day = duration_cast<std::chrono::seconds>(in_day);
  std::int64_t nanos = (in_day - seconds_in_day).count();
  std::int64_t total = seconds_in_day.count();
  std::string out =
      fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(date.year()),
                  static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                  total / 3600, (total / 60) % 60, total % 60);
  if (nanos != 0) {
    std::string fraction = fmt::format("{:09}", nanos);
    fraction.erase(fraction.find_last_not_of('0') + 1);
    out += '.';
    out += fraction;
  }
  out += 'Z';
  return out;
}

}  // namespace sg::eth
