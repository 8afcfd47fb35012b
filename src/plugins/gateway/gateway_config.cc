#include "plugins/gateway/gateway_config.h"

#include <charconv>

namespace sg::plugins::gateway {
namespace {

constexpr double kMaxMs = 24.0 * 3600 * 1000;

bool IsToken(std::string_view text) {
  if (text.empty()) {
    return false;
  }
  for (char c : text) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

Result<> ValidateTokens(std::string_view key, const std::vector<std::string>& values) {
  for (const auto& value : values) {
    if (!IsToken(value)) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: \"{}\" is not a header or method name",
                       key, value);
    }
  }
  return {};
}

Result<> ValidateRule(std::string_view key, const RateRuleConfig& rule) {
  if (!(rule.rate > 0)) {
    return MakeError(ErrorCode::kInvalidArgument, "{}.rate: must be > 0, got {}", key, rule.rate);
  }
  if (!(rule.burst >= 1)) {
    return MakeError(ErrorCode::kInvalidArgument, "{}.burst: must be >= 1, got {}", key,
                     rule.burst);
  }
  return {};
}

}  // namespace

void CorsConfig::Visit(ConfigVisitor& visitor) {
  visitor.Field(
      "allowed_origins", allowed_origins,
      {.doc = "origins allowed to call the API from a browser; [\"*\"] = any", .reloadable = true});
  visitor.Field("allowed_methods", allowed_methods,
                {.doc = "methods announced in preflight responses", .reloadable = true});
  visitor.Field("allowed_headers", allowed_headers,
                {.doc = "request headers announced in preflight responses", .reloadable = true});
  visitor.Field("exposed_headers", exposed_headers,
                {.doc = "response headers a browser script may read", .reloadable = true});
  visitor.Field("max_age", max_age,
                {.doc = "how long a browser may cache a preflight answer",
                 .reloadable = true,
                 .min = 0,
                 .max = kMaxMs});
}

void RateRuleConfig::Visit(ConfigVisitor& visitor) {
  visitor.Field("rate", rate,
                {.doc = "sustained requests per second per client IP",
                 .reloadable = true,
                 .min = 0.001,
                 .max = 1e9});
  visitor.Field("burst", burst,
                {.doc = "requests a client may send at once after a quiet period",
                 .reloadable = true,
                 .min = 1,
                 .max = 1e9});
}

void RateLimitConfig::Visit(ConfigVisitor& visitor) {
  visitor.Field("enabled", enabled,
                {.doc = "per-client-IP rate limiting on or off", .reloadable = true});
  visitor.Section("read", "bucket for reads (playback, listings)",
                  [this](ConfigVisitor& v) { read.Visit(v); });
  visitor.Section("write", "bucket for writes (uploads, logins, mutations)",
                  [this](ConfigVisitor& v) { write.Visit(v); });
  visitor.Section("transfer", "bucket for bulk transfers (upload chunks, tus PATCH)",
                  [this](ConfigVisitor& v) { transfer.Visit(v); });
}

void GatewayConfig::Visit(ConfigVisitor& visitor) {
  visitor.Field("listen", listen,
                {.doc = "host:port to accept HTTP on; [::1]:8080 for IPv6; port 0 = any free"});
  visitor.Field(
      "io_threads", io_threads,
      {.doc = "HTTP I/O threads; 0 = hardware concurrency (at least 2)", .min = 0, .max = 256});
  visitor.Field(
      "handler_threads", handler_threads,
      {.doc = "threads for handlers that may block (database, disk, bus)", .min = 1, .max = 1024});
  visitor.Field("max_header_bytes", max_header_bytes,
                {.doc = "largest request head; larger gets 431", .min = 1024, .max = 1 << 20});
  visitor.Field("max_body_bytes", max_body_bytes,
                {.doc = "largest request body for routes without their own limit; larger gets 413",
                 .min = 0,
                 .max = 1e12});
  visitor.Field("header_timeout", header_timeout,
                {.doc = "the whole request head must arrive within this", .min = 1, .max = kMaxMs});
  visitor.Field("body_idle_timeout", body_idle_timeout,
                {.doc = "longest silence while reading a request body", .min = 1, .max = kMaxMs});
  visitor.Field("write_timeout", write_timeout,
                {.doc = "longest time to write one response", .min = 1, .max = kMaxMs});
  visitor.Field("keepalive_timeout", keepalive_timeout,
                {.doc = "idle time allowed between requests on a kept-alive connection",
                 .min = 1,
                 .max = kMaxMs});
  visitor.Field("max_connections", max_connections,
                {.doc = "open connections beyond this are accepted and closed at once",
                 .min = 1,
                 .max = 1'000'000});
  visitor.Field("access_log", access_log,
                {.doc = "one info log line per request", .reloadable = true});
  visitor.Section("cors", "cross-origin resource sharing for browser clients",
                  [this](ConfigVisitor& v) { cors.Visit(v); });
  visitor.Section("rate_limit", "token buckets per client IP and route class",
                  [this](ConfigVisitor& v) { rate_limit.Visit(v); });
  visitor.Field("web_ui", web_ui, {.doc = "serve the web app at / and /assets/; false = API only"});
  visitor.Field("web_root", web_root,
                {.doc = "\"\" = the web app embedded in the binary; else a directory with "
                        "index.html and assets/ (gzip variants from .gz siblings), read at start"});
}

Result<> GatewayConfig::Validate() const {
  auto address = ParseListenAddress(listen);
  if (!address) {
    return MakeError(address.error().WithContext("listen"));
  }
  if (io_threads < 0) {
    return MakeError(ErrorCode::kInvalidArgument, "io_threads: must be >= 0, got {}", io_threads);
  }
  if (handler_threads < 1) {
    return MakeError(ErrorCode::kInvalidArgument, "handler_threads: must be >= 1, got {}",
                     handler_threads);
  }
  if (max_connections < 1) {
    return MakeError(ErrorCode::kInvalidArgument, "max_connections: must be >= 1, got {}",
                     max_connections);
  }
  if (max_header_bytes.bytes < 1024) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "max_header_bytes: must be at least 1 KiB, got {} bytes",
                     max_header_bytes.bytes);
  }
  const std::pair<std::string_view, ConfigDuration> timeouts[] = {
      {"header_timeout", header_timeout},
      {"body_idle_timeout", body_idle_timeout},
      {"write_timeout", write_timeout},
      {"keepalive_timeout", keepalive_timeout}};
  for (const auto& [key, value] : timeouts) {
    if (value.count() <= 0) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: must be > 0, got {}ms", key,
                       value.count());
    }
  }
  if (cors.max_age.count() < 0) {
    return MakeError(ErrorCode::kInvalidArgument, "cors.max_age: must be >= 0");
  }
  SG_RETURN_IF_ERROR(ValidateTokens("cors.allowed_methods", cors.allowed_methods));
  SG_RETURN_IF_ERROR(ValidateTokens("cors.allowed_headers", cors.allowed_headers));
  SG_RETURN_IF_ERROR(ValidateTokens("cors.exposed_headers", cors.exposed_headers));
  for (const auto& origin : cors.allowed_origins) {
    if (origin.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "cors.allowed_origins: empty origin");
    }
  }
  SG_RETURN_IF_ERROR(ValidateRule("rate_limit.read", rate_limit.read));
  SG_RETURN_IF_ERROR(ValidateRule("rate_limit.write", rate_limit.write));
  SG_RETURN_IF_ERROR(ValidateRule("rate_limit.transfer", rate_limit.transfer));
  // The directory itself is checked when it is loaded (StaticSite::FromDirectory, in Init).
  if (web_root.find('\0') != std::string::npos) {
    return MakeError(ErrorCode::kInvalidArgument, "web_root: must not contain a NUL byte");
  }
  return {};
}

Result<ListenAddress> ParseListenAddress(std::string_view listen) {
  ListenAddress address;
  std::string_view port_text;
  if (!listen.empty() && listen.front() == '[') {
    auto close = listen.find(']');
    if (close == std::string_view::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return MakeError(ErrorCode::kInvalidArgument, "\"{}\" is not [ipv6]:port (e.g. [::1]:8080)",
                       listen);
    }
    address.host = std::string(listen.substr(1, close - 1));
    port_text = listen.substr(close + 2);
  } else {
    auto colon = listen.rfind(':');
    if (colon == std::string_view::npos) {
      return MakeError(ErrorCode::kInvalidArgument, "\"{}\" has no port (host:port)", listen);
    }
    address.host = std::string(listen.substr(0, colon));
    if (address.host.find(':') != std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "\"{}\": write IPv6 addresses in brackets, e.g. [::1]:8080", listen);
    }
    port_text = listen.substr(colon + 1);
  }
  if (address.host.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "\"{}\" has no host", listen);
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return MakeError(ErrorCode::kInvalidArgument, "\"{}\": port must be 0..65535", listen);
  }
  address.port = static_cast<std::uint16_t>(port);
  return address;
}

std::string FormatHostPort(std::string_view host, std::uint16_t port) {
  if (host.find(':') != std::string_view::npos) {
    return fmt::format("[{}]:{}", host, port);
  }
  return fmt::format("{}:{}", host, port);
}

}  // namespace sg::plugins::gateway
