#include "plugins/gateway/errors.h"

namespace sg::plugins::gateway {

int HttpStatusFor(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kAlreadyExists:
      return 409;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kResourceExhausted:
      return 429;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

HttpResponse MakeErrorResponse(int status, std::string_view code, std::string_view message,
                               const HttpRequest& request) {
  return HttpResponse::Error(status, code, message, request);
}

HttpResponse MakeErrorResponse(const Error& error, const HttpRequest& request) {
  return MakeErrorResponse(HttpStatusFor(error.code), ErrorCodeName(error.code), error.message,
                           request);
}

}  // namespace sg::plugins::gateway
