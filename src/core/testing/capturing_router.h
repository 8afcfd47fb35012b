#pragma once
/// An HttpRouter that keeps the routes, so a plugin's handler tests call its handlers
/// without sockets (the gateway's own tests cover HTTP).

#include <map>
#include <string>
#include <utility>

#include "core/api/services/http.h"

namespace sg::testing {

class CapturingRouter final : public HttpRouter {
 public:
  Result<> AddRoute(std::string method, std::string pattern, HttpHandler handler,
                    RouteOptions options) override {
    routes[method + " " + pattern] = {std::move(handler), std::move(options)};
    return {};
  }
  /// Calls the handler of "<METHOD> <pattern>" (throws std::out_of_range when absent).
  Result<HttpResponse> Call(const std::string& route, const HttpRequest& request = {}) {
    return routes.at(route).first(request);
  }
  std::map<std::string, std::pair<HttpHandler, RouteOptions>> routes;
};

/// The status a handler's result gets on the wire: its own, or the one docs/errors.md gives
/// the error code (the gateway applies it).
inline int StatusOf(const Result<HttpResponse>& result) {
  return result ? result->status : HttpStatusFor(result.error().code);
}

}  // namespace sg::testing
