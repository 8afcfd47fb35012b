#pragma once
/// The gateway's HttpRouter: a trie of path segments. Literal segments win over `{name}`
/// parameters; when the literal branch has no route for the method, the parameter branch
/// is tried before answering 405. GET routes also answer HEAD. Routes are added during
/// Init (from any plugin) and frozen when the gateway starts; matching a frozen router
/// takes no lock.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/api/result.h"
#include "core/api/services/http.h"

namespace sg::plugins::gateway {

struct Route {
  std::string method;
  std::string pattern;
  HttpHandler handler;
  RouteOptions options;
  /// Name of each `{param}` in pattern order.
  std::vector<std::string> param_names;
  /// RouteOptions.metric_name, or the pattern.
  std::string label;
};

/// A request target split by Boost.URL (origin-form only).
struct ParsedTarget {
  std::vector<std::string> segments;                       ///< each percent-decoded on its own
  std::string path;                                        ///< "/" + segments joined by "/"
  std::vector<std::pair<std::string, std::string>> query;  ///< decoded ('+' = space)
};

/// kInvalidArgument for anything but origin-form ("/path?query"), invalid percent
/// encoding, a NUL byte in the path, or a "." / ".." segment (also when encoded).
Result<ParsedTarget> ParseRequestTarget(std::string_view target);

struct RouteMatch {
  enum class Kind { kFound, kNotFound, kMethodNotAllowed };
  Kind kind = Kind::kNotFound;
  std::shared_ptr<const Route> route;
  std::vector<std::pair<std::string, std::string>> params;
  /// For kMethodNotAllowed: the `Allow` header value ("GET, HEAD, POST").
  std::string allow;
  /// The request is HEAD answered by a GET route (the body must be dropped).
  bool head_via_get = false;
};

class Router final : public HttpRouter {
 public:
  Router();
  ~Router() override;

  Result<> AddRoute(std::string method, std::string pattern, HttpHandler handler,
                    RouteOptions options = {}) override;

  RouteMatch Match(std::string_view method, const std::vector<std::string>& segments) const;

  /// After this, AddRoute fails with kInternal. Idempotent.
  void Freeze() noexcept;
  bool frozen() const noexcept { return frozen_.load(std::memory_order_acquire); }

 private:
  struct Node;
  RouteMatch MatchLocked(std::string_view method, const std::vector<std::string>& segments) const;

  mutable std::mutex mutex_;  // guards the trie until frozen
  std::atomic<bool> frozen_{false};
  std::unique_ptr<Node> root_;
};

}  // namespace sg::plugins::gateway
