#pragma once
/// The HTTP/1.1 server of the gateway: Boost.Beast + Asio C++20 coroutines, hidden behind
/// a pimpl so only http_server.cc compiles Beast.
///
/// Threads: one io_context run by `io_threads` threads; each connection is one coroutine
/// on its own strand (sequential by construction). Handlers with RouteOptions.blocking
/// run on a separate pool of `handler_threads`, so a slow database call never stalls I/O.
///
/// Timeouts (see README.md): the first request head must arrive within header_timeout of
/// accept; between kept-alive requests a connection may idle for keepalive_timeout, then
/// the head must arrive within header_timeout of its first byte. A head or body that
/// stalls closes the connection without a response (the client is not listening anyway).
///
/// Routes with RouteOptions.stream_body get a BodyReader instead of a read body: their
/// handler (on the pool) reads the socket's fd itself, in pieces, while the connection's
/// coroutine waits and does no I/O on it (see README.md, "Streamed request bodies").
///
/// Stop(deadline) drains: the listener closes, idle connections close at once, requests
/// in progress finish (their response carries `Connection: close`); at the deadline the
/// rest are closed, and Stop waits for running blocking handlers to return.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/api/clock.h"
#include "core/api/result.h"
#include "plugins/gateway/pipeline.h"

namespace sg::plugins::gateway {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::size_t io_threads = 2;
  std::size_t handler_threads = 8;
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_idle_timeout{30'000};
  std::chrono::milliseconds write_timeout{30'000};
  std::chrono::milliseconds keepalive_timeout{75'000};
  std::size_t max_connections = 10'000;
};

/// Resolves io_threads 0 to the hardware concurrency (at least 2).
ServerOptions MakeServerOptions(const GatewayConfig& config);

enum class ServerState { kStopped, kListening, kDraining };

class HttpServer {
 public:
  HttpServer(ServerOptions options, std::shared_ptr<const RequestPipeline> pipeline);
  /// Stops at once if still running.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds, listens and starts the threads. kUnavailable when the address cannot be bound
  /// (in use, not local), kInvalidArgument when the host does not resolve. Call once.
  Result<> Start();
  /// Graceful drain until `deadline`, then closes what is left. Idempotent, never throws.
  void Stop(Deadline deadline) noexcept;

  /// The bound port (the real one when configured as 0); 0 before Start.
  std::uint16_t port() const noexcept;
  /// "host:port" actually bound.
  std::string address() const;
  ServerState state() const noexcept;
  /// Open connections right now.
  std::size_t open_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sg::plugins::gateway
