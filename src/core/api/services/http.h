#pragma once
/// The HTTP contract between the gateway plugin and the plugins that serve routes. No
/// Boost.Beast here: handlers see plain request/response values, so plugins compile fast
/// and can be tested without sockets.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/api/byte_source.h"
#include "core/api/clock.h"
#include "core/api/request_context.h"
#include "core/api/result.h"
#include "core/api/services/object_store.h"

namespace sg {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

/// `text` without optional whitespace (RFC 9110 OWS: spaces and tabs) at either end.
std::string_view TrimOws(std::string_view text) noexcept;

/// ASCII case-insensitive equality: header names and tokens such as content codings.
bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b) noexcept;

/// Calls `each` with every trimmed, non-empty element of a comma-separated header value
/// (RFC 9110 §5.6.1 lists: "a, b,,c" gives a, b, c).
template <class F>
void ForEachListElement(std::string_view value, F&& each) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    const auto element = TrimOws(value.substr(0, comma));
    if (!element.empty()) {
      each(element);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    value.remove_prefix(comma + 1);
  }
}

/// Case-insensitive lookup of the first header named `name`.
std::optional<std::string_view> FindHeader(const HttpHeaders& headers,
                                           std::string_view name) noexcept;

/// Who sent a request. Anonymous requests have an empty id and no roles. The wallet
/// sign-in issue adds wallet principals (id = CAIP-10 account); today the admin API key.
struct Principal {
  std::string id;                  ///< "" = anonymous; "admin" for the API key
  std::vector<std::string> roles;  ///< "admin", "creator", "viewer"
  bool anonymous() const noexcept { return id.empty(); }
  bool HasRole(std::string_view role) const noexcept {
    for (const auto& r : roles) {
      if (r == role) {
        return true;
      }
    }
    return false;
  }
};

/// Pulls a request body in bounded pieces, for routes with `RouteOptions::stream_body`.
/// Used from the handler's (blocking) thread; the gateway enforces the route's body limit
/// and `gateway.body_idle_timeout` underneath.
class BodyReader : public ByteSource {
 public:
  /// Reads up to `buffer.size()` bytes; 0 = the body is complete. kInvalidArgument when
  /// the client disconnected or sent a malformed body, kUnavailable after the idle timeout,
  /// kResourceExhausted when the body grows past the route's limit.
  Result<std::size_t> Read(std::span<char> buffer) override = 0;
  /// The declared Content-Length, if any (chunked bodies have none).
  virtual std::optional<std::uint64_t> content_length() const noexcept = 0;
};

struct HttpRequest {
  std::string method;                                            ///< "GET", "POST", ...
  std::string target;                                            ///< as received: path and query
  std::string path;                                              ///< percent-decoded path, no query
  std::vector<std::pair<std::string, std::string>> query;        ///< decoded, in order
  std::vector<std::pair<std::string, std::string>> path_params;  ///< from `{name}` segments
  HttpHeaders headers;
  std::string body;  ///< at most the route's max_body_bytes; empty for stream_body routes
  /// For `stream_body` routes: the body, read on demand. Valid during the handler call.
  BodyReader* body_reader = nullptr;
  /// Set by the gateway from `Authorization` through the `Authenticator` service.
  Principal principal;
  std::string remote_ip;   ///< the peer address (no proxy headers are trusted by default)
  RequestContext context;  ///< request id and trace

  std::optional<std::string_view> Header(std::string_view name) const noexcept {
    return FindHeader(headers, name);
  }
  std::optional<std::string_view> Query(std::string_view name) const noexcept;
  /// The value of a `{name}` path segment; SG_CHECKs that the route declared it.
  std::string_view PathParam(std::string_view name) const;
  /// Whether the matched route declared `{name}` (one handler serving two routes).
  bool HasPathParam(std::string_view name) const noexcept;
};

/// The page size of a listing from the `limit` query value: absent → `default_limit`; else
/// an integer in 1..`max_limit`, anything else kInvalidArgument "limit must be an integer
/// 1..<max>".
Result<std::size_t> ParseLimit(std::optional<std::string_view> text, std::size_t default_limit,
                               std::size_t max_limit);

/// Whether a GET's validators say the client's copy is current (answer 304): If-None-Match
/// compared weakly (RFC 9110 §13.1.2: lists, `*`, W/ tags); only without it,
/// If-Modified-Since at whole-second resolution. `etag` is the quoted tag sent ("\"abc\"").
bool NotModified(std::optional<std::string_view> if_none_match,
                 std::optional<std::string_view> if_modified_since, std::string_view etag,
                 WallTime last_modified);

/// The HTTP status docs/errors.md gives each error code: 400, 404, 409, 403, 401, 429, 503
/// or 500. The gateway applies it to a handler's error; handlers that build responses
/// themselves use it to stay consistent.
int HttpStatusFor(ErrorCode code) noexcept;

/// A response body produced over time, such as Server-Sent Events: the gateway sends the
/// head, then writes whatever the producer pushed (chunked transfer encoding) as it
/// arrives, without holding a thread while it waits. The producer pushes from any thread.
/// Memory is bounded: a consumer that falls more than `max_buffered_bytes` behind is cut
/// off (the stream ends and `overflowed()` says why) rather than buffering without limit.
class ResponseStream {
 public:
  struct Options {
    std::size_t max_buffered_bytes = 256 * 1024;
    /// Written when nothing else was for `heartbeat_interval` (SSE: a comment line), so
    /// proxies and clients see a live connection. Empty = no heartbeat.
    std::string heartbeat;
    std::chrono::milliseconds heartbeat_interval{15'000};
  };
  explicit ResponseStream(Options options);

  // ---- producer side
  /// Queues bytes; false when the stream is over (ended, cancelled or overflowed).
  bool Push(std::string_view bytes);
  /// No more data: the gateway finishes the body once what is queued was written.
  void End();
  /// Called once when the consumer goes away (client closed, server draining, overflow),
  /// on the thread that noticed; use it to unsubscribe. Runs at once when already over.
  void OnCancel(std::function<void()> callback);
  bool active() const;

  // ---- consumer side (the gateway)
  enum class Take { kData, kEmpty, kEnded };
  /// Moves what is queued into `out` (replacing its contents).
  Take TakeQueued(std::string& out);
  /// Called (from the producer's thread) whenever data or the end becomes available.
  void SetWakeup(std::function<void()> wakeup);
  /// The consumer is gone: ends the stream and runs the cancel callback.
  void Cancel();
  bool overflowed() const;
  const Options& options() const noexcept { return options_; }

 private:
  void FireCancelLocked(std::unique_lock<std::mutex>& lock);

  const Options options_;
  mutable std::mutex mutex_;
  std::string queued_;
  bool ended_ = false;
  bool cancelled_ = false;
  bool overflowed_ = false;
  std::function<void()> wakeup_;
  std::function<void()> on_cancel_;
};

struct HttpResponse {
  int status = 200;
  HttpHeaders headers;
  std::string body;
  /// When set, `body` is ignored and the body comes from this stream (GET only).
  std::shared_ptr<ResponseStream> stream;
  /// When set, `body` is ignored and the body is this stored object (or the range it was
  /// opened with), `object->length()` bytes: sent with sendfile(2) when the reader has a
  /// file span (local store: zero copy), else read in bounded pieces. Keep-alive is kept.
  std::shared_ptr<ObjectReader> object;

  HttpResponse& SetHeader(std::string name, std::string value);
  /// `application/json` body.
  static HttpResponse Json(int status, std::string body);
  static HttpResponse Text(int status, std::string body,
                           std::string content_type = "text/plain; charset=utf-8");
  /// The JSON error envelope with any status, for statuses that no ErrorCode maps to
  /// (413, 415, 422, tus 460): {"error":{"code","message","request_id"}}.
  static HttpResponse Error(int status, std::string_view code, std::string_view message,
                            const HttpRequest& request);
  /// The same envelope with "details" parsed from `details_json` (see sg::Error::details);
  /// detail that is not valid JSON is left out.
  static HttpResponse Error(int status, std::string_view code, std::string_view message,
                            std::string_view details_json, const HttpRequest& request);
};

/// Returns the response, or an Error that the gateway turns into the JSON error envelope
/// with the status of docs/errors.md. An exception escaping a handler becomes a 500 in the
/// same envelope; the server stays up.
using HttpHandler = std::function<Result<HttpResponse>(const HttpRequest& request)>;

struct RouteOptions {
  /// Larger bodies get 413 before the handler runs; unset = `gateway.max_body_bytes`.
  std::optional<std::size_t> max_body_bytes;
  /// Which rate-limit bucket applies: "read", "write", "transfer" (bulk bodies such as
  /// upload chunks), or "none" (health probes, metrics).
  std::string rate_class = "read";
  /// Shown in /metrics and logs instead of the raw path; defaults to the pattern.
  std::string metric_name;
  /// The handler may block (database, disk, bus request): it runs on the handler pool so
  /// I/O threads never block. Cheap in-memory handlers set false and run on the I/O thread.
  bool blocking = true;
  /// The body is not read before the handler runs: the handler pulls it through
  /// `request.body_reader` (bounded memory for uploads of any size). Implies `blocking`.
  bool stream_body = false;
};

class HttpRouter {
 public:
  static constexpr std::string_view kServiceName = "HttpRouter";
  virtual ~HttpRouter() = default;
  /// Adds a route. `pattern` is an absolute path whose segments are literals or `{name}`
  /// (a whole segment), e.g. `/api/v1/upload/{id}/chunk/{n}`. Literal segments win over
  /// parameters. kAlreadyExists for the same method and pattern twice, kInvalidArgument for
  /// a malformed pattern. Call from Init; routes are frozen when the gateway starts.
  virtual Result<> AddRoute(std::string method, std::string pattern, HttpHandler handler,
                            RouteOptions options = {}) = 0;
};

/// Turns `Authorization` into a Principal. Optional service: without a provider every
/// request is anonymous. The gateway looks it up when it starts.
class Authenticator {
 public:
  static constexpr std::string_view kServiceName = "Authenticator";
  virtual ~Authenticator() = default;
  /// No Authorization header: an anonymous principal. A header that does not verify:
  /// kUnauthenticated (the gateway answers 401 before any handler runs). Must be cheap
  /// (no network calls).
  virtual Result<Principal> Authenticate(const HttpRequest& request) = 0;
};

}  // namespace sg
