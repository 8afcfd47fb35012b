#include "plugins/gateway/errors.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

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

std::string ErrorEnvelopeJson(std::string_view code, std::string_view message,
                              std::string_view request_id) {
  boost::json::object error;
  error["code"] = code;
  error["message"] = message;
  error["request_id"] = request_id;
  boost::json::object envelope;
  envelope["error"] = std::move(error);
  return boost::json::serialize(envelope);
}

HttpResponse MakeErrorResponse(int status, std::string_view code, std::string_view message,
                               std::string_view request_id) {
  return HttpResponse::Json(status, ErrorEnvelopeJson(code, message, request_id));
}

HttpResponse MakeErrorResponse(const Error& error, std::string_view request_id) {
  return MakeErrorResponse(HttpStatusFor(error.code), ErrorCodeName(error.code), error.message,
                           request_id);
}

}  // namespace sg::plugins::gateway
