#include "plugins/gateway/pipeline.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <exception>

#include "core/api/random.h"
#include "core/api/request_context.h"
#include "plugins/gateway/errors.h"

namespace sg::plugins::gateway {
namespace {

std::string Join(const std::vector<std::string>& values) {
  std::string joined;
  for (const auto& value : values) {
    if (!joined.empty()) {
      joined += ", ";
    }
    joined += value;
  }
  return joined;
}

// Bounded label values: an attacker must not mint a new series per request.
std::string_view MethodLabel(std::string_view method) {
  static constexpr std::string_view kKnown[] = {"GET",   "HEAD",   "POST",   "PUT",
                                                "PATCH", "DELETE", "OPTIONS"};
  for (auto known : kKnown) {
    if (method == known) {
      return known;
    }
  }
  return "other";
}

bool IsBodylessStatus(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

std::int64_t CeilSeconds(std::chrono::milliseconds duration) {
  return (duration.count() + 999) / 1000;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) {
             return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
           };
           return lower(x) == lower(y);
         });
}

void EraseHeader(HttpHeaders& headers, std::string_view name) {
  headers.erase(std::remove_if(headers.begin(), headers.end(),
                               [&](const auto& h) { return EqualsIgnoreCase(h.first, name); }),
                headers.end());
}

// The path for log lines; requests answered before the target was parsed (preflight,
// 400) show the raw target without its query. A path parameter named `token` is a
// credential (a playback token): log lines show `REDACTED` in its place.
std::string LoggedPath(const HttpRequest& request) {
  if (request.path.empty()) {
    if (request.target.empty()) {
      return "-";
    }
    return std::string(std::string_view(request.target).substr(0, request.target.find('?')));
  }
  std::string path = request.path;
  for (const auto& [name, value] : request.path_params) {
    if (name != "token" || value.empty()) {
      continue;
    }
    for (auto at = path.find("/" + value); at != std::string::npos;
         at = path.find("/" + value, at + 1)) {
      path.replace(at + 1, value.size(), "REDACTED");
    }
  }
  return path;
}

}  // namespace

bool IsValidRequestId(std::string_view id) noexcept {
  if (id.empty() || id.size() > 128) {
    return false;
  }
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::shared_ptr<const Settings> MakeSettings(const GatewayConfig& config) {
  auto settings = std::make_shared<Settings>();
  settings->access_log = config.access_log;
  settings->allowed_origins = config.cors.allowed_origins;
  settings->any_origin =
      std::find(settings->allowed_origins.begin(), settings->allowed_origins.end(), "*") !=
      settings->allowed_origins.end();
  settings->allow_methods = Join(config.cors.allowed_methods);
  settings->allow_headers = Join(config.cors.allowed_headers);
  settings->expose_headers = Join(config.cors.exposed_headers);
  settings->max_age_seconds =
      std::to_string(std::chrono::duration_cast<std::chrono::seconds>(config.cors.max_age).count());
  settings->rate_limit_enabled = config.rate_limit.enabled;
  settings->read = RateLimitRule{config.rate_limit.read.rate, config.rate_limit.read.burst};
  settings->write = RateLimitRule{config.rate_limit.write.rate, config.rate_limit.write.burst};
  settings->transfer =
      RateLimitRule{config.rate_limit.transfer.rate, config.rate_limit.transfer.burst};
  return settings;
}

GatewayMetrics::GatewayMetrics(MetricsRegistry& registry)
    : requests(registry.CounterFamily("streamgate_http_requests_total",
                                      "HTTP requests answered, by route, method and status",
                                      {"route", "method", "status"})),
      duration(registry.HistogramFamily("streamgate_http_request_duration_seconds",
                                        "Time from request head to response, by route", {"route"},
                                        DefaultLatencyBuckets())),
      in_flight(
          registry
              .GaugeFamily("streamgate_http_requests_in_flight", "HTTP requests being handled now")
              .WithLabels({})),
      connections_open(
          registry.GaugeFamily("streamgate_http_connections_open", "Open HTTP connections")
              .WithLabels({})),
      rate_limited(registry.CounterFamily("streamgate_http_rate_limited_total",
                                          "Requests refused with 429, by rate-limit class",
                                          {"class"})),
      handler_exceptions(registry
                             .CounterFamily("streamgate_http_handler_exceptions_total",
                                            "Exceptions that escaped an HTTP handler (500)")
                             .WithLabels({})),
      connections_rejected(registry
                               .CounterFamily("streamgate_http_connections_rejected_total",
                                              "Connections closed at once: max_connections "
                                              "reached or draining")
                               .WithLabels({})) {}

RequestPipeline::RequestPipeline(std::shared_ptr<Router> router,
                                 std::shared_ptr<RateLimiter> limiter, GatewayMetrics& metrics,
                                 std::shared_ptr<spdlog::logger> logger, const Clock& clock,
                                 std::size_t default_max_body,
                                 std::shared_ptr<const Settings> settings)
    : router_(std::move(router)),
      limiter_(std::move(limiter)),
      metrics_(metrics),
      logger_(std::move(logger)),
      clock_(clock),
      default_max_body_(default_max_body),
      settings_(std::move(settings)) {}

void RequestPipeline::SetSettings(std::shared_ptr<const Settings> settings) noexcept {
  settings_.store(std::move(settings));
}

std::shared_ptr<const Settings> RequestPipeline::settings() const noexcept {
  return settings_.load();
}

void RequestPipeline::BeginUnparsed(Exchange& exchange, std::string remote_ip) const {
  exchange.started = clock_.Now();
  exchange.settings = settings();
  exchange.in_flight.Arm(metrics_.in_flight);
  exchange.request.remote_ip = std::move(remote_ip);
  exchange.request.context.request_id = UniqueHex(8);
  exchange.request.context.trace = TraceContext::NewRoot().NewChildSpan();
}

void RequestPipeline::SetAuthenticator(std::shared_ptr<Authenticator> authenticator) noexcept {
  authenticator_ = std::move(authenticator);
}

void RequestPipeline::Begin(Exchange& exchange, std::string method, std::string target,
                            HttpHeaders headers, std::string remote_ip) const {
  exchange.started = clock_.Now();
  exchange.settings = settings();
  exchange.in_flight.Arm(metrics_.in_flight);
  HttpRequest& request = exchange.request;
  request.method = std::move(method);
  request.target = std::move(target);
  request.headers = std::move(headers);
  request.remote_ip = std::move(remote_ip);
  exchange.head = request.method == "HEAD";

  auto incoming_id = request.Header("X-Request-Id");
  request.context.request_id =
      incoming_id && IsValidRequestId(*incoming_id) ? std::string(*incoming_id) : UniqueHex(8);
  std::optional<TraceContext> parent;
  if (auto traceparent = request.Header("traceparent")) {
    parent = TraceContext::Parse(*traceparent);
  }
  request.context.trace = (parent ? *parent : TraceContext::NewRoot()).NewChildSpan();
  ScopedRequestContext scope(&request.context);

  const Settings& settings = *exchange.settings;
  if (!ApplyCors(exchange, settings)) {
    return;
  }

  auto parsed = ParseRequestTarget(request.target);
  if (!parsed) {
    exchange.early = Error(exchange, 400, kCodeBadRequest, parsed.error().message);
    return;
  }
  request.path = std::move(parsed->path);
  request.query = std::move(parsed->query);

  RouteMatch match = router_->Match(request.method, parsed->segments);
  if (match.kind == RouteMatch::Kind::kFound) {
    exchange.route = match.route;
    exchange.route_label = match.route->label;
    request.path_params = std::move(match.params);
  }
  if (!ApplyRateLimit(exchange, settings)) {
    return;
  }
  // Before 404/405: a client with a bad credential learns that first, whatever the path.
  if (!ApplyAuthentication(exchange)) {
    return;
  }
  if (match.kind == RouteMatch::Kind::kNotFound) {
    exchange.early =
        Error(exchange, 404, kCodeNotFound, fmt::format("no route for {}", request.path));
    return;
  }
  if (match.kind == RouteMatch::Kind::kMethodNotAllowed) {
    exchange.early = Error(exchange, 405, kCodeMethodNotAllowed,
                           fmt::format("{} is not allowed on {}; allowed: {}", request.method,
                                       request.path, match.allow));
    exchange.early->SetHeader("Allow", match.allow);
    return;
  }
  // A route without its own limit gets the configured default.
  const RouteOptions& options = exchange.route->options;
  exchange.body_limit = options.max_body_bytes.value_or(default_max_body_);
  exchange.stream_body = options.stream_body;
  exchange.blocking = options.blocking || options.stream_body;
}

bool RequestPipeline::ApplyAuthentication(Exchange& exchange) const {
  HttpRequest& request = exchange.request;
  if (!authenticator_ || !request.Header("Authorization")) {
    return true;  // anonymous: the default Principal
  }
  Result<Principal> principal = MakeError(ErrorCode::kInternal, "authenticator did not run");
  try {
    principal = authenticator_->Authenticate(request);
  } catch (const std::exception& e) {
    principal = MakeError(ErrorCode::kInternal, "authenticator threw: {}", e.what());
  } catch (...) {
    principal = MakeError(ErrorCode::kInternal, "authenticator threw a non-standard exception");
  }
  if (principal) {
    request.principal = std::move(*principal);
    return true;
  }
  const sg::Error& error = principal.error();
  exchange.error_detail = error.ToString();
  if (error.code == ErrorCode::kUnauthenticated) {
    exchange.early = MakeErrorResponse(401, kCodeUnauthenticated, error.message, request);
    // RFC 9110 11.6.1: a 401 names the scheme the client should use.
    exchange.early->SetHeader("WWW-Authenticate", "Bearer");
    return false;
  }
  if (error.code == ErrorCode::kInternal) {
    exchange.early = MakeErrorResponse(
        500, kCodeInternal,
        fmt::format("internal error (request id {})", request.context.request_id), request);
    return false;
  }
  exchange.early = MakeErrorResponse(error, request);
  return false;
}

bool RequestPipeline::ApplyCors(Exchange& exchange, const Settings& settings) const {
  const HttpRequest& request = exchange.request;
  auto origin = request.Header("Origin");
  if (!origin) {
    return true;
  }
  bool allowed = settings.any_origin ||
                 std::find(settings.allowed_origins.begin(), settings.allowed_origins.end(),
                           *origin) != settings.allowed_origins.end();
  std::string allow_origin = settings.any_origin ? std::string("*") : std::string(*origin);
  bool preflight =
      request.method == "OPTIONS" && request.Header("Access-Control-Request-Method").has_value();
  if (preflight) {
    if (!allowed) {
      exchange.early =
          Error(exchange, 403, kCodeForbidden, fmt::format("origin {} is not allowed", *origin));
      return false;
    }
    // Answered here: no handler, no rate limit (browsers send these on their own).
    HttpResponse response;
    response.status = 204;
    response.headers = {{"Access-Control-Allow-Origin", allow_origin},
                        {"Vary", "Origin"},
                        {"Access-Control-Allow-Methods", settings.allow_methods},
                        {"Access-Control-Allow-Headers", settings.allow_headers},
                        {"Access-Control-Max-Age", settings.max_age_seconds}};
    exchange.early = std::move(response);
    return false;
  }
  if (allowed) {
    exchange.extra_headers.emplace_back("Access-Control-Allow-Origin", allow_origin);
    exchange.extra_headers.emplace_back("Vary", "Origin");
    exchange.extra_headers.emplace_back("Access-Control-Expose-Headers", settings.expose_headers);
  }
  return true;
}

bool RequestPipeline::ApplyRateLimit(Exchange& exchange, const Settings& settings) const {
  // Unmatched requests count as reads, so scanners probing paths are limited too.
  std::string_view rate_class = exchange.route
                                    ? std::string_view(exchange.route->options.rate_class)
                                    : std::string_view("read");
  if (!settings.rate_limit_enabled || rate_class == "none") {
    return true;
  }
  const RateLimitRule& rule = rate_class == "write"      ? settings.write
                              : rate_class == "transfer" ? settings.transfer
                                                         : settings.read;
  std::string key = fmt::format("{}|{}", rate_class, exchange.request.remote_ip);
  RateLimitDecision decision = limiter_->Take(key, rule);
  exchange.extra_headers.emplace_back("RateLimit-Limit",
                                      std::to_string(std::llround(decision.limit)));
  exchange.extra_headers.emplace_back(
      "RateLimit-Remaining", std::to_string(static_cast<std::int64_t>(decision.remaining)));
  exchange.extra_headers.emplace_back("RateLimit-Reset",
                                      std::to_string(CeilSeconds(decision.reset)));
  if (decision.allowed) {
    return true;
  }
  metrics_.rate_limited.WithLabels({rate_class}).Inc();
  std::int64_t retry = std::max<std::int64_t>(1, CeilSeconds(decision.retry_after));
  exchange.early = Error(exchange, 429, kCodeRateLimited,
                         fmt::format("too many {} requests from {}; retry in {} s", rate_class,
                                     exchange.request.remote_ip, retry));
  exchange.early->SetHeader("Retry-After", std::to_string(retry));
  return false;
}

HttpResponse RequestPipeline::Invoke(Exchange& exchange) const noexcept {
  const std::string& request_id = exchange.request.context.request_id;
  ScopedRequestContext scope(&exchange.request.context);
  try {
    auto result = exchange.route->handler(exchange.request);
    if (result) {
      return std::move(*result);
    }
    const sg::Error& error = result.error();
    if (error.code == ErrorCode::kInternal) {
      // Internal messages may name files or peers: log them, show the client the id only.
      exchange.error_detail = error.ToString();
      return MakeErrorResponse(500, ErrorCodeName(error.code),
                               fmt::format("internal error (request id {})", request_id),
                               exchange.request);
    }
    exchange.error_detail = error.ToString();
    return MakeErrorResponse(error, exchange.request);
  } catch (const std::exception& e) {
    metrics_.handler_exceptions.Inc();
    exchange.error_detail = fmt::format("handler {} {} threw: {}", exchange.route->method,
                                        exchange.route->pattern, e.what());
  } catch (...) {
    metrics_.handler_exceptions.Inc();
    exchange.error_detail = fmt::format("handler {} {} threw a non-standard exception",
                                        exchange.route->method, exchange.route->pattern);
  }
  try {
    return MakeErrorResponse(500, kCodeInternal,
                             fmt::format("internal error (request id {})", request_id),
                             exchange.request);
  } catch (...) {
    // Out of memory while building the envelope: an empty 500 still tells the truth.
    HttpResponse response;
    response.status = 500;
    return response;
  }
}

HttpResponse RequestPipeline::Error(Exchange& exchange, int status, std::string_view code,
                                    std::string_view message) const {
  exchange.error_detail = fmt::format("{}: {}", code, message);
  return MakeErrorResponse(status, code, message, exchange.request);
}

FinalResponse RequestPipeline::Finish(Exchange& exchange, HttpResponse response) const {
  ScopedRequestContext scope(&exchange.request.context);
  FinalResponse final_response;
  if (response.status < 200 || response.status > 599) {
    // 1xx and out-of-range codes are not final responses this server can frame.
    exchange.error_detail = fmt::format("handler returned status {}", response.status);
    response = MakeErrorResponse(
        500, kCodeInternal,
        fmt::format("internal error (request id {})", exchange.request.context.request_id),
        exchange.request);
  }
  response.SetHeader("X-Request-Id", exchange.request.context.request_id);
  response.SetHeader("Server", "streamgate");
  for (auto& [name, value] : exchange.extra_headers) {
    auto existing = response.headers.end();
    for (auto it = response.headers.begin(); it != response.headers.end(); ++it) {
      if (EqualsIgnoreCase(it->first, name)) {
        existing = it;
        break;
      }
    }
    if (existing == response.headers.end()) {
      response.headers.emplace_back(name, value);
    } else if (EqualsIgnoreCase(name, "Vary") &&
               existing->second.find("Origin") == std::string::npos) {
      existing->second += ", Origin";
    }
    // Otherwise the handler's own value wins (e.g. a stricter CORS answer).
  }

  // Framing belongs to the server: a handler's hop-by-hop headers would contradict it.
  EraseHeader(response.headers, "Transfer-Encoding");
  EraseHeader(response.headers, "Connection");
  EraseHeader(response.headers, "Keep-Alive");
  // Content-Length is the server's to compute, except what a HEAD answer announces.
  std::size_t announced =
      response.object ? static_cast<std::size_t>(response.object->length()) : response.body.size();
  if (auto length = FindHeader(response.headers, "Content-Length"); length && !response.object) {
    std::size_t parsed = 0;
    auto [end, ec] = std::from_chars(length->data(), length->data() + length->size(), parsed);
    if (ec == std::errc() && end == length->data() + length->size() && response.body.empty()) {
      announced = parsed;
    }
  }
  EraseHeader(response.headers, "Content-Length");
  if (IsBodylessStatus(response.status)) {
    response.body.clear();
    response.object.reset();
    announced = 0;
  }
  if (exchange.head) {
    response.body.clear();
    response.object.reset();  // HEAD: the length is announced, the object never read
    final_response.head = true;
    final_response.content_length = announced;
  }

  int status = response.status;
  if (status >= 500) {
    logger_->error("{} {} -> {}: {}", exchange.request.method, LoggedPath(exchange.request), status,
                   exchange.error_detail);
  } else if (status >= 400) {
    logger_->warn("{} {} -> {}: {}", exchange.request.method, LoggedPath(exchange.request), status,
                  exchange.error_detail);
  }
  Record(exchange, status, response.object ? announced : response.body.size());
  final_response.response = std::move(response);
  return final_response;
}

void RequestPipeline::Abandon(Exchange& exchange, std::string_view reason) const {
  ScopedRequestContext scope(&exchange.request.context);
  logger_->info("{} {} abandoned: {} ({})", exchange.request.method, LoggedPath(exchange.request),
                reason, exchange.request.remote_ip);
}

void RequestPipeline::Record(const Exchange& exchange, int status, std::size_t bytes) const {
  double seconds = std::chrono::duration<double>(clock_.Now() - exchange.started).count();
  std::string status_text = std::to_string(status);
  std::string_view method = exchange.request.method.empty() ? std::string_view("other")
                                                            : MethodLabel(exchange.request.method);
  metrics_.requests.WithLabels({exchange.route_label, method, status_text}).Inc();
  metrics_.duration.WithLabels({exchange.route_label}).Observe(seconds);
  if (exchange.settings && exchange.settings->access_log) {
    logger_->info(
        "{} {} {} {}B {:.1f}ms {}", exchange.request.method.empty() ? "-" : exchange.request.method,
        LoggedPath(exchange.request), status, bytes, seconds * 1000.0, exchange.request.remote_ip);
  }
}

}  // namespace sg::plugins::gateway
