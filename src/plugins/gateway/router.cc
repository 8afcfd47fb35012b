#include "plugins/gateway/router.h"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <map>
#include <set>

namespace sg::plugins::gateway {

struct Router::Node {
  std::map<std::string, std::unique_ptr<Node>, std::less<>> literals;
  std::unique_ptr<Node> param;
  std::map<std::string, std::shared_ptr<const Route>, std::less<>> routes;  // by method
};

namespace {

bool IsParamName(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) {
      return false;
    }
  }
  return true;
}

bool IsMethod(std::string_view method) {
  if (method.empty()) {
    return false;
  }
  for (char c : method) {
    if (c < 'A' || c > 'Z') {
      return false;
    }
  }
  return true;
}

struct PatternSegment {
  bool param = false;
  std::string text;  // literal text or parameter name
};

Result<std::vector<PatternSegment>> ParsePattern(std::string_view pattern) {
  if (pattern.empty() || pattern.front() != '/') {
    return MakeError(ErrorCode::kInvalidArgument, "route pattern \"{}\" must start with /",
                     pattern);
  }
  std::vector<PatternSegment> segments;
  if (pattern == "/") {
    return segments;
  }
  std::string_view rest = pattern.substr(1);
  std::set<std::string, std::less<>> names;
  while (true) {
    auto slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    if (segment.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "route pattern \"{}\" has an empty segment",
                       pattern);
    }
    if (segment.front() == '{') {
      if (segment.back() != '}' || !IsParamName(segment.substr(1, segment.size() - 2))) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "route pattern \"{}\": \"{}\" is not a {{name}} parameter "
                         "([A-Za-z_][A-Za-z0-9_]*, a whole segment)",
                         pattern, segment);
      }
      std::string name(segment.substr(1, segment.size() - 2));
      if (!names.insert(name).second) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "route pattern \"{}\" names parameter {} twice", pattern, name);
      }
      segments.push_back({true, std::move(name)});
    } else {
      if (segment.find_first_of("{}?#%") != std::string_view::npos || segment == "." ||
          segment == "..") {
        return MakeError(ErrorCode::kInvalidArgument,
                         "route pattern \"{}\": bad literal segment \"{}\"", pattern, segment);
      }
      segments.push_back({false, std::string(segment)});
    }
    if (slash == std::string_view::npos) {
      break;
    }
    rest = rest.substr(slash + 1);
  }
  return segments;
}

}  // namespace

Result<ParsedTarget> ParseRequestTarget(std::string_view target) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "request target is not an absolute path with an optional query");
  }
  const boost::urls::url_view& url = *parsed;
  ParsedTarget result;
  for (std::string segment : url.segments()) {
    if (segment.find('\0') != std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument, "request path contains a NUL byte");
    }
    if (segment == "." || segment == "..") {
      return MakeError(ErrorCode::kInvalidArgument,
                       "request path contains a \".\" or \"..\" segment");
    }
    result.path += '/';
    result.path += segment;
    result.segments.push_back(std::move(segment));
  }
  if (result.path.empty()) {
    result.path = "/";
  }
  for (auto param : url.params()) {
    result.query.emplace_back(std::string(param.key), std::string(param.value));
  }
  return result;
}

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;

Result<> Router::AddRoute(std::string method, std::string pattern, HttpHandler handler,
                          RouteOptions options) {
  if (!IsMethod(method)) {
    return MakeError(ErrorCode::kInvalidArgument, "route {}: \"{}\" is not an HTTP method", pattern,
                     method);
  }
  if (!handler) {
    return MakeError(ErrorCode::kInvalidArgument, "route {} {} has no handler", method, pattern);
  }
  SG_ASSIGN_OR_RETURN(auto segments, ParsePattern(pattern));
  if (options.rate_class != "read" && options.rate_class != "write" &&
      options.rate_class != "transfer" && options.rate_class != "none") {
    return MakeError(ErrorCode::kInvalidArgument,
                     "route {} {}: rate_class must be read, write, transfer or none, got \"{}\"",
                     method, pattern, options.rate_class);
  }

  std::lock_guard lock(mutex_);
  if (frozen()) {
    return MakeError(ErrorCode::kInternal,
                     "route {} {} added after the gateway started (add routes in Init)", method,
                     pattern);
  }
  auto route = std::make_shared<Route>();
  Node* node = root_.get();
  for (auto& segment : segments) {
    if (segment.param) {
      if (!node->param) {
        node->param = std::make_unique<Node>();
      }
      node = node->param.get();
      route->param_names.push_back(std::move(segment.text));
    } else {
      auto& child = node->literals[segment.text];
      if (!child) {
        child = std::make_unique<Node>();
      }
      node = child.get();
    }
  }
  if (node->routes.count(method) != 0) {
    return MakeError(ErrorCode::kAlreadyExists, "route {} {} is already registered", method,
                     pattern);
  }
  route->method = method;
  route->label = options.metric_name.empty() ? pattern : options.metric_name;
  route->pattern = std::move(pattern);
  route->handler = std::move(handler);
  route->options = std::move(options);
  node->routes.emplace(std::move(method), std::move(route));
  return {};
}

void Router::Freeze() noexcept {
  std::lock_guard lock(mutex_);
  frozen_.store(true, std::memory_order_release);
}

RouteMatch Router::Match(std::string_view method, const std::vector<std::string>& segments) const {
  if (frozen()) {
    return MatchLocked(method, segments);
  }
  std::lock_guard lock(mutex_);
  return MatchLocked(method, segments);
}

RouteMatch Router::MatchLocked(std::string_view method,
                               const std::vector<std::string>& segments) const {
  // Depth-first in precedence order (literal before parameter); every node reached at the
  // end of the path is a candidate. The first candidate with the method wins.
  struct Candidate {
    const Node* node;
    std::vector<const std::string*> values;
  };
  std::vector<Candidate> candidates;
  std::vector<const std::string*> values;
  auto walk = [&](auto& self, const Node* node, std::size_t depth) -> void {
    if (depth == segments.size()) {
      if (!node->routes.empty()) {
        candidates.push_back({node, values});
      }
      return;
    }
    const std::string& segment = segments[depth];
    if (auto it = node->literals.find(segment); it != node->literals.end()) {
      self(self, it->second.get(), depth + 1);
    }
    if (node->param && !segment.empty()) {
      values.push_back(&segment);
      self(self, node->param.get(), depth + 1);
      values.pop_back();
    }
  };
  walk(walk, root_.get(), 0);

  RouteMatch match;
  if (candidates.empty()) {
    match.kind = RouteMatch::Kind::kNotFound;
    return match;
  }
  auto found = [&](const Candidate& candidate, const std::shared_ptr<const Route>& route,
                   bool head_via_get) {
    match.kind = RouteMatch::Kind::kFound;
    match.route = route;
    match.head_via_get = head_via_get;
    for (std::size_t i = 0; i < route->param_names.size() && i < candidate.values.size(); ++i) {
      match.params.emplace_back(route->param_names[i], *candidate.values[i]);
    }
    return match;
  };
  for (const auto& candidate : candidates) {
    if (auto it = candidate.node->routes.find(method); it != candidate.node->routes.end()) {
      return found(candidate, it->second, false);
    }
    if (method == "HEAD") {
      if (auto it = candidate.node->routes.find("GET"); it != candidate.node->routes.end()) {
        return found(candidate, it->second, true);
      }
    }
  }
  std::set<std::string, std::less<>> allowed;
  for (const auto& candidate : candidates) {
    for (const auto& [name, route] : candidate.node->routes) {
      allowed.insert(name);
      if (name == "GET") {
        allowed.insert("HEAD");
      }
    }
  }
  match.kind = RouteMatch::Kind::kMethodNotAllowed;
  for (const auto& name : allowed) {
    if (!match.allow.empty()) {
      match.allow += ", ";
    }
    match.allow += name;
  }
  return match;
}

}  // namespace sg::plugins::gateway
