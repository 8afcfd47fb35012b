#pragma once
/// The per-request middleware of the gateway, free of Boost.Beast so it compiles fast and
/// is reused by the I/O layer (http_server.cc) step by step:
///
///   Begin     request id, trace, CORS, routing, rate limit, authentication, body limit;
///             may decide an early response (preflight, 403, 404, 405, 429, 401, 400) —
///             then no body is read and no handler runs
///   Invoke    the handler, on whatever thread the server chose; exceptions become 500
///   Finish    common headers, HEAD handling, error log, access log, metrics
///
/// Everything synchronous runs inside a ScopedRequestContext, so log lines and published
/// events carry the request id and trace. Thread-safe: one pipeline serves all
/// connections; reloadable settings are an atomically swapped immutable snapshot.

#include <spdlog/logger.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/api/clock.h"
#include "core/api/metrics.h"
#include "core/api/services/http.h"
#include "core/api/services/rate_limiter.h"
#include "plugins/gateway/gateway_config.h"
#include "plugins/gateway/router.h"

namespace sg::plugins::gateway {

/// The reloadable part of the config, pre-joined for the hot path.
struct Settings {
  bool access_log = true;
  bool any_origin = true;
  std::vector<std::string> allowed_origins;
  std::string allow_methods;  ///< "GET, HEAD, ..."
  std::string allow_headers;
  std::string expose_headers;
  std::string max_age_seconds;
  bool rate_limit_enabled = true;
  RateLimitRule read;
  RateLimitRule write;
  RateLimitRule transfer;
};

std::shared_ptr<const Settings> MakeSettings(const GatewayConfig& config);

/// The metric families of the gateway, created once.
struct GatewayMetrics {
  explicit GatewayMetrics(MetricsRegistry& registry);
  MetricFamily<Counter>& requests;    ///< {route, method, status}
  MetricFamily<Histogram>& duration;  ///< {route}
  Gauge& in_flight;
  Gauge& connections_open;
  MetricFamily<Counter>& rate_limited;  ///< {class}
  Counter& handler_exceptions;
  Counter& connections_rejected;
};

/// Decrements the in-flight gauge when the request is over, however it ends.
class InFlightToken {
 public:
  InFlightToken() = default;
  InFlightToken(const InFlightToken&) = delete;
  InFlightToken& operator=(const InFlightToken&) = delete;
  ~InFlightToken() {
    if (gauge_ != nullptr) {
      gauge_->Dec();
    }
  }
  void Arm(Gauge& gauge) noexcept {
    if (gauge_ == nullptr) {
      gauge_ = &gauge;
      gauge_->Inc();
    }
  }

 private:
  Gauge* gauge_ = nullptr;
};

/// One request travelling through the pipeline.
struct Exchange {
  HttpRequest request;
  std::shared_ptr<const Settings> settings;
  SteadyTime started;
  InFlightToken in_flight;
  std::shared_ptr<const Route> route;
  /// Route label for metrics and logs ("unmatched" when no route).
  std::string route_label = "unmatched";
  /// HEAD request: the response carries Content-Length but no body.
  bool head = false;
  /// Body limit that applies (route or default).
  std::size_t body_limit = 0;
  /// Run the handler on the handler pool.
  bool blocking = false;
  /// The handler pulls the body through `request.body_reader` (implies `blocking`).
  bool stream_body = false;
  /// Set when the request is answered without reading its body or calling a handler.
  std::optional<HttpResponse> early;
  /// Added to whatever response this request gets (CORS, RateLimit-*).
  HttpHeaders extra_headers;
  /// Why the request failed, for the warn/error log line of an error response.
  std::string error_detail;
};

/// What the server writes: the response and whether the body is withheld (HEAD).
struct FinalResponse {
  HttpResponse response;
  /// Content-Length to announce when `head` (the body is empty then).
  std::size_t content_length = 0;
  bool head = false;
};

class RequestPipeline {
 public:
  RequestPipeline(std::shared_ptr<Router> router, std::shared_ptr<RateLimiter> limiter,
                  GatewayMetrics& metrics, std::shared_ptr<spdlog::logger> logger,
                  const Clock& clock, std::size_t default_max_body,
                  std::shared_ptr<const Settings> settings);

  void SetSettings(std::shared_ptr<const Settings> settings) noexcept;

  /// The optional Authenticator (nullptr: every request is anonymous). Set before the
  /// server starts serving; not thread-safe with respect to requests in flight.
  void SetAuthenticator(std::shared_ptr<Authenticator> authenticator) noexcept;
  std::shared_ptr<const Settings> settings() const noexcept;

  /// Starts a request whose head was parsed. Fills `exchange`; sets `exchange.early` when
  /// the answer is known without the body or a handler.
  void Begin(Exchange& exchange, std::string method, std::string target, HttpHeaders headers,
             std::string remote_ip) const;

  /// Starts a request whose head could not be parsed (for 400/431 answers).
  void BeginUnparsed(Exchange& exchange, std::string remote_ip) const;

  /// Calls the route's handler on this thread. Never throws.
  HttpResponse Invoke(Exchange& exchange) const noexcept;

  /// An error response in the JSON envelope for this request.
  HttpResponse Error(Exchange& exchange, int status, std::string_view code,
                     std::string_view message) const;

  /// Adds X-Request-Id, Server and the exchange's extra headers, handles HEAD, logs and
  /// records metrics. `response` is consumed.
  FinalResponse Finish(Exchange& exchange, HttpResponse response) const;

  /// Ends a request that gets no response (client vanished, timeout): logs and counts it.
  void Abandon(Exchange& exchange, std::string_view reason) const;

  GatewayMetrics& metrics() const noexcept { return metrics_; }
  const std::shared_ptr<spdlog::logger>& logger() const noexcept { return logger_; }

 private:
  bool ApplyCors(Exchange& exchange, const Settings& settings) const;
  bool ApplyRateLimit(Exchange& exchange, const Settings& settings) const;
  bool ApplyAuthentication(Exchange& exchange) const;
  void Record(const Exchange& exchange, int status, std::size_t bytes) const;

  std::shared_ptr<Router> router_;
  std::shared_ptr<RateLimiter> limiter_;
  GatewayMetrics& metrics_;
  std::shared_ptr<spdlog::logger> logger_;
  const Clock& clock_;
  std::size_t default_max_body_;
  std::atomic<std::shared_ptr<const Settings>> settings_;
  std::shared_ptr<Authenticator> authenticator_;
};

/// True when `id` matches [A-Za-z0-9._-]{1,128} (accepted from X-Request-Id).
bool IsValidRequestId(std::string_view id) noexcept;

}  // namespace sg::plugins::gateway
