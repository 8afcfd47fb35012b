#pragma once
/// The one result type of StreamGate and its error policy (docs/errors.md).
///
/// Expected failures (bad input, missing things, unreachable peers) are returned as
/// `Result<T>`; bugs are `SG_CHECK` and abort. Library exceptions are caught at the
/// module edge and turned into `Error`; none crosses a plugin boundary.

#include <fmt/format.h>

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

namespace sg {

/// Error categories; the HTTP layer maps each to one status (docs/errors.md).
enum class ErrorCode {
  kInvalidArgument,    ///< 400: the caller sent something malformed.
  kNotFound,           ///< 404
  kAlreadyExists,      ///< 409: conflicts with what is stored.
  kPermissionDenied,   ///< 403
  kUnauthenticated,    ///< 401
  kResourceExhausted,  ///< 429 (or 413 where the HTTP layer knows it is a size)
  kUnavailable,        ///< 503: a dependency cannot be reached now; retry later.
  kInternal,           ///< 500: our fault.
};

/// Stable lower_snake name of a code, used in the JSON error envelope.
std::string_view ErrorCodeName(ErrorCode code) noexcept;

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  /// Optional machine-readable detail as JSON text (empty = none), sent to the client as
  /// "details" in the error envelope: e.g. which access conditions failed and what would
  /// satisfy them. Never put secrets here.
  std::string details;

  /// "not_found: content abc does not exist"
  std::string ToString() const;
  /// Returns a copy whose message is "<prefix>: <message>" (adds context while bubbling up).
  Error WithContext(std::string_view prefix) const;
};

template <class T = void>
using Result = tl::expected<T, Error>;

/// Builds a failed Result: `return sg::MakeError(ErrorCode::kNotFound, "no upload {}", id);`
template <class... Args>
tl::unexpected<Error> MakeError(ErrorCode code, fmt::format_string<Args...> format,
                                Args&&... args) {
  return tl::unexpected<Error>(Error{code, fmt::format(format, std::forward<Args>(args)...)});
}

inline tl::unexpected<Error> MakeError(Error error) {
  return tl::unexpected<Error>(std::move(error));
}

/// Reports a broken invariant (a bug, never a client's input) and aborts.
[[noreturn]] void CheckFailed(const char* file, int line, const char* condition,
                              std::string_view why) noexcept;

}  // namespace sg

/// Returns the error of `expr` (a Result) from the enclosing function.
#define SG_RETURN_IF_ERROR(expr)                                           \
  do {                                                                     \
    auto sg_result_ = (expr);                                              \
    if (!sg_result_) {                                                     \
      return ::tl::unexpected<::sg::Error>(std::move(sg_result_).error()); \
    }                                                                      \
  } while (false)

#define SG_CONCAT_INNER_(a, b) a##b
#define SG_CONCAT_(a, b) SG_CONCAT_INNER_(a, b)
#define SG_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)                 \
  auto tmp = (expr);                                              \
  if (!tmp) {                                                     \
    return ::tl::unexpected<::sg::Error>(std::move(tmp).error()); \
  }                                                               \
  lhs = std::move(*tmp)

/// `SG_ASSIGN_OR_RETURN(auto value, ParseThing(text));`
#define SG_ASSIGN_OR_RETURN(lhs, expr) \
  SG_ASSIGN_OR_RETURN_IMPL_(SG_CONCAT_(sg_assign_or_return_, __LINE__), lhs, expr)

/// Aborts with a message when an internal invariant does not hold.
#define SG_CHECK(cond, why)                                \
  do {                                                     \
    if (!(cond)) {                                         \
      ::sg::CheckFailed(__FILE__, __LINE__, #cond, (why)); \
    }                                                      \
  } while (false)
