#include "core/api/result.h"

#include <cstdio>
#include <cstdlib>

namespace sg {

std::string_view ErrorCodeName(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kAlreadyExists:
      return "already_exists";
    case ErrorCode::kPermissionDenied:
      return "permission_denied";
    case ErrorCode::kUnauthenticated:
      return "unauthenticated";
    case ErrorCode::kResourceExhausted:
      return "resource_exhausted";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kInternal:
      return "internal";
  }
  // An out-of-range value cast into the enum is a bug elsewhere; still give a stable name.
  return "internal";
}

std::string Error::ToString() const { return fmt::format("{}: {}", ErrorCodeName(code), message); }

Error Error::WithContext(std::string_view prefix) const {
  return Error{code, fmt::format("{}: {}", prefix, message), details};
}

void CheckFailed(const char* file, int line, const char* condition, std::string_view why) noexcept {
  // Plain stdio: the logger may be the thing that is broken, and nothing here may throw.
  std::fprintf(stderr, "%s:%d: check failed: %s: %.*s\n", file, line, condition,
               static_cast<int>(why.size()), why.data());
  std::fflush(stderr);
  std::abort();
}

}  // namespace sg
