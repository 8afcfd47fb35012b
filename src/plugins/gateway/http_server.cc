#include "plugins/gateway/http_server.h"

// The one translation unit of the gateway that compiles Boost.Beast and Asio.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "plugins/gateway/errors.h"

namespace sg::plugins::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
constexpr auto kTuple = asio::as_tuple(use_awaitable);

constexpr std::size_t kReadChunk = 16 * 1024;
// After an error response with request bytes still unread, keep reading (and dropping)
// briefly before closing, so the client's TCP stack does not turn our close into a reset
// that destroys the response before the client read it ("lingering close").
constexpr std::chrono::milliseconds kLingerTime{1000};
constexpr std::size_t kLingerBytes = 1 << 20;
// While a handler streams a body, the connection's parse buffer may hold this much beyond
// what the head left in it (Beast reads 64 KiB at a time; a chunk-size line is short).
// Together with the handler's own buffer this bounds the memory of a streamed upload.
constexpr std::size_t kStreamBufferBytes = 128 * 1024;

bool IsBodylessStatus(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

bool HasLineBreak(std::string_view text) {
  return text.find_first_of("\r\n") != std::string_view::npos;
}

}  // namespace

ServerOptions MakeServerOptions(const GatewayConfig& config) {
  ServerOptions options;
  auto address = ParseListenAddress(config.listen);
  if (address) {
    options.host = address->host;
    options.port = address->port;
  }
  std::size_t io_threads = static_cast<std::size_t>(std::max<std::int64_t>(0, config.io_threads));
  if (io_threads == 0) {
    io_threads = std::max(2u, std::thread::hardware_concurrency());
  }
  options.io_threads = io_threads;
  options.handler_threads =
      static_cast<std::size_t>(std::max<std::int64_t>(1, config.handler_threads));
  options.max_header_bytes = static_cast<std::size_t>(config.max_header_bytes.bytes);
  options.header_timeout = config.header_timeout;
  options.body_idle_timeout = config.body_idle_timeout;
  options.write_timeout = config.write_timeout;
  options.keepalive_timeout = config.keepalive_timeout;
  options.max_connections =
      static_cast<std::size_t>(std::max<std::int64_t>(1, config.max_connections));
  return options;
}

// Named (not anonymous) so HttpServer::Impl can derive from ServerCore without
// -Wsubobject-linkage; nothing outside this file names it.
namespace http_internal {

struct ServerCore;

/// One accepted connection. Owned by its session coroutine (and briefly by drain tasks);
/// every member is touched only on the connection's strand, except `id`.
struct Connection {
  Connection(ServerCore* owner, std::uint64_t id_value, tcp::socket socket)
      : server(owner), id(id_value), stream(std::move(socket)) {}
  ~Connection();

  ServerCore* server;
  const std::uint64_t id;
  beast::tcp_stream stream;
  /// Waiting for the first byte of a request (safe to close when draining).
  bool idle = false;
  /// A handler thread reads the socket's fd directly (streamed body): the strand must not
  /// close the socket then (the fd number could be reused under the reader), only shut
  /// it down, which wakes the reader.
  bool streaming = false;
  /// Set while a streamed response body (ResponseStream) waits for data: wakes it so it
  /// can see that the server drains.
  std::function<void()> interrupt;
};

struct ServerCore {
  ServerCore(ServerOptions opts, std::shared_ptr<const RequestPipeline> pipe)
      : options(std::move(opts)), pipeline(std::move(pipe)), logger(pipeline->logger()) {}

  void Unregister(std::uint64_t id) {
    {
      std::lock_guard lock(mutex);
      connections.erase(id);
    }
    pipeline->metrics().connections_open.Dec();
    changed.notify_all();
  }

  std::vector<std::shared_ptr<Connection>> Snapshot() {
    std::vector<std::shared_ptr<Connection>> alive;
    std::lock_guard lock(mutex);
    for (auto& [id, weak] : connections) {
      if (auto connection = weak.lock()) {
        alive.push_back(std::move(connection));
      }
    }
    return alive;
  }

  const ServerOptions options;
  const std::shared_ptr<const RequestPipeline> pipeline;
  const std::shared_ptr<spdlog::logger> logger;

  // Declared before the io_context so they outlive the coroutine frames it destroys.
  mutable std::mutex mutex;
  std::condition_variable changed;
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> connections;
  std::uint64_t next_id = 1;

  std::atomic<ServerState> state{ServerState::kStopped};
  std::atomic<bool> draining{false};
  std::atomic<std::uint16_t> port{0};
  std::atomic<int> handlers_running{0};
  std::string bound_address;

  std::unique_ptr<asio::thread_pool> handler_pool;
  std::unique_ptr<asio::io_context> io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  bool stopped = false;
};

Connection::~Connection() { server->Unregister(id); }

}  // namespace http_internal

struct HttpServer::Impl : http_internal::ServerCore {
  using ServerCore::ServerCore;
};

namespace {

using Impl = http_internal::ServerCore;
using http_internal::Connection;

/// Runs the handler on the handler pool and resumes the awaiting coroutine on its own
/// executor (its strand) with the response.
template <class Token>
auto AsyncInvokeOnPool(Impl& impl, Exchange& exchange, Token&& token) {
  return asio::async_initiate<Token, void(HttpResponse)>(
      [&impl, &exchange](auto handler) {
        auto work = asio::make_work_guard(asio::get_associated_executor(handler));
        asio::post(*impl.handler_pool, [&impl, &exchange, handler = std::move(handler),
                                        work = std::move(work)]() mutable {
          impl.handlers_running.fetch_add(1);
          HttpResponse response = impl.pipeline->Invoke(exchange);
          impl.handlers_running.fetch_sub(1);
          auto executor = work.get_executor();
          asio::dispatch(executor,
                         [handler = std::move(handler), response = std::move(response)]() mutable {
                           std::move(handler)(std::move(response));
                         });
          work.reset();
        });
      },
      token);
}

void Close(beast::tcp_stream& stream) {
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream.socket().close(ignored);
}

/// Close, or only shutdown while a handler thread reads the fd (see Connection::streaming).
void ForceClose(Connection& connection) {
  if (connection.streaming) {
    beast::error_code ignored;
    connection.stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    return;
  }
  Close(connection.stream);
}

/// A Beast SyncReadStream over the socket's native fd, for the handler thread while the
/// connection's coroutine is suspended: non-blocking recv, poll() for at most `idle`
/// between bytes. Leaves the fd's flags alone (Asio owns them).
class PollingFdStream {
 public:
  PollingFdStream(int fd, std::chrono::milliseconds idle) : fd_(fd), idle_(idle) {}

  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers, beast::error_code& error) {
    asio::mutable_buffer target = *asio::buffer_sequence_begin(buffers);
    error.clear();
    if (target.size() == 0) {
      return 0;
    }
    auto deadline = std::chrono::steady_clock::now() + idle_;
    while (true) {
      ssize_t received = ::recv(fd_, target.data(), target.size(), MSG_DONTWAIT);
      if (received > 0) {
        return static_cast<std::size_t>(received);
      }
      if (received == 0) {
        error = asio::error::eof;
        return 0;
      }
      if (errno == EINTR) {
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        error.assign(errno, boost::system::system_category());
        return 0;
      }
      auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        error = beast::error::timeout;
        return 0;
      }
      pollfd entry{fd_, POLLIN, 0};
      int timeout_ms = static_cast<int>(std::min<std::int64_t>(left.count(), INT32_MAX));
      if (::poll(&entry, 1, timeout_ms) < 0 && errno != EINTR) {
        error.assign(errno, boost::system::system_category());
        return 0;
      }
      // Readable, hung up or failed: the next recv tells which.
    }
  }

  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers) {
    beast::error_code error;
    std::size_t read = read_some(buffers, error);
    if (error) {
      throw beast::system_error(error);
    }
    return read;
  }

 private:
  int fd_;
  std::chrono::milliseconds idle_;
};

/// The BodyReader of a `stream_body` route: pulls the body through a buffer_body parser
/// straight into the handler's buffer, on the handler's thread. Remembers why it failed
/// so the server can answer (413, 400) or abandon (client gone, stalled) afterwards.
class SocketBodyReader final : public BodyReader {
 public:
  enum class Failure { kNone, kTooLarge, kMalformed, kClosed, kStalled };

  SocketBodyReader(int fd, std::chrono::milliseconds idle, beast::flat_buffer& buffer,
                   http::request_parser<http::buffer_body>& parser, std::size_t limit)
      : stream_(fd, idle), idle_(idle), buffer_(buffer), parser_(parser), limit_(limit) {}

  Result<std::size_t> Read(std::span<char> out) override {
    if (failure_ != Failure::kNone) {
      return MakeError(error_);  // errors are final
    }
    if (parser_.is_done()) {
      return std::size_t{0};
    }
    if (out.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "BodyReader::Read needs a non-empty buffer");
    }
    while (true) {
      auto& body = parser_.get().body();
      body.data = out.data();
      body.size = out.size();
      body.more = true;
      beast::error_code error;
      try {
        http::read_some(stream_, buffer_, parser_, error);
      } catch (const std::exception& e) {
        // Out of memory and the like: the body cannot continue.
        return Fail(Failure::kMalformed, ErrorCode::kInvalidArgument,
                    fmt::format("reading the request body failed: {}", e.what()));
      }
      std::size_t got = out.size() - body.size;
      body.data = nullptr;
      body.size = 0;
      received_ += got;
      if (error == http::error::need_buffer) {
        error.clear();  // the handler's buffer is full: that is this piece
      }
      if (error) {
        return FailWith(error);
      }
      if (got > 0 || parser_.is_done()) {
        return got;
      }
      // Only framing (a chunk header) was parsed: read on.
    }
  }

  std::optional<std::uint64_t> content_length() const noexcept override {
    auto length = parser_.content_length();
    return length ? std::optional<std::uint64_t>(*length) : std::nullopt;
  }

  Failure failure() const noexcept { return failure_; }
  const sg::Error& error() const noexcept { return error_; }
  std::uint64_t received() const noexcept { return received_; }

 private:
  tl::unexpected<sg::Error> FailWith(const beast::error_code& error) {
    if (error == http::error::body_limit) {
      return Fail(Failure::kTooLarge, ErrorCode::kResourceExhausted,
                  fmt::format("request body is larger than {} bytes", limit_));
    }
    if (error == beast::error::timeout) {
      return Fail(Failure::kStalled, ErrorCode::kUnavailable,
                  fmt::format("no request body bytes for {} ms (after {} bytes)", idle_.count(),
                              received_));
    }
    if (error == http::error::buffer_overflow || IsHttpError(error)) {
      // partial_message is the client's EOF in the middle of the body: it left.
      if (error != http::error::partial_message && error != http::error::end_of_stream) {
        return Fail(Failure::kMalformed, ErrorCode::kInvalidArgument,
                    fmt::format("malformed request body: {}", error.message()));
      }
    }
    return Fail(Failure::kClosed, ErrorCode::kInvalidArgument,
                fmt::format("client closed the connection after {} bytes", received_));
  }

  tl::unexpected<sg::Error> Fail(Failure failure, ErrorCode code, std::string message) {
    failure_ = failure;
    error_ = sg::Error{code, std::move(message)};
    return MakeError(error_);
  }

  static bool IsHttpError(const beast::error_code& error) {
    return error.category() == http::make_error_code(http::error::end_of_stream).category();
  }

  PollingFdStream stream_;
  std::chrono::milliseconds idle_;
  beast::flat_buffer& buffer_;
  http::request_parser<http::buffer_body>& parser_;
  std::size_t limit_;
  std::uint64_t received_ = 0;
  Failure failure_ = Failure::kNone;
  sg::Error error_{ErrorCode::kInternal, ""};
};

/// Half-closes, drops what the client still sends (bounded in time and bytes), closes.
awaitable<void> LingeringClose(std::shared_ptr<Connection> connection) {
  beast::tcp_stream& stream = connection->stream;
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.expires_after(kLingerTime);
  std::array<char, 8192> sink{};
  std::size_t dropped = 0;
  while (dropped < kLingerBytes) {
    auto [read_error, read] = co_await stream.async_read_some(asio::buffer(sink), kTuple);
    if (read_error) {
      break;
    }
    dropped += read;
  }
  Close(stream);
}

/// Status, version and the handler's headers (one with a line break would split the
/// response: it is dropped and logged), for every kind of response body.
template <class Body>
void SetHead(http::response<Body>& head, const HttpResponse& source, unsigned version,
             spdlog::logger& logger) {
  head.version(version);
  head.result(static_cast<unsigned>(source.status));
  for (const auto& [name, value] : source.headers) {
    if (name.empty() || HasLineBreak(name) || HasLineBreak(value)) {
      logger.error("dropped response header \"{}\" holding a line break", name);
      continue;
    }
    head.insert(name, value);
  }
}

http::response<http::string_body> ToBeast(const FinalResponse& final_response, unsigned version,
                                          bool keep_alive, spdlog::logger& logger) {
  const HttpResponse& source = final_response.response;
  http::response<http::string_body> response;
  SetHead(response, source, version, logger);
  response.body() = source.body;
  if (IsBodylessStatus(source.status)) {
    response.body().clear();
  } else if (final_response.head) {
    response.content_length(final_response.content_length);
  } else {
    response.prepare_payload();
  }
  response.keep_alive(keep_alive);
  return response;
}

/// Writes `final_response`; false when the connection broke.
awaitable<bool> WriteResponse(Impl* impl, beast::tcp_stream& stream,
                              const FinalResponse& final_response, unsigned version,
                              bool keep_alive) {
  auto response = ToBeast(final_response, version, keep_alive, *impl->logger);
  stream.expires_after(impl->options.write_timeout);
  auto [write_error, written] = co_await http::async_write(stream, response, kTuple);
  co_return !write_error;
}

/// Wakes a streamed-body writer: the producer pushed data or ended, or the server drains.
/// `pending` closes the gap between "nothing queued" and the start of the wait.
struct StreamWaker {
  explicit StreamWaker(const asio::any_io_executor& executor) : timer(executor) {}
  asio::steady_timer timer;
  std::atomic<bool> pending{false};
};

/// Writes a response whose body is a ResponseStream (Server-Sent Events): the head, then
/// each piece the producer pushes (chunked on HTTP/1.1, close-delimited on 1.0), a
/// heartbeat when idle. Holds no thread while waiting. Ends when the producer ends, the
/// client is gone (a write fails or times out) or the server drains; the connection is
/// closed afterwards, so no keep-alive follows.
awaitable<void> WriteStreamedResponse(Impl* impl, Connection& connection,
                                      const FinalResponse& final_response, unsigned version) {
  beast::tcp_stream& stream = connection.stream;
  const HttpResponse& source = final_response.response;
  std::shared_ptr<ResponseStream> body = source.stream;
  const bool chunked = version >= 11;
  http::response<http::empty_body> head;
  SetHead(head, source, version, *impl->logger);
  head.keep_alive(false);
  if (chunked) {
    head.chunked(true);
  }
  http::response_serializer<http::empty_body> serializer{head};
  stream.expires_after(impl->options.write_timeout);
  auto [head_error, head_written] = co_await http::async_write_header(stream, serializer, kTuple);
  bool broken = static_cast<bool>(head_error);

  auto waker = std::make_shared<StreamWaker>(stream.get_executor());
  auto executor = stream.get_executor();
  body->SetWakeup([waker, executor] {
    waker->pending.store(true);
    asio::post(executor, [waker] { waker->timer.cancel(); });
  });
  connection.interrupt = [waker] {
    waker->pending.store(true);
    waker->timer.cancel();
  };
  const auto& stream_options = body->options();
  auto write_piece = [&](std::string_view piece) -> awaitable<bool> {
    stream.expires_after(impl->options.write_timeout);
    if (chunked) {
      auto [error, written] =
          co_await asio::async_write(stream, http::make_chunk(asio::buffer(piece)), kTuple);
      co_return !error;
    }
    auto [error, written] = co_await asio::async_write(stream, asio::buffer(piece), kTuple);
    co_return !error;
  };
  std::string piece;
  while (!broken) {
    waker->pending.store(false);
    ResponseStream::Take state = body->TakeQueued(piece);
    if (state == ResponseStream::Take::kData) {
      broken = !co_await write_piece(piece);
      continue;
    }
    if (state == ResponseStream::Take::kEnded || impl->draining.load()) {
      break;
    }
    if (waker->pending.load()) {
      continue;
    }
    waker->timer.expires_after(stream_options.heartbeat.empty()
                                   ? std::chrono::milliseconds(3'600'000)
                                   : stream_options.heartbeat_interval);
    auto [wait_error] = co_await waker->timer.async_wait(kTuple);
    if (!wait_error && !stream_options.heartbeat.empty()) {
      broken = !co_await write_piece(stream_options.heartbeat);
    }
  }
  connection.interrupt = nullptr;
  body->SetWakeup(nullptr);
  body->Cancel();  // the producer stops and releases what it holds
  if (!broken && chunked) {
    stream.expires_after(impl->options.write_timeout);
    co_await asio::async_write(stream, http::make_chunk_last(), kTuple);
  }
}

/// Waits until the socket can take more bytes, at most `timeout`; false on timeout or error.
awaitable<bool> WaitWritable(beast::tcp_stream& stream, std::chrono::milliseconds timeout) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(stream.get_executor(), timeout);
  auto outcome = co_await (stream.socket().async_wait(tcp::socket::wait_write, kTuple) ||
                           timer.async_wait(kTuple));
  if (outcome.index() != 0) {
    co_return false;  // the timer fired first: the client stopped reading
  }
  auto [error] = std::get<0>(outcome);
  co_return !error;
}

/// Sends as much of the serializer's head as the socket takes now, flagged MSG_MORE so the
/// kernel holds it for the body that follows; consumes what was sent.
void TrySendHeadCorked(beast::tcp_stream& stream,
                       http::response_serializer<http::empty_body>& serializer) {
  serializer.split(true);
  beast::error_code error;
  std::array<iovec, 16> pieces{};
  std::size_t count = 0;
  std::size_t total = 0;
  bool fits = true;
  serializer.next(error, [&](beast::error_code&, const auto& buffers) {
    for (auto buffer : beast::buffers_range_ref(buffers)) {
      if (count == pieces.size()) {
        fits = false;
        return;
      }
      pieces[count].iov_base = const_cast<void*>(buffer.data());
      pieces[count].iov_len = buffer.size();
      total += buffer.size();
      ++count;
    }
  });
  if (error || !fits || count == 0) {
    return;  // the async write does it all
  }
  msghdr message{};
  message.msg_iov = pieces.data();
  message.msg_iovlen = count;
  ssize_t sent =
      ::sendmsg(stream.socket().native_handle(), &message, MSG_MORE | MSG_NOSIGNAL | MSG_DONTWAIT);
  if (sent > 0) {
    serializer.consume(static_cast<std::size_t>(sent));
  }
}

/// Writes a response whose body is a stored object (HttpResponse::object): the head, then
/// the bytes by sendfile(2) straight from the page cache when the store gives a file span
/// (segments from the local store: no copy, no buffer), else in 64 KiB pieces. Each stall
/// is bounded by `write_timeout`. False when the connection broke (it is closed then).
awaitable<bool> WriteObjectResponse(Impl* impl, beast::tcp_stream& stream,
                                    const FinalResponse& final_response, unsigned version,
                                    bool keep_alive) {
  const HttpResponse& source = final_response.response;
  ObjectReader& reader = *source.object;
  http::response<http::empty_body> head;
  SetHead(head, source, version, *impl->logger);
  head.content_length(reader.length());
  head.keep_alive(keep_alive);
  http::response_serializer<http::empty_body> serializer{head};
  std::uint64_t left = reader.length();
  auto span = reader.file_span();
  auto memory = reader.memory_span();
  if ((span || memory) && left > 0) {
    // The head goes into the socket with MSG_MORE (like nginx's TCP_CORK): it leaves with
    // the first bytes of the body instead of as a packet of its own, which would wake the
    // client once for ~300 bytes. The same non-blocking send the async write would try
    // first; whatever does not fit is finished by the async write below.
    TrySendHeadCorked(stream, serializer);
  }
  if (!serializer.is_header_done()) {
    stream.expires_after(impl->options.write_timeout);
    auto [head_error, head_written] = co_await http::async_write_header(stream, serializer, kTuple);
    if (head_error) {
      co_return false;
    }
  }
  if (span) {
    if (!stream.socket().native_non_blocking()) {
      beast::error_code ignored;
      stream.socket().native_non_blocking(true, ignored);
    }
    const int socket_fd = stream.socket().native_handle();
    off_t offset = static_cast<off_t>(span->offset);
    while (left > 0) {
      // At most 1 MiB per call so one large body does not starve the thread's other
      // connections.
      std::size_t piece = static_cast<std::size_t>(std::min<std::uint64_t>(left, 1 << 20));
      ssize_t sent = ::sendfile(socket_fd, span->fd, &offset, piece);
      if (sent > 0) {
        left -= static_cast<std::uint64_t>(sent);
        continue;
      }
      if (sent < 0 && errno == EINTR) {
        continue;
      }
      if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!co_await WaitWritable(stream, impl->options.write_timeout)) {
          co_return false;
        }
        continue;
      }
      // 0: the file is shorter than announced (replaced underneath); or a socket error.
      impl->logger->warn("sendfile stopped with {} bytes left: {}", left,
                         sent == 0 ? "end of file" : std::strerror(errno));
      co_return false;
    }
    co_return true;
  }
  if (memory) {
    // In memory for as long as the reader lives (static files): written from there.
    stream.expires_after(impl->options.write_timeout);
    auto [write_error, written] = co_await asio::async_write(
        stream, asio::buffer(memory->data(), std::min<std::uint64_t>(memory->size(), left)),
        kTuple);
    co_return !write_error;
  }
  std::vector<char> buffer(64 * 1024);
  while (left > 0) {
    auto read = reader.Read(std::span<char>(buffer.data(), buffer.size()));
    if (!read || *read == 0) {
      impl->logger->warn("object body stopped with {} bytes left: {}", left,
                         read ? "end of object" : read.error().ToString());
      co_return false;
    }
    std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(*read, left));
    stream.expires_after(impl->options.write_timeout);
    auto [write_error, written] =
        co_await asio::async_write(stream, asio::buffer(buffer.data(), take), kTuple);
    if (write_error) {
      co_return false;
    }
    left -= take;
  }
  co_return true;
}

bool IsMalformedRequest(const beast::error_code& error) {
  if (error.category() != http::make_error_code(http::error::end_of_stream).category()) {
    return false;  // socket errors, timeouts, cancellation: the client is gone
  }
  return error != http::error::end_of_stream && error != http::error::partial_message;
}

struct StreamOutcome {
  HttpResponse response;
  /// The body was not read to its end: the connection cannot carry another request.
  bool close_after = false;
  /// The client vanished or stalled mid-body: no response, close.
  bool abandon = false;
  std::string abandon_reason;
};

/// Runs a `stream_body` handler on the pool with a BodyReader over the socket. While it
/// runs, this coroutine does no I/O on the socket: the handler thread owns the reads.
awaitable<StreamOutcome> InvokeStreaming(Impl* impl, Connection& connection, Exchange& exchange,
                                         beast::flat_buffer& buffer,
                                         http::request_parser<http::string_body>& head_parser) {
  const RequestPipeline& pipeline = *impl->pipeline;
  // Switches the body type (moving from the head parser); only the head was parsed.
  http::request_parser<http::buffer_body> body_parser{std::move(head_parser)};
  body_parser.body_limit(exchange.body_limit);
  const std::size_t saved_max = buffer.max_size();
  buffer.max_size(buffer.size() + kStreamBufferBytes);
  SocketBodyReader reader(connection.stream.socket().native_handle(),
                          impl->options.body_idle_timeout, buffer, body_parser,
                          exchange.body_limit);
  exchange.request.body_reader = &reader;
  connection.streaming = true;
  HttpResponse response = co_await AsyncInvokeOnPool(*impl, exchange, use_awaitable);
  connection.streaming = false;
  exchange.request.body_reader = nullptr;
  buffer.max_size(saved_max);

  StreamOutcome outcome;
  outcome.close_after = !body_parser.is_done();
  switch (reader.failure()) {
    case SocketBodyReader::Failure::kNone:
      outcome.response = std::move(response);
      break;
    case SocketBodyReader::Failure::kTooLarge:
      // Nothing was sent yet, so the size problem is still the client's answer.
      outcome.response =
          pipeline.Error(exchange, 413, kCodePayloadTooLarge, reader.error().message);
      break;
    case SocketBodyReader::Failure::kMalformed:
      outcome.response = pipeline.Error(exchange, 400, kCodeBadRequest, reader.error().message);
      break;
    case SocketBodyReader::Failure::kClosed:
    case SocketBodyReader::Failure::kStalled:
      outcome.abandon = true;
      outcome.abandon_reason = fmt::format("streamed body: {}", reader.error().message);
      break;
  }
  co_return outcome;
}

/// Serves one connection: requests one after another until either side closes.
awaitable<void> Session(Impl* impl, std::shared_ptr<Connection> connection, SteadyTime accepted) {
  const ServerOptions& options = impl->options;
  const RequestPipeline& pipeline = *impl->pipeline;
  beast::tcp_stream& stream = connection->stream;
  beast::error_code endpoint_error;
  std::string remote_ip = stream.socket().remote_endpoint(endpoint_error).address().to_string();
  beast::flat_buffer buffer;
  bool first = true;

  while (true) {
    // Between requests: wait for the first byte of the next one.
    SteadyTime head_deadline = accepted + options.header_timeout;
    if (buffer.size() == 0) {
      connection->idle = true;
      if (impl->draining.load()) {
        break;
      }
      stream.expires_after(first ? options.header_timeout : options.keepalive_timeout);
      auto [idle_error, idle_read] =
          co_await stream.async_read_some(buffer.prepare(kReadChunk), kTuple);
      connection->idle = false;
      if (idle_error) {
        break;  // closed by the client, idle timeout, or drain
      }
      buffer.commit(idle_read);
      if (!first) {
        head_deadline = std::chrono::steady_clock::now() + options.header_timeout;
      }
    } else if (!first) {
      head_deadline = std::chrono::steady_clock::now() + options.header_timeout;
    }

    http::request_parser<http::string_body> parser;
    // The route's body limit is known only after the head; Beast's default (1 MiB) would
    // refuse a larger Content-Length while still parsing the head.
    parser.body_limit(boost::none);
    parser.header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(options.max_header_bytes, UINT32_MAX)));
    stream.expires_at(head_deadline);
    auto [head_error, head_read] = co_await http::async_read_header(stream, buffer, parser, kTuple);
    if (head_error) {
      if (head_error == http::error::header_limit || IsMalformedRequest(head_error)) {
        Exchange exchange;
        pipeline.BeginUnparsed(exchange, remote_ip);
        bool too_large = head_error == http::error::header_limit;
        HttpResponse error_response =
            too_large ? pipeline.Error(exchange, 431, kCodeHeaderTooLarge,
                                       fmt::format("request head is larger than {} bytes",
                                                   options.max_header_bytes))
                      : pipeline.Error(exchange, 400, kCodeBadRequest,
                                       fmt::format("malformed request: {}", head_error.message()));
        FinalResponse final_response = pipeline.Finish(exchange, std::move(error_response));
        if (co_await WriteResponse(impl, stream, final_response, 11, false)) {
          co_await LingeringClose(connection);
        }
      }
      break;  // a stalled or vanished client gets no answer
    }

    auto& request = parser.get();
    Exchange exchange;
    HttpHeaders headers;
    headers.reserve(16);
    for (const auto& field : request) {
      headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    pipeline.Begin(exchange, std::string(request.method_string()), std::string(request.target()),
                   std::move(headers), remote_ip);
    const unsigned version = request.version();
    const bool client_keep_alive = request.keep_alive();
    bool close_after = false;  // request bytes left unread: the connection cannot continue
    std::optional<HttpResponse> response;

    if (exchange.early) {
      response = std::move(*exchange.early);
      close_after = !parser.is_done();
    } else if (auto length = parser.content_length(); length && *length > exchange.body_limit) {
      response = pipeline.Error(exchange, 413, kCodePayloadTooLarge,
                                fmt::format("request body of {} bytes is larger than {} bytes",
                                            *length, exchange.body_limit));
      close_after = true;
    } else {
      if (!parser.is_done() && beast::iequals(request[http::field::expect], "100-continue")) {
        // Every check passed: now the client may send the body.
        http::response<http::empty_body> proceed{http::status::continue_, version};
        stream.expires_after(options.write_timeout);
        auto [continue_error, continue_written] =
            co_await http::async_write(stream, proceed, kTuple);
        if (continue_error) {
          pipeline.Abandon(exchange, "write of 100 Continue failed");
          break;
        }
      }
      if (exchange.stream_body) {
        StreamOutcome outcome =
            co_await InvokeStreaming(impl, *connection, exchange, buffer, parser);
        if (outcome.abandon) {
          pipeline.Abandon(exchange, outcome.abandon_reason);
          break;
        }
        response = std::move(outcome.response);
        close_after = outcome.close_after;
      } else {
        parser.body_limit(exchange.body_limit);
        bool abandoned = false;
        while (!parser.is_done()) {
          stream.expires_after(options.body_idle_timeout);
          auto [body_error, body_read] =
              co_await http::async_read_some(stream, buffer, parser, kTuple);
          if (body_error == http::error::body_limit) {
            response = pipeline.Error(
                exchange, 413, kCodePayloadTooLarge,
                fmt::format("request body is larger than {} bytes", exchange.body_limit));
            close_after = true;
            break;
          }
          if (body_error) {
            if (IsMalformedRequest(body_error)) {
              response = pipeline.Error(exchange, 400, kCodeBadRequest,
                                        fmt::format("malformed body: {}", body_error.message()));
              close_after = true;
              break;
            }
            pipeline.Abandon(exchange, fmt::format("reading the body: {}", body_error.message()));
            abandoned = true;
            break;
          }
        }
        if (abandoned) {
          break;
        }
        if (!response) {
          exchange.request.body = std::move(request.body());
          if (exchange.blocking) {
            response = co_await AsyncInvokeOnPool(*impl, exchange, use_awaitable);
          } else {
            response = pipeline.Invoke(exchange);
          }
        }
      }
    }

    FinalResponse final_response = pipeline.Finish(exchange, std::move(*response));
    // A streamed body (Server-Sent Events) ends the connection when it ends.
    const bool streamed = final_response.response.stream != nullptr && !final_response.head &&
                          !IsBodylessStatus(final_response.response.status);
    if (final_response.response.stream && !streamed) {
      final_response.response.stream->Cancel();
    }
    if (streamed) {
      co_await WriteStreamedResponse(impl, *connection, final_response, version);
      break;
    }
    // Draining: finish this request, then close (the client learns it from the header).
    bool keep_alive = client_keep_alive && !close_after && !impl->draining.load();
    bool written = false;
    if (final_response.response.object != nullptr) {
      written = co_await WriteObjectResponse(impl, stream, final_response, version, keep_alive);
    } else {
      written = co_await WriteResponse(impl, stream, final_response, version, keep_alive);
    }
    if (!written) {
      break;
    }
    if (!keep_alive) {
      if (close_after) {
        co_await LingeringClose(connection);
      }
      break;
    }
    first = false;
  }
  Close(stream);
}

/// Session wrapped so that no exception escapes into io_context::run.
awaitable<void> GuardedSession(Impl* impl, std::shared_ptr<Connection> connection,
                               SteadyTime accepted) {
  try {
    co_await Session(impl, connection, accepted);
  } catch (const std::exception& e) {
    impl->logger->error("connection {} failed: {}", connection->id, e.what());
  }
  Close(connection->stream);
}

awaitable<void> AcceptLoop(Impl* impl) {
  auto& acceptor = *impl->acceptor;
  while (true) {
    auto [accept_error, socket] =
        co_await acceptor.async_accept(asio::any_io_executor(asio::make_strand(*impl->io)), kTuple);
    if (accept_error) {
      if (accept_error == asio::error::operation_aborted || !acceptor.is_open()) {
        co_return;
      }
      // Out of file descriptors and the like: back off instead of spinning.
      impl->logger->warn("accept failed: {}", accept_error.message());
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(kTuple);
      continue;
    }
    // Responses are written whole (a head corked with MSG_MORE in front of its body, or one
    // gathered write), so Nagle's algorithm can only hold back a body's last small packet
    // until the client's delayed ACK: 40 ms at the tail of the latency. nginx sets it too.
    beast::error_code nodelay_error;
    socket.set_option(tcp::no_delay(true), nodelay_error);
    std::shared_ptr<Connection> connection;
    {
      std::lock_guard lock(impl->mutex);
      if (impl->draining.load() || impl->connections.size() >= impl->options.max_connections) {
        impl->pipeline->metrics().connections_rejected.Inc();
      } else {
        std::uint64_t id = impl->next_id++;
        impl->pipeline->metrics().connections_open.Inc();
        connection = std::make_shared<Connection>(impl, id, std::move(socket));
        impl->connections.emplace(id, connection);
      }
    }
    if (!connection) {
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    auto executor = connection->stream.get_executor();
    asio::co_spawn(executor,
                   GuardedSession(impl, std::move(connection), std::chrono::steady_clock::now()),
                   asio::detached);
  }
}

void RunIo(Impl* impl) {
  while (true) {
    try {
      impl->io->run();
      return;
    } catch (const std::exception& e) {
      impl->logger->error("HTTP I/O thread caught: {}", e.what());
    }
  }
}

}  // namespace

HttpServer::HttpServer(ServerOptions options, std::shared_ptr<const RequestPipeline> pipeline)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(pipeline))) {}

HttpServer::~HttpServer() { Stop(std::chrono::steady_clock::now()); }

Result<> HttpServer::Start() {
  Impl& impl = *impl_;
  if (impl.io) {
    return MakeError(ErrorCode::kInternal, "HTTP server started twice");
  }
  // sendfile(2) on a connection the client reset raises SIGPIPE, whose default action ends
  // the process (Asio's own writes pass MSG_NOSIGNAL; sendfile has no such flag). A server
  // ignores it and handles EPIPE. Children get the default back (core/api/subprocess.cc).
  ::signal(SIGPIPE, SIG_IGN);
  impl.io = std::make_unique<asio::io_context>(static_cast<int>(impl.options.io_threads));
  impl.work.emplace(impl.io->get_executor());

  tcp::endpoint endpoint;
  beast::error_code error;
  auto address = asio::ip::make_address(impl.options.host, error);
  if (!error) {
    endpoint = tcp::endpoint(address, impl.options.port);
  } else {
    tcp::resolver resolver(*impl.io);
    auto results = resolver.resolve(impl.options.host, std::to_string(impl.options.port),
                                    tcp::resolver::passive, error);
    if (error || results.empty()) {
      impl.work.reset();
      impl.io.reset();
      return MakeError(ErrorCode::kInvalidArgument, "cannot resolve listen host {}: {}",
                       impl.options.host, error ? error.message() : "no address");
    }
    endpoint = results.begin()->endpoint();
  }

  std::string wanted = FormatHostPort(endpoint.address().to_string(), endpoint.port());
  impl.acceptor.emplace(asio::make_strand(*impl.io));
  auto fail = [&](std::string_view step) -> Result<> {
    auto message = error.message();
    impl.acceptor.reset();
    impl.work.reset();
    impl.io.reset();
    return MakeError(ErrorCode::kUnavailable, "cannot listen on {}: {}: {}", wanted, step, message);
  };
  impl.acceptor->open(endpoint.protocol(), error);
  if (error) {
    return fail("open");
  }
  impl.acceptor->set_option(asio::socket_base::reuse_address(true), error);
  if (error) {
    return fail("SO_REUSEADDR");
  }
  impl.acceptor->bind(endpoint, error);
  if (error) {
    return fail("bind");
  }
  impl.acceptor->listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    return fail("listen");
  }
  auto local = impl.acceptor->local_endpoint(error);
  impl.port.store(local.port());
  impl.bound_address = FormatHostPort(local.address().to_string(), local.port());

  impl.handler_pool = std::make_unique<asio::thread_pool>(impl.options.handler_threads);
  asio::co_spawn(impl.acceptor->get_executor(), AcceptLoop(&impl), asio::detached);
  impl.threads.reserve(impl.options.io_threads);
  for (std::size_t i = 0; i < impl.options.io_threads; ++i) {
    impl.threads.emplace_back(RunIo, &impl);
  }
  impl.state.store(ServerState::kListening);
  return {};
}

void HttpServer::Stop(Deadline deadline) noexcept {
  Impl& impl = *impl_;
  if (!impl.io || impl.stopped) {
    return;
  }
  impl.stopped = true;
  try {
    impl.state.store(ServerState::kDraining);
    impl.draining.store(true);
    asio::post(impl.acceptor->get_executor(), [&impl] {
      beast::error_code ignored;
      impl.acceptor->close(ignored);
    });
    // Idle connections close now; busy ones see `draining` when their request is done.
    for (auto& connection : impl.Snapshot()) {
      asio::post(connection->stream.get_executor(), [connection] {
        if (connection->idle) {
          connection->stream.cancel();
        } else if (connection->interrupt) {
          connection->interrupt();  // a streamed response ends now
        }
      });
    }

    std::unique_lock lock(impl.mutex);
    impl.changed.wait_until(lock, deadline, [&] { return impl.connections.empty(); });
    std::size_t left = impl.connections.size();
    lock.unlock();
    if (left > 0) {
      impl.logger->warn(
          "drain deadline reached: closing {} connection(s) still open, {} "
          "blocking handler(s) running",
          left, impl.handlers_running.load());
      for (auto& connection : impl.Snapshot()) {
        asio::post(connection->stream.get_executor(), [connection] { ForceClose(*connection); });
      }
      lock.lock();
      impl.changed.wait_for(lock, std::chrono::milliseconds(200),
                            [&] { return impl.connections.empty(); });
      lock.unlock();
    }

    impl.work.reset();
    impl.io->stop();
    for (auto& thread : impl.threads) {
      thread.join();
    }
    impl.threads.clear();
    if (int running = impl.handlers_running.load(); running > 0) {
      impl.logger->warn("waiting for {} blocking handler(s) to return", running);
    }
    // Handlers not started yet are dropped (their connections are gone); running ones
    // are waited for, since a thread cannot be cancelled.
    impl.handler_pool->stop();
    impl.handler_pool->join();
    impl.acceptor.reset();
    impl.io.reset();  // destroys the remaining coroutine frames and sockets
    impl.handler_pool.reset();
  } catch (const std::exception& e) {
    impl.logger->error("HTTP server stop: {}", e.what());
  }
  impl.state.store(ServerState::kStopped);
}

std::uint16_t HttpServer::port() const noexcept { return impl_->port.load(); }

std::string HttpServer::address() const { return impl_->bound_address; }

ServerState HttpServer::state() const noexcept { return impl_->state.load(); }

std::size_t HttpServer::open_connections() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->connections.size();
}

}  // namespace sg::plugins::gateway
