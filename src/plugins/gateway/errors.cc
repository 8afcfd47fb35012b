#include "plugins/gateway/errors.h"

namespace sg::plugins::gateway {

HttpResponse MakeErrorResponse(int status, std::string_view code, std::string_view message,
                               const HttpRequest& request) {
  return HttpResponse::Error(status, code, message, request);
}

HttpResponse MakeErrorResponse(const Error& error, const HttpRequest& request) {
  return HttpResponse::Error(HttpStatusFor(error.code), ErrorCodeName(error.code), error.message,
                             error.details, request);
}

}  // namespace sg::plugins::gateway
