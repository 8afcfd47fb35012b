#pragma once
/// The JSON error envelope every gateway error response carries, and the mapping from
/// sg::ErrorCode to HTTP status (docs/errors.md). Beast-free so it is unit tested alone.
///
///   {"error":{"code":"not_found","message":"...","request_id":"..."}}

#include <string>
#include <string_view>

#include "core/api/result.h"
#include "core/api/services/http.h"

namespace sg::plugins::gateway {

/// HTTP-level error codes (not from a handler's Result).
inline constexpr std::string_view kCodeUnauthenticated = "unauthenticated";
inline constexpr std::string_view kCodeBadRequest = "bad_request";
inline constexpr std::string_view kCodeNotFound = "not_found";
inline constexpr std::string_view kCodeMethodNotAllowed = "method_not_allowed";
inline constexpr std::string_view kCodePayloadTooLarge = "payload_too_large";
inline constexpr std::string_view kCodeHeaderTooLarge = "header_too_large";
inline constexpr std::string_view kCodeRateLimited = "rate_limited";
inline constexpr std::string_view kCodeInternal = "internal";
inline constexpr std::string_view kCodeForbidden = "forbidden";

using sg::HttpStatusFor;  // the mapping lives in the API (core/api/services/http.h)

/// A complete `application/json` response holding the envelope with the request's id.
/// The envelope itself is built by sg::HttpResponse::Error (core), which handlers use
/// too, so there is exactly one encoder.
HttpResponse MakeErrorResponse(int status, std::string_view code, std::string_view message,
                               const HttpRequest& request);

/// The response for a handler's Result error: status from the code, code name from
/// sg::ErrorCodeName.
HttpResponse MakeErrorResponse(const Error& error, const HttpRequest& request);

}  // namespace sg::plugins::gateway
