#pragma once
/// The `gateway` config section: listen address, threads, limits, timeouts, CORS and rate
/// limits. access_log, cors.* and rate_limit.* are reloadable (SIGHUP); the rest needs a
/// restart.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/config.h"
#include "core/api/result.h"

namespace sg::plugins::gateway {

struct CorsConfig {
  /// Origins allowed to call the API from a browser; ["*"] allows any origin.
  std::vector<std::string> allowed_origins = {"*"};
  /// Methods announced in preflight responses (Access-Control-Allow-Methods).
  std::vector<std::string> allowed_methods = {"GET",   "HEAD",   "POST",   "PUT",
                                              "PATCH", "DELETE", "OPTIONS"};
  /// Request headers announced in preflight responses (Access-Control-Allow-Headers).
  std::vector<std::string> allowed_headers = {"Authorization",
                                              "Content-Type",
                                              "Range",
                                              "If-None-Match",
                                              "If-Range",
                                              "X-Request-Id",
                                              "traceparent",
                                              "Content-SHA256",
                                              "Repr-Digest",
                                              "Upload-Offset",
                                              "Upload-Length",
                                              "Upload-Metadata",
                                              "Upload-Checksum",
                                              "Upload-Concat",
                                              "Upload-Defer-Length",
                                              "Tus-Resumable",
                                              "X-HTTP-Method-Override"};
  /// Response headers a browser script may read (Access-Control-Expose-Headers).
  std::vector<std::string> exposed_headers = {"Content-Length",
                                              "Content-Range",
                                              "ETag",
                                              "Location",
                                              "X-Request-Id",
                                              "Retry-After",
                                              "RateLimit-Limit",
                                              "RateLimit-Remaining",
                                              "RateLimit-Reset",
                                              "Upload-Offset",
                                              "Upload-Length",
                                              "Upload-Expires",
                                              "Upload-Metadata",
                                              "Tus-Version",
                                              "Tus-Resumable",
                                              "Tus-Max-Size",
                                              "Tus-Extension",
                                              "Tus-Checksum-Algorithm",
                                              "Streamgate-Content-Id"};
  /// How long a browser may cache a preflight answer (Access-Control-Max-Age).
  ConfigDuration max_age{10 * 60 * 1000};

  void Visit(ConfigVisitor& visitor);
};

struct RateRuleConfig {
  /// Sustained requests per second per client IP.
  double rate = 100;
  /// Requests a client may send at once after a quiet period.
  double burst = 200;

  void Visit(ConfigVisitor& visitor);
};

struct RateLimitConfig {
  /// Turns per-client-IP rate limiting on or off.
  bool enabled = true;
  /// Bucket for reads (GET/HEAD routes, playback, manifests).
  RateRuleConfig read{100, 200};
  /// Bucket for writes (logins, mutations, upload sessions).
  RateRuleConfig write{20, 40};
  /// Bucket for bulk transfers (upload chunks, tus PATCH): one request carries up to 64 MiB,
  /// so a fast link sends dozens per second; the bytes, not the requests, are the load.
  RateRuleConfig transfer{200, 400};

  void Visit(ConfigVisitor& visitor);
};

struct GatewayConfig {
  /// host:port to accept HTTP on; IPv6 as [::1]:8080; port 0 picks a free port.
  std::string listen = "127.0.0.1:8080";
  /// Threads running the HTTP I/O loop; 0 = hardware concurrency (at least 2).
  std::int64_t io_threads = 0;
  /// Threads running handlers that may block (database, disk, bus requests).
  std::int64_t handler_threads = 8;
  /// Largest request head (request line and headers); larger gets 431 and a close.
  ByteSize max_header_bytes{16 * 1024};
  /// Largest request body for routes that keep the default limit; larger gets 413.
  ByteSize max_body_bytes{1024 * 1024};
  /// The whole request head must arrive within this; else the connection is closed.
  ConfigDuration header_timeout{10'000};
  /// Longest silence while reading a request body; else the connection is closed.
  ConfigDuration body_idle_timeout{30'000};
  /// Longest time to write one response.
  ConfigDuration write_timeout{30'000};
  /// How long a kept-alive connection may sit idle between requests.
  ConfigDuration keepalive_timeout{75'000};
  /// Open connections beyond this are accepted and closed at once (and counted).
  std::int64_t max_connections = 10'000;
  /// One info line per request: method, path, status, bytes, duration, client ip.
  bool access_log = true;
  /// Cross-origin resource sharing for browser clients.
  CorsConfig cors;
  /// Token buckets per client IP and route class.
  RateLimitConfig rate_limit;
  /// Serve the web app at / (and its pages and /assets/); false = API-only deployment.
  bool web_ui = true;
  /// "" = the web app embedded in the binary; else a directory holding index.html and
  /// assets/, loaded into memory at start (`.gz` siblings are the gzip variants).
  std::string web_root;

  void Visit(ConfigVisitor& visitor);
  Result<> Validate() const;
};

/// A parsed `listen` value.
struct ListenAddress {
  std::string host;  ///< without brackets for IPv6
  std::uint16_t port = 0;
};

/// Parses "host:port" or "[v6]:port". kInvalidArgument naming the problem.
Result<ListenAddress> ParseListenAddress(std::string_view listen);

/// "host:port", with brackets around IPv6 hosts.
std::string FormatHostPort(std::string_view host, std::uint16_t port);

}  // namespace sg::plugins::gateway
