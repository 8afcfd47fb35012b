// End-to-end tests of the gateway: the real server on 127.0.0.1:0, started through the
// plugin and a TestPluginContext, talked to by a small synchronous Beast client.

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <thread>

#include "core/api/request_context.h"
#include "core/api/services/http.h"
#include "core/api/services/rate_limiter.h"
#include "core/testing/test_context.h"
#include "plugins/gateway/embedded_files.h"
#include "plugins/gateway/gateway_config.h"
#include "plugins/gateway/gateway_plugin.h"

// The largest single allocation made by any thread while tracking is on: proof that a
// streamed body is never held whole (a 40 MiB body would need a >= 40 MiB buffer).
namespace {
std::atomic<bool> g_track_allocations{false};
std::atomic<std::size_t> g_largest_allocation{0};
}  // namespace

// g++ 12 at -O2 flags free() of memory from this operator new as mismatched, although
// both sides of the replacement use malloc/free.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  if (g_track_allocations.load(std::memory_order_relaxed)) {
    std::size_t seen = g_largest_allocation.load(std::memory_order_relaxed);
    while (size > seen && !g_largest_allocation.compare_exchange_weak(seen, size)) {
    }
  }
  if (void* memory = std::malloc(size == 0 ? 1 : size)) {
    return memory;
  }
  throw std::bad_alloc();
}
void operator delete(void* memory) noexcept { std::free(memory); }
void operator delete(void* memory, std::size_t) noexcept { std::free(memory); }
#pragma GCC diagnostic pop

namespace sg::plugins::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

using Response = http::response<http::string_body>;

constexpr auto kIoTimeout = 5s;

/// A blocking HTTP/1.1 client on one connection; every read gives up after kIoTimeout so
/// a broken server fails the test instead of hanging it.
class Client {
 public:
  explicit Client(std::uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    timeval timeout{};
    timeout.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(kIoTimeout).count();
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  }

  Response Send(http::request<http::string_body> request) {
    request.prepare_payload();
    http::write(socket_, request);
    return Read(request.method() == http::verb::head);
  }

  Response Get(std::string target, std::vector<std::pair<std::string, std::string>> headers = {}) {
    return Send(MakeRequest(http::verb::get, std::move(target), std::move(headers)));
  }

  Response Read(bool head = false) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    parser.skip(head);
    http::read(socket_, buffer_, parser);
    return parser.release();
  }

  void WriteRaw(std::string_view bytes) { asio::write(socket_, asio::buffer(bytes)); }

  /// Reads raw bytes until `needle` was seen (true) or the server closed / kIoTimeout
  /// passed (false). Everything read so far stays in `raw()`.
  bool ReadUntil(std::string_view needle) {
    char piece[4096];
    while (raw_.find(needle) == std::string::npos) {
      beast::error_code error;
      std::size_t got = socket_.read_some(asio::buffer(piece), error);
      if (error) {
        return false;
      }
      raw_.append(piece, got);
    }
    return true;
  }
  const std::string& raw() const { return raw_; }

  /// Reads one response whose body may be large without holding it: the head (kept), then
  /// Content-Length bytes through a 64 KiB buffer, handed to `sink`. Returns the head.
  std::string ReadLargeResponse(const std::function<void(const char*, std::size_t)>& sink) {
    if (!ReadUntil("\r\n\r\n")) {
      return {};
    }
    auto end = raw_.find("\r\n\r\n") + 4;
    std::string head = raw_.substr(0, end);
    std::string rest = raw_.substr(end);
    raw_.clear();
    auto at = head.find("Content-Length: ");
    std::uint64_t left = at == std::string::npos ? 0 : std::stoull(head.substr(at + 16));
    std::size_t first = static_cast<std::size_t>(std::min<std::uint64_t>(rest.size(), left));
    sink(rest.data(), first);
    left -= first;
    raw_ = rest.substr(first);  // pipelined bytes of a next response
    std::vector<char> buffer(64 * 1024);
    while (left > 0) {
      beast::error_code error;
      std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, buffer.size()));
      std::size_t got = socket_.read_some(asio::buffer(buffer.data(), want), error);
      if (error) {
        break;
      }
      sink(buffer.data(), got);
      left -= got;
    }
    return head;
  }
  void SetOption(int level, int name, const void* value, socklen_t size) {
    ::setsockopt(socket_.native_handle(), level, name, value, size);
  }
  void Close() {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  /// True when the server closed the connection (EOF or reset) before kIoTimeout;
  /// bytes the server sent first are skipped.
  bool WaitClosed() {
    char sink[4096];
    while (true) {
      beast::error_code error;
      socket_.read_some(asio::buffer(sink), error);
      if (error == asio::error::eof || error == asio::error::connection_reset) {
        return true;
      }
      if (error) {
        return false;  // timeout (EAGAIN) or something unexpected
      }
    }
  }

  static http::request<http::string_body> MakeRequest(
      http::verb method, std::string target,
      std::vector<std::pair<std::string, std::string>> headers = {}, std::string body = {}) {
    http::request<http::string_body> request{method, target, 11};
    request.set(http::field::host, "127.0.0.1");
    for (auto& [name, value] : headers) {
      request.set(name, value);
    }
    request.body() = std::move(body);
    return request;
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  std::string raw_;
};

struct Envelope {
  std::string code;
  std::string message;
  std::string request_id;
};

Envelope ParseEnvelope(const std::string& body) {
  auto value = boost::json::parse(body);
  const auto& error = value.as_object().at("error").as_object();
  return {std::string(error.at("code").as_string()), std::string(error.at("message").as_string()),
          std::string(error.at("request_id").as_string())};
}

std::string HeaderOf(const Response& response, std::string_view name) {
  auto it = response.find(name);
  return it == response.end() ? std::string() : std::string(it->value());
}

bool CanConnect(std::uint16_t port) {
  asio::io_context io;
  tcp::socket socket(io);
  beast::error_code error;
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), error);
  return !error;
}

/// Polls `condition` until it holds or 5 s pass.
bool Eventually(const std::function<bool()>& condition) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

HttpHandler Reply(std::string body) {
  return
      [body](const HttpRequest&) -> Result<HttpResponse> { return HttpResponse::Text(200, body); };
}

GatewayConfig TestConfig() {
  GatewayConfig config;
  config.listen = "127.0.0.1:0";
  config.io_threads = 2;
  config.handler_threads = 2;
  return config;
}

class GatewayServerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (plugin_) {
      plugin_->Stop(std::chrono::steady_clock::now() + 5s);
    }
  }

  /// Inits the plugin with `config`, lets the test add routes, starts it.
  void StartGateway(GatewayConfig config, const std::function<void(HttpRouter&)>& add_routes) {
    context_ = std::make_unique<testing::TestPluginContext>(
        testing::TestPluginContext::MakeConfig(config));
    plugin_ = std::make_unique<GatewayPlugin>();
    auto init = plugin_->Init(*context_);
    ASSERT_TRUE(init) << init.error().ToString();
    auto router = context_->Require<HttpRouter>();
    ASSERT_TRUE(router);
    add_routes(**router);
    auto started = plugin_->Start();
    ASSERT_TRUE(started) << started.error().ToString();
    port_ = plugin_->port();
    ASSERT_NE(port_, 0);
  }

  double CounterValue(const std::string& name, const std::vector<std::string>& label_names,
                      const std::vector<std::string>& values) {
    return context_->metrics().CounterFamily(name, "", label_names).WithLabels(values).Value();
  }

  std::unique_ptr<testing::TestPluginContext> context_;
  std::unique_ptr<GatewayPlugin> plugin_;
  std::uint16_t port_ = 0;
};

TEST_F(GatewayServerTest, HealthIsDownBeforeStartAndOkWhileListening) {
  GatewayPlugin idle;
  EXPECT_EQ(idle.CheckHealth().status, HealthStatus::kDown);

  StartGateway(TestConfig(), [](HttpRouter&) {});

  EXPECT_EQ(plugin_->CheckHealth().status, HealthStatus::kOk);
}

TEST_F(GatewayServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  StartGateway(TestConfig(), [](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("GET", "/a", Reply("first")));
    ASSERT_TRUE(router.AddRoute("GET", "/b", Reply("second")));
  });
  Client client(port_);

  Response first = client.Get("/a");
  Response second = client.Get("/b");

  EXPECT_EQ(first.result_int(), 200);
  EXPECT_EQ(first.body(), "first");
  EXPECT_TRUE(first.keep_alive());
  EXPECT_EQ(second.result_int(), 200);
  EXPECT_EQ(second.body(), "second");
  EXPECT_EQ(HeaderOf(second, "Server"), "streamgate");
}

TEST_F(GatewayServerTest, PathParamsAndQueryReachTheHandler) {
  StartGateway(TestConfig(), [](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("GET", "/items/{id}", [](const HttpRequest& request) {
      return Result<HttpResponse>(
          HttpResponse::Text(200, fmt::format("{}|{}|{}", request.PathParam("id"),
                                              request.Query("q").value_or("-"), request.path)));
    }));
  });
  Client client(port_);

  Response response = client.Get("/items/a%20b?q=x+y");

  EXPECT_EQ(response.body(), "a b|x y|/items/a b");
}

TEST_F(GatewayServerTest, ValidRequestIdIsEchoedAndMissingOneIsGenerated) {
  StartGateway(TestConfig(), [](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("GET", "/id", [](const HttpRequest& request) {
      return Result<HttpResponse>(HttpResponse::Text(200, request.context.request_id));
    }));
  });
  Client client(port_);

  Response echoed = client.Get("/id", {{"X-Request-Id", "client-id_1.2"}});
  Response generated = client.Get("/id");

  EXPECT_EQ(HeaderOf(echoed, "X-Request-Id"), "client-id_1.2");
  EXPECT_EQ(echoed.body(), "client-id_1.2");
  std::string id = HeaderOf(generated, "X-Request-Id");
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(generated.body(), id);
}

TEST_F(GatewayServerTest, InvalidIncomingRequestIdIsReplaced) {
  StartGateway(TestConfig(),
               [](HttpRouter& router) { ASSERT_TRUE(router.AddRoute("GET", "/id", Reply("ok"))); });
  Client client(port_);

  Response spaces = client.Get("/id", {{"X-Request-Id", "has spaces;and<script>"}});
  Response too_long = client.Get("/id", {{"X-Request-Id", std::string(129, 'a')}});

  EXPECT_EQ(HeaderOf(spaces, "X-Request-Id").size(), 16u);
  EXPECT_EQ(HeaderOf(too_long, "X-Request-Id").size(), 16u);
}

TEST_F(GatewayServerTest, TraceparentIsContinuedWithANewServerSpan) {
  StartGateway(TestConfig(), [](HttpRouter& router) {
    RouteOptions inline_options;
    inline_options.blocking = false;
    auto handler = [](const HttpRequest&) -> Result<HttpResponse> {
      const RequestContext* context = CurrentRequestContext();
      if (context == nullptr) {
        return MakeError(ErrorCode::kInternal, "no request context installed");
      }
      return HttpResponse::Text(200, context->trace.trace_id + " " + context->trace.span_id);
    };
    ASSERT_TRUE(router.AddRoute("GET", "/trace", handler));
    ASSERT_TRUE(router.AddRoute("GET", "/trace-inline", handler, inline_options));
  });
  Client client(port_);
  const std::string parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

  Response pooled = client.Get("/trace", {{"traceparent", parent}});
  Response inlined = client.Get("/trace-inline", {{"traceparent", parent}});
  Response fresh = client.Get("/trace");

  EXPECT_EQ(pooled.body().substr(0, 32), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_NE(pooled.body().substr(33), "b7ad6b7169203331");
  EXPECT_EQ(inlined.body().substr(0, 32), "0af7651916cd43dd8448eb211c80319c");
  ASSERT_EQ(fresh.result_int(), 200);
  EXPECT_NE(fresh.body().substr(0, 32), "0af7651916cd43dd8448eb211c80319c");
}

TEST_F(GatewayServerTest, CorsSimpleRequestFromAllowedOriginGetsHeaders) {
  GatewayConfig config = TestConfig();
  config.cors.allowed_origins = {"https://app.example"};
  StartGateway(config, [](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("GET", "/data", Reply("ok")));
  });
  Client client(port_);

  Response allowed = client.Get("/data", {{"Origin", "https://app.example"}});
  Response other = client.Get("/data", {{"Origin", "https://evil.example"}});

  EXPECT_EQ(HeaderOf(allowed, "Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_EQ(HeaderOf(allowed, "Vary"), "Origin");
  EXPECT_NE(HeaderOf(allowed, "Access-Control-Expose-Headers").find("X-Request-Id"),
            std::string::npos);
  EXPECT_EQ(other.result_int(), 200);
  EXPECT_EQ(HeaderOf(other, "Access-Control-Allow-Origin"), "");
}

TEST_F(GatewayServerTest, CorsPreflightIsAnsweredWithoutHandlerOrRateLimit) {
  GatewayConfig config = TestConfig();
  config.rate_limit.write = {1, 1};
  auto calls = std::make_shared<std::atomic<int>>(0);
  StartGateway(config, [calls](HttpRouter& router) {
    RouteOptions write;
    write.rate_class = "write";
    ASSERT_TRUE(router.AddRoute(
        "POST", "/upload",
        [calls](const HttpRequest&) -> Result<HttpResponse> {
          ++*calls;
          return HttpResponse::Text(200, "ok");
        },
        write));
  });
  Client client(port_);
  auto preflight = Client::MakeRequest(
      http::verb::options, "/upload",
      {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "POST"}});

  Response first = client.Send(preflight);
  Response second = client.Send(preflight);

  EXPECT_EQ(first.result_int(), 204);
  EXPECT_EQ(second.result_int(), 204);
  EXPECT_EQ(HeaderOf(first, "Access-Control-Allow-Origin"), "*");
  EXPECT_NE(HeaderOf(first, "Access-Control-Allow-Methods").find("PATCH"), std::string::npos);
  EXPECT_NE(HeaderOf(first, "Access-Control-Allow-Headers").find("Upload-Offset"),
            std::string::npos);
  EXPECT_EQ(HeaderOf(first, "Access-Control-Max-Age"), "600");
  EXPECT_EQ(calls->load(), 0);
}

TEST_F(GatewayServerTest, CorsPreflightFromDisallowedOriginIsForbidden) {
  GatewayConfig config = TestConfig();
  config.cors.allowed_origins = {"https://app.example"};
  StartGateway(config, [](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("POST", "/upload", Reply("ok")));
  });
  Client client(port_);

  Response response = client.Send(Client::MakeRequest(
      http::verb::options, "/upload",
      {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}}));

  EXPECT_EQ(response.result_int(), 403);
  EXPECT_EQ(ParseEnvelope(response.body()).code, "forbidden");
  EXPECT_EQ(HeaderOf(response, "Access-Control-Allow-Origin"), "");
}

TEST_F(GatewayServerTest, ReloadChangesCorsOriginsAtRuntime) {
  GatewayConfig config = TestConfig();
  config.cors.allowed_origins = {"https://old.example"};
  StartGateway(config, [](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("GET", "/data", Reply("ok")));
  });
  Client client(port_);
  ASSERT_EQ(HeaderOf(client.Get("/data", {{"Origin", "https://new.example"}}),
                     "Access-Control-Allow-Origin"),
            "");

  GatewayConfig fresh = config;
  fresh.cors.allowed_origins = {"https://new.example"};
  ASSERT_TRUE(plugin_->Reload(TypedPluginConfig<GatewayConfig>(fresh)));

  Response after = client.Get("/data", {{"Origin", "https://new.example"}});
  Response old = client.Get("/data", {{"Origin", "https://old.example"}});
  EXPECT_EQ(HeaderOf(after, "Access-Control-Allow-Origin"), "https://new.example");
  EXPECT_EQ(HeaderOf(old, "Access-Control-Allow-Origin"), "");
}

TEST_F(GatewayServerTest, UnknownPathIsNotFoundEnvelope) {
  StartGateway(TestConfig(), [](HttpRouter&) {});
  Client client(port_);

  Response response = client.Get("/nope", {{"X-Request-Id", "rid-404"}});

  EXPECT_EQ(response.result_int(), 404);
  EXPECT_EQ(HeaderOf(response, "Content-Type"), "application/json");
  Envelope envelope = ParseEnvelope(response.body());
  EXPECT_EQ(envelope.code, "not_found");
  EXPECT_EQ(envelope.request_id, "rid-404");
  EXPECT_TRUE(response.keep_alive());
}

TEST_F(GatewayServerTest, WrongMethodIsMethodNotAllowedWithAllow) {
  StartGateway(TestConfig(), [](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("GET", "/items/{id}", Reply("ok")));
    ASSERT_TRUE(router.AddRoute("PUT", "/items/{id}", Reply("ok")));
  });
  Client client(port_);

  Response response = client.Send(Client::MakeRequest(http::verb::delete_, "/items/1"));

  EXPECT_EQ(response.result_int(), 405);
  EXPECT_EQ(HeaderOf(response, "Allow"), "GET, HEAD, PUT");
  EXPECT_EQ(ParseEnvelope(response.body()).code, "method_not_allowed");
}

TEST_F(GatewayServerTest, DotDotSegmentIsBadRequest) {
  StartGateway(TestConfig(), [](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("GET", "/files/{name}", Reply("ok")));
  });
  Client client(port_);

  Response dots = client.Get("/files/%2e%2e");
  Response absolute = client.Get("http://127.0.0.1/files/x");

  EXPECT_EQ(dots.result_int(), 400);
  EXPECT_EQ(ParseEnvelope(dots.body()).code, "bad_request");
  EXPECT_EQ(absolute.result_int(), 400);
}

TEST_F(GatewayServerTest, HeadIsAnsweredByGetWithLengthButNoBody) {
  StartGateway(TestConfig(), [](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("GET", "/video", Reply("0123456789")));
  });
  Client client(port_);

  Response head = client.Send(Client::MakeRequest(http::verb::head, "/video"));
  Response get = client.Get("/video");  // same connection: no stray body bytes in between

  EXPECT_EQ(head.result_int(), 200);
  EXPECT_EQ(HeaderOf(head, "Content-Length"), "10");
  EXPECT_EQ(head.body(), "");
  EXPECT_EQ(get.body(), "0123456789");
}

TEST_F(GatewayServerTest, BodyOverRouteLimitIsPayloadTooLarge) {
  StartGateway(TestConfig(), [](HttpRouter& router) {
    RouteOptions small;
    small.max_body_bytes = 10;
    ASSERT_TRUE(router.AddRoute("POST", "/small", Reply("ok"), small));
  });
  Client client(port_);

  Response response =
      client.Send(Client::MakeRequest(http::verb::post, "/small", {}, std::string(11, 'x')));

  EXPECT_EQ(response.result_int(), 413);
  EXPECT_EQ(ParseEnvelope(response.body()).code, "payload_too_large");
  EXPECT_FALSE(response.keep_alive());
}

TEST_F(GatewayServerTest, ChunkedBodyOverRouteLimitIsPayloadTooLarge) {
  StartGateway(TestConfig(), [](HttpRouter& router) {
    RouteOptions small;
    small.max_body_bytes = 10;
    ASSERT_TRUE(router.AddRoute("POST", "/small", Reply("ok"), small));
  });
  Client client(port_);

  client.WriteRaw(
      "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "8\r\n01234567\r\n8\r\n01234567\r\n0\r\n\r\n");
  Response response = client.Read();

  EXPECT_EQ(response.result_int(), 413);
}

TEST_F(GatewayServerTest, BodyWithinLimitReachesHandler) {
  StartGateway(TestConfig(), [](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("POST", "/echo", [](const HttpRequest& request) {
      return Result<HttpResponse>(HttpResponse::Text(200, request.body));
    }));
  });
  Client client(port_);
  std::string body(200'000, 'b');

  Response response = client.Send(Client::MakeRequest(http::verb::post, "/echo", {}, body));

  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response.body(), body);
}

TEST_F(GatewayServerTest, BodyAboveOneMebibyteIsAcceptedByRouteWithLargerLimit) {
  StartGateway(TestConfig(), [](HttpRouter& router) {
    RouteOptions chunk;
    chunk.max_body_bytes = 4 * 1024 * 1024;
    chunk.rate_class = "write";
    ASSERT_TRUE(router.AddRoute(
        "PUT", "/chunk",
        [](const HttpRequest& request) {
          return Result<HttpResponse>(HttpResponse::Text(200, std::to_string(request.body.size())));
        },
        chunk));
  });
  Client client(port_);

  Response response = client.Send(
      Client::MakeRequest(http::verb::put, "/chunk", {}, std::string(3 * 1024 * 1024, 'c')));

  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response.body(), std::to_string(3 * 1024 * 1024));
}

TEST_F(GatewayServerTest, DefaultBodyLimitComesFromConfig) {
  GatewayConfig config = TestConfig();
  config.max_body_bytes = ByteSize{100};
  StartGateway(config,
               [](HttpRouter& router) { ASSERT_TRUE(router.AddRoute("POST", "/p", Reply("ok"))); });

  Response small =
      Client(port_).Send(Client::MakeRequest(http::verb::post, "/p", {}, std::string(100, 'x')));
  Response large =
      Client(port_).Send(Client::MakeRequest(http::verb::post, "/p", {}, std::string(101, 'x')));

  EXPECT_EQ(small.result_int(), 200);
  EXPECT_EQ(large.result_int(), 413);
}

TEST_F(GatewayServerTest, OversizedHeaderIsHeaderTooLargeAndClosed) {
  GatewayConfig config = TestConfig();
  config.max_header_bytes = ByteSize{1024};
  StartGateway(config,
               [](HttpRouter& router) { ASSERT_TRUE(router.AddRoute("GET", "/a", Reply("ok"))); });
  Client client(port_);

  Response response = client.Get("/a", {{"X-Big", std::string(4096, 'h')}});

  EXPECT_EQ(response.result_int(), 431);
  EXPECT_EQ(ParseEnvelope(response.body()).code, "header_too_large");
  EXPECT_FALSE(response.keep_alive());
  EXPECT_TRUE(client.WaitClosed());
}

TEST_F(GatewayServerTest, MalformedRequestLineIsBadRequest) {
  StartGateway(TestConfig(), [](HttpRouter&) {});
  Client client(port_);

  client.WriteRaw("GET /a HTTP/9.x\r\n\r\n");
  Response response = client.Read();

  EXPECT_EQ(response.result_int(), 400);
  EXPECT_EQ(ParseEnvelope(response.body()).code, "bad_request");
}

TEST_F(GatewayServerTest, ThrowingHandlerGives500AndServerKeepsServing) {
  StartGateway(TestConfig(), [](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("GET", "/boom", [](const HttpRequest&) -> Result<HttpResponse> {
      throw std::runtime_error("secret detail");
    }));
    ASSERT_TRUE(router.AddRoute("GET", "/ok", Reply("fine")));
  });

  Response boom = Client(port_).Get("/boom", {{"X-Request-Id", "rid-500"}});
  Response after = Client(port_).Get("/ok");

  EXPECT_EQ(boom.result_int(), 500);
  Envelope envelope = ParseEnvelope(boom.body());
  EXPECT_EQ(envelope.code, "internal");
  EXPECT_EQ(envelope.message, "internal error (request id rid-500)");
  EXPECT_EQ(after.result_int(), 200);
  EXPECT_EQ(after.body(), "fine");
  EXPECT_EQ(CounterValue("streamgate_http_handler_exceptions_total", {}, {}), 1);
}

TEST_F(GatewayServerTest, ResultErrorsMapToStatusAndCode) {
  StartGateway(TestConfig(), [](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("GET", "/missing", [](const HttpRequest&) -> Result<HttpResponse> {
      return MakeError(ErrorCode::kNotFound, "content {} does not exist", "abc");
    }));
    ASSERT_TRUE(router.AddRoute("GET", "/conflict", [](const HttpRequest&) -> Result<HttpResponse> {
      return MakeError(ErrorCode::kAlreadyExists, "already there");
    }));
    ASSERT_TRUE(router.AddRoute("GET", "/down", [](const HttpRequest&) -> Result<HttpResponse> {
      return MakeError(ErrorCode::kUnavailable, "chain rpc unreachable");
    }));
    ASSERT_TRUE(router.AddRoute("GET", "/bug", [](const HttpRequest&) -> Result<HttpResponse> {
      return MakeError(ErrorCode::kInternal, "open /var/secret failed");
    }));
  });
  Client client(port_);

  Response missing = client.Get("/missing");
  Response conflict = client.Get("/conflict");
  Response down = client.Get("/down");
  Response bug = client.Get("/bug", {{"X-Request-Id", "rid-bug"}});

  EXPECT_EQ(missing.result_int(), 404);
  EXPECT_EQ(ParseEnvelope(missing.body()).code, "not_found");
  EXPECT_EQ(ParseEnvelope(missing.body()).message, "content abc does not exist");
  EXPECT_EQ(conflict.result_int(), 409);
  EXPECT_EQ(ParseEnvelope(conflict.body()).code, "already_exists");
  EXPECT_EQ(down.result_int(), 503);
  EXPECT_EQ(ParseEnvelope(down.body()).code, "unavailable");
  EXPECT_EQ(bug.result_int(), 500);
  EXPECT_EQ(ParseEnvelope(bug.body()).message, "internal error (request id rid-bug)");
}

TEST_F(GatewayServerTest, HandlerFramingMistakesAreContained) {
  StartGateway(TestConfig(), [](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("GET", "/interim", [](const HttpRequest&) {
      return Result<HttpResponse>(HttpResponse::Text(101, "switch?"));
    }));
    ASSERT_TRUE(router.AddRoute("GET", "/chunked", [](const HttpRequest&) {
      HttpResponse response = HttpResponse::Text(200, "plain");
      response.SetHeader("Transfer-Encoding", "chunked");
      response.SetHeader("Content-Length", "999");
      return Result<HttpResponse>(std::move(response));
    }));
  });
  Client client(port_);

  Response interim = client.Get("/interim");
  Response chunked = client.Get("/chunked");
  Response again = client.Get("/chunked");  // the connection's framing is still intact

  EXPECT_EQ(interim.result_int(), 500);
  EXPECT_EQ(ParseEnvelope(interim.body()).code, "internal");
  EXPECT_EQ(chunked.body(), "plain");
  EXPECT_EQ(HeaderOf(chunked, "Content-Length"), "5");
  EXPECT_EQ(again.body(), "plain");
}

TEST_F(GatewayServerTest, RateLimitRefusesWith429AndHeaders) {
  GatewayConfig config = TestConfig();
  config.rate_limit.read = {0.01, 2};  // one token per 100 s
  StartGateway(config, [](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("GET", "/r", Reply("ok")));
    RouteOptions unlimited;
    unlimited.rate_class = "none";
    ASSERT_TRUE(router.AddRoute("GET", "/healthz", Reply("ok"), unlimited));
  });
  Client client(port_);

  Response first = client.Get("/r");
  Response second = client.Get("/r");
  Response refused = client.Get("/r");

  EXPECT_EQ(first.result_int(), 200);
  EXPECT_EQ(HeaderOf(first, "RateLimit-Limit"), "2");
  EXPECT_EQ(HeaderOf(first, "RateLimit-Remaining"), "1");
  EXPECT_EQ(second.result_int(), 200);
  EXPECT_EQ(HeaderOf(second, "RateLimit-Remaining"), "0");
  ASSERT_EQ(refused.result_int(), 429);
  EXPECT_EQ(ParseEnvelope(refused.body()).code, "rate_limited");
  int retry_after = std::stoi(HeaderOf(refused, "Retry-After"));
  EXPECT_GE(retry_after, 99);
  EXPECT_LE(retry_after, 100);
  EXPECT_EQ(HeaderOf(refused, "RateLimit-Remaining"), "0");
  EXPECT_FALSE(HeaderOf(refused, "RateLimit-Reset").empty());
  EXPECT_EQ(CounterValue("streamgate_http_rate_limited_total", {"class"}, {"read"}), 1);
  for (int i = 0; i < 5; ++i) {
    Response health = client.Get("/healthz");
    EXPECT_EQ(health.result_int(), 200);
    EXPECT_EQ(HeaderOf(health, "RateLimit-Limit"), "");
  }
}

TEST_F(GatewayServerTest, DefaultRatesDoNotThrottleAParallelUpload) {
  StartGateway(TestConfig(), [](HttpRouter& router) {
    RouteOptions write;
    write.rate_class = "write";
    ASSERT_TRUE(router.AddRoute("PUT", "/upload/{id}/chunk/{n}", Reply("ok"), write));
  });
  Client client(port_);

  // 40 chunk PUTs back to back (4 parallel uploads' worth of retries and chunks).
  for (int n = 0; n < 40; ++n) {
    Response response = client.Send(
        Client::MakeRequest(http::verb::put, fmt::format("/upload/u/chunk/{}", n), {}, "c"));
    ASSERT_EQ(response.result_int(), 200) << n;
  }
}

TEST_F(GatewayServerTest, HalfRequestLineIsClosedAfterHeaderTimeout) {
  GatewayConfig config = TestConfig();
  config.header_timeout = std::chrono::milliseconds(300);
  StartGateway(config, [](HttpRouter&) {});
  Client client(port_);

  client.WriteRaw("GET /pa");

  EXPECT_TRUE(client.WaitClosed());
}

TEST_F(GatewayServerTest, StalledBodyIsClosedAfterBodyIdleTimeout) {
  GatewayConfig config = TestConfig();
  config.body_idle_timeout = std::chrono::milliseconds(300);
  StartGateway(
      config, [](HttpRouter& router) { ASSERT_TRUE(router.AddRoute("POST", "/up", Reply("ok"))); });
  Client client(port_);

  client.WriteRaw("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789");

  EXPECT_TRUE(client.WaitClosed());
}

TEST_F(GatewayServerTest, IdleKeepAliveConnectionIsClosedAfterKeepaliveTimeout) {
  GatewayConfig config = TestConfig();
  config.keepalive_timeout = std::chrono::milliseconds(200);
  StartGateway(config,
               [](HttpRouter& router) { ASSERT_TRUE(router.AddRoute("GET", "/a", Reply("ok"))); });
  Client client(port_);
  ASSERT_EQ(client.Get("/a").result_int(), 200);

  EXPECT_TRUE(client.WaitClosed());
}

TEST_F(GatewayServerTest, ExpectContinueGets100ThenFinalResponse) {
  StartGateway(TestConfig(), [](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("POST", "/echo", [](const HttpRequest& request) {
      return Result<HttpResponse>(HttpResponse::Text(201, request.body));
    }));
  });
  Client client(port_);

  client.WriteRaw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  Response interim = client.Read();
  client.WriteRaw("hello");
  Response final_response = client.Read();

  EXPECT_EQ(interim.result_int(), 100);
  EXPECT_EQ(final_response.result_int(), 201);
  EXPECT_EQ(final_response.body(), "hello");
}

TEST_F(GatewayServerTest, ExpectContinueOverLimitGets413WithoutContinue) {
  StartGateway(TestConfig(), [](HttpRouter& router) {
    RouteOptions small;
    small.max_body_bytes = 4;
    ASSERT_TRUE(router.AddRoute("POST", "/echo", Reply("ok"), small));
  });
  Client client(port_);

  client.WriteRaw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  Response response = client.Read();

  EXPECT_EQ(response.result_int(), 413);
}

TEST_F(GatewayServerTest, ConnectionsBeyondMaximumAreClosedAndCounted) {
  GatewayConfig config = TestConfig();
  config.max_connections = 1;
  StartGateway(config,
               [](HttpRouter& router) { ASSERT_TRUE(router.AddRoute("GET", "/a", Reply("ok"))); });
  Client first(port_);
  ASSERT_EQ(first.Get("/a").result_int(), 200);  // registered and kept alive

  Client second(port_);

  EXPECT_TRUE(second.WaitClosed());
  EXPECT_EQ(CounterValue("streamgate_http_connections_rejected_total", {}, {}), 1);
  EXPECT_EQ(first.Get("/a").result_int(), 200);
}

TEST_F(GatewayServerTest, MetricsCountRequestsByRoutePattern) {
  StartGateway(TestConfig(), [](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("GET", "/items/{id}", Reply("ok")));
  });
  Client client(port_);

  client.Get("/items/1");
  client.Get("/items/2");
  client.Get("/unknown");

  EXPECT_EQ(CounterValue("streamgate_http_requests_total", {"route", "method", "status"},
                         {"/items/{id}", "GET", "200"}),
            2);
  EXPECT_EQ(CounterValue("streamgate_http_requests_total", {"route", "method", "status"},
                         {"unmatched", "GET", "404"}),
            1);
  std::string text = context_->registry().RenderPrometheus();
  EXPECT_NE(text.find("streamgate_http_requests_total{"), std::string::npos);
  EXPECT_NE(text.find("route=\"/items/{id}\""), std::string::npos);
  EXPECT_NE(text.find("streamgate_http_request_duration_seconds"), std::string::npos);
}

TEST_F(GatewayServerTest, ServesEmbeddedOpenApiDocument) {
  StartGateway(TestConfig(), [](HttpRouter&) {});
  Client client(port_);

  Response response = client.Get("/api/v1/openapi.yaml");

  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(HeaderOf(response, "Content-Type"), "application/yaml");
  EXPECT_EQ(response.body(), std::string(OpenApiYaml()));
  EXPECT_EQ(response.body().rfind("openapi:", 0), 0u);
}

TEST_F(GatewayServerTest, AddRouteAfterStartIsRefused) {
  StartGateway(TestConfig(), [](HttpRouter&) {});

  auto added = (*context_->Require<HttpRouter>())->AddRoute("GET", "/late", Reply("x"));

  ASSERT_FALSE(added);
  EXPECT_EQ(added.error().code, ErrorCode::kInternal);
}

TEST_F(GatewayServerTest, ProvidesInMemoryRateLimiterUnlessOneExists) {
  StartGateway(TestConfig(), [](HttpRouter&) {});

  EXPECT_NE(context_->Find<RateLimiter>(), nullptr);
}

/// A limiter that refuses everything and counts calls (stands in for a Redis adapter).
class RefusingLimiter final : public RateLimiter {
 public:
  RateLimitDecision Take(std::string_view key, const RateLimitRule& rule, double) override {
    ++calls;
    std::lock_guard lock(mutex);
    last_key = std::string(key);
    RateLimitDecision decision;
    decision.allowed = false;
    decision.limit = rule.burst;
    decision.retry_after = std::chrono::milliseconds(1500);
    return decision;
  }
  std::atomic<int> calls{0};
  std::mutex mutex;
  std::string last_key;
};

TEST_F(GatewayServerTest, UsesRateLimiterProvidedBeforeInit) {
  context_ = std::make_unique<testing::TestPluginContext>(
      testing::TestPluginContext::MakeConfig(TestConfig()));
  auto limiter = std::make_shared<RefusingLimiter>();
  ASSERT_TRUE(context_->Provide<RateLimiter>(limiter));
  plugin_ = std::make_unique<GatewayPlugin>();
  ASSERT_TRUE(plugin_->Init(*context_));
  ASSERT_TRUE(plugin_->Start());

  Response response = Client(plugin_->port()).Get("/api/v1/openapi.yaml");

  EXPECT_EQ(response.result_int(), 429);
  EXPECT_EQ(HeaderOf(response, "Retry-After"), "2");
  EXPECT_EQ(limiter->calls.load(), 1);
  std::lock_guard lock(limiter->mutex);
  EXPECT_EQ(limiter->last_key, "read|127.0.0.1");
}

TEST_F(GatewayServerTest, StartFailsWithUnavailableWhenPortIsTaken) {
  StartGateway(TestConfig(), [](HttpRouter&) {});
  GatewayConfig config = TestConfig();
  config.listen = fmt::format("127.0.0.1:{}", port_);
  testing::TestPluginContext context(testing::TestPluginContext::MakeConfig(config));
  GatewayPlugin second;
  ASSERT_TRUE(second.Init(context));

  auto started = second.Start();

  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, ErrorCode::kUnavailable);
}

TEST_F(GatewayServerTest, GracefulDrainFinishesInFlightRequestAndRefusesNewConnections) {
  auto entered = std::make_shared<std::promise<void>>();
  auto release = std::make_shared<std::promise<void>>();
  std::shared_future<void> released = release->get_future().share();
  StartGateway(TestConfig(), [&](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("GET", "/slow", [entered, released](const HttpRequest&) {
      entered->set_value();
      released.wait();
      return Result<HttpResponse>(HttpResponse::Text(200, std::string(100'000, 's')));
    }));
    ASSERT_TRUE(router.AddRoute("GET", "/fast", Reply("ok")));
  });
  Client busy(port_);
  Client idle(port_);
  ASSERT_EQ(idle.Get("/fast").result_int(), 200);
  busy.WriteRaw("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(entered->get_future().wait_for(kIoTimeout), std::future_status::ready);

  std::atomic<bool> stop_returned{false};
  std::thread stopper([&] {
    plugin_->Stop(std::chrono::steady_clock::now() + 5s);
    stop_returned = true;
  });

  EXPECT_TRUE(Eventually([&] { return plugin_->CheckHealth().status == HealthStatus::kDegraded; }));
  EXPECT_TRUE(Eventually([&] { return !CanConnect(port_); }));
  EXPECT_TRUE(idle.WaitClosed());
  EXPECT_FALSE(stop_returned.load());
  release->set_value();
  Response response = busy.Read();
  stopper.join();

  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response.body().size(), 100'000u);
  EXPECT_FALSE(response.keep_alive());
  EXPECT_TRUE(stop_returned.load());
  EXPECT_EQ(plugin_->CheckHealth().status, HealthStatus::kDown);
}

TEST_F(GatewayServerTest, DrainDeadlineClosesConnectionsThatDoNotFinish) {
  auto release = std::make_shared<std::promise<void>>();
  std::shared_future<void> released = release->get_future().share();
  auto entered = std::make_shared<std::promise<void>>();
  StartGateway(TestConfig(), [&](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("GET", "/stuck", [entered, released](const HttpRequest&) {
      entered->set_value();
      released.wait();
      return Result<HttpResponse>(HttpResponse::Text(200, "late"));
    }));
  });
  Client busy(port_);
  busy.WriteRaw("GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(entered->get_future().wait_for(kIoTimeout), std::future_status::ready);

  std::thread stopper([&] { plugin_->Stop(std::chrono::steady_clock::now() + 200ms); });
  // The connection is closed at the deadline although the handler still runs.
  EXPECT_TRUE(busy.WaitClosed());
  release->set_value();  // lets Stop finish waiting for the handler thread
  stopper.join();

  EXPECT_EQ(plugin_->CheckHealth().status, HealthStatus::kDown);
}

// ---- Streamed response bodies (HttpResponse::stream, Server-Sent Events) ------------------

/// A route whose handler hands out a ResponseStream the test then produces into. The
/// cancel count is shared: the server may cancel a stream after the test body (and this
/// object) ended, when TearDown stops the gateway.
struct StreamRoute {
  std::mutex mutex;
  std::vector<std::shared_ptr<ResponseStream>> streams;
  std::shared_ptr<std::atomic<int>> cancelled = std::make_shared<std::atomic<int>>(0);

  HttpHandler Handler(ResponseStream::Options options) {
    return [this, options](const HttpRequest&) -> Result<HttpResponse> {
      auto stream = std::make_shared<ResponseStream>(options);
      stream->OnCancel([count = cancelled] { ++*count; });
      {
        std::lock_guard lock(mutex);
        streams.push_back(stream);
      }
      HttpResponse response;
      response.SetHeader("Content-Type", "text/event-stream");
      response.stream = stream;
      return response;
    };
  }
  std::shared_ptr<ResponseStream> At(std::size_t index) {
    std::lock_guard lock(mutex);
    return index < streams.size() ? streams[index] : nullptr;
  }
};

TEST_F(GatewayServerTest, StreamedResponseDeliversEachPieceAsItIsPushedThenEnds) {
  StreamRoute route;
  StartGateway(TestConfig(), [&](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("GET", "/events", route.Handler({}), {.blocking = false}));
  });
  Client client(port_);
  client.WriteRaw("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(client.ReadUntil("\r\n\r\n"));
  EXPECT_NE(client.raw().find("Transfer-Encoding: chunked"), std::string::npos) << client.raw();
  EXPECT_NE(client.raw().find("text/event-stream"), std::string::npos);
  ASSERT_TRUE(Eventually([&] { return route.At(0) != nullptr; }));
  // The second piece is pushed only after the first arrived: delivery is not batched.
  ASSERT_TRUE(route.At(0)->Push("data: one\n\n"));
  ASSERT_TRUE(client.ReadUntil("data: one"));
  ASSERT_TRUE(route.At(0)->Push("data: two\n\n"));
  ASSERT_TRUE(client.ReadUntil("data: two"));
  route.At(0)->End();
  EXPECT_TRUE(client.ReadUntil("\r\n0\r\n\r\n"));  // the last chunk
  EXPECT_TRUE(client.WaitClosed());
}

TEST_F(GatewayServerTest, IdleStreamGetsHeartbeatsAndAVanishedClientCancelsIt) {
  StreamRoute route;
  StartGateway(TestConfig(), [&](HttpRouter& router) {
    ResponseStream::Options options{.heartbeat = ": ping\n\n", .heartbeat_interval = 20ms};
    ASSERT_TRUE(router.AddRoute("GET", "/events", route.Handler(options), {.blocking = false}));
  });
  {
    Client client(port_);
    client.WriteRaw("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(client.ReadUntil(": ping"));
    client.Close();
  }
  // The next heartbeat fails to write: the producer learns the client is gone.
  EXPECT_TRUE(Eventually([&] { return route.cancelled->load() == 1; }));
  EXPECT_FALSE(route.At(0)->active());
}

TEST_F(GatewayServerTest, OpenStreamsHoldNoHandlerThread) {
  StreamRoute route;
  auto config = TestConfig();
  config.handler_threads = 1;
  StartGateway(config, [&](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("GET", "/events", route.Handler({})));
    ASSERT_TRUE(router.AddRoute("GET", "/fast", Reply("ok")));
  });
  std::vector<std::unique_ptr<Client>> watchers;
  for (int i = 0; i < 4; ++i) {
    watchers.push_back(std::make_unique<Client>(port_));
    watchers.back()->WriteRaw("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(watchers.back()->ReadUntil("\r\n\r\n"));
  }
  Client client(port_);
  EXPECT_EQ(client.Get("/fast").body(), "ok");
}

TEST_F(GatewayServerTest, DrainEndsOpenStreamsPromptly) {
  StreamRoute route;
  StartGateway(TestConfig(), [&](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("GET", "/events", route.Handler({}), {.blocking = false}));
  });
  Client client(port_);
  client.WriteRaw("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(client.ReadUntil("\r\n\r\n"));
  auto started = std::chrono::steady_clock::now();
  plugin_->Stop(started + 5s);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_TRUE(client.ReadUntil("0\r\n\r\n"));
  EXPECT_EQ(route.cancelled->load(), 1);
  plugin_.reset();
}

// ---- Streamed request bodies (RouteOptions::stream_body) --------------------------------

constexpr std::size_t kMiB = 1024 * 1024;

/// SHA-256 as lower-case hex, fed piece by piece.
class Sha256 {
 public:
  Sha256() : context_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(context_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(context_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const char* data, std::size_t size) { EVP_DigestUpdate(context_, data, size); }
  std::string Hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(context_, digest, &length);
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string hex;
    for (unsigned int i = 0; i < length; ++i) {
      hex += kDigits[digest[i] >> 4];
      hex += kDigits[digest[i] & 15];
    }
    return hex;
  }

 private:
  EVP_MD_CTX* context_;
};

/// What a streaming handler saw.
struct StreamReport {
  std::mutex mutex;
  std::uint64_t bytes = 0;
  std::size_t pieces = 0;
  std::size_t largest_piece = 0;
  std::string sha256;
  std::optional<Error> error;
  std::optional<std::uint64_t> content_length;
  std::atomic<bool> reading{false};
  std::atomic<bool> done{false};
};

/// Reads the whole body through the BodyReader with a `piece`-byte buffer, hashing it.
/// A read error is returned as the handler's error (what a real upload handler does).
HttpHandler HashingHandler(std::shared_ptr<StreamReport> report, std::size_t piece = kMiB) {
  return [report, piece](const HttpRequest& request) -> Result<HttpResponse> {
    if (request.body_reader == nullptr || !request.body.empty()) {
      return MakeError(ErrorCode::kInternal, "stream_body route got no reader or a body");
    }
    std::vector<char> buffer(piece);
    Sha256 hash;
    std::uint64_t total = 0;
    std::size_t pieces = 0;
    std::size_t largest = 0;
    report->reading = true;
    while (true) {
      auto read = request.body_reader->Read(buffer);
      if (!read) {
        std::lock_guard lock(report->mutex);
        report->error = read.error();
        report->bytes = total;
        report->done = true;
        return MakeError(read.error());
      }
      if (*read == 0) {
        break;
      }
      hash.Update(buffer.data(), *read);
      total += *read;
      ++pieces;
      largest = std::max(largest, *read);
    }
    std::lock_guard lock(report->mutex);
    report->bytes = total;
    report->pieces = pieces;
    report->largest_piece = largest;
    report->sha256 = hash.Hex();
    report->content_length = request.body_reader->content_length();
    report->done = true;
    return HttpResponse::Text(200, report->sha256);
  };
}

RouteOptions StreamOptions(std::size_t max_body_bytes) {
  RouteOptions options;
  options.stream_body = true;
  options.blocking = false;  // stream_body implies the pool anyway
  options.max_body_bytes = max_body_bytes;
  options.rate_class = "none";
  return options;
}

/// Deterministic body bytes: byte i is a function of i, so pieces can be made on the fly.
void FillPattern(std::vector<char>& piece, std::uint64_t offset) {
  for (std::size_t i = 0; i < piece.size(); ++i) {
    std::uint64_t at = offset + i;
    piece[i] = static_cast<char>((at * 131 + (at >> 12)) & 0xff);
  }
}

TEST_F(GatewayServerTest, StreamedFortyMebibyteBodyIsHashedInBoundedPieces) {
  auto report = std::make_shared<StreamReport>();
  // The gateway default stays 1 MiB: the route's own limit lets the big body in.
  StartGateway(TestConfig(), [&](HttpRouter& router) {
    ASSERT_TRUE(
        router.AddRoute("PUT", "/upload", HashingHandler(report), StreamOptions(64 * kMiB)));
  });
  Client client(port_);
  constexpr std::uint64_t kBodyBytes = 40 * kMiB;
  std::vector<char> piece(kMiB);
  Sha256 sent;
  g_largest_allocation = 0;
  g_track_allocations = true;

  client.WriteRaw(
      fmt::format("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", kBodyBytes));
  for (std::uint64_t offset = 0; offset < kBodyBytes; offset += piece.size()) {
    FillPattern(piece, offset);
    sent.Update(piece.data(), piece.size());
    client.WriteRaw(std::string_view(piece.data(), piece.size()));
  }
  Response response = client.Read();
  g_track_allocations = false;

  ASSERT_EQ(response.result_int(), 200) << response.body();
  std::string expected = sent.Hex();
  EXPECT_EQ(response.body(), expected);
  std::lock_guard lock(report->mutex);
  EXPECT_EQ(report->bytes, kBodyBytes);
  EXPECT_EQ(report->content_length, kBodyBytes);
  EXPECT_GT(report->pieces, 40u);
  EXPECT_LE(report->largest_piece, kMiB);
  // The handler's and the client's 1 MiB buffers are the largest blocks; the server's
  // parse buffer is far below that.
  EXPECT_GE(g_largest_allocation.load(), kMiB);  // the tracker saw the 1 MiB buffers
  EXPECT_LE(g_largest_allocation.load(), kMiB + 256 * 1024);
  EXPECT_TRUE(response.keep_alive());
}

TEST_F(GatewayServerTest, ChunkedStreamedBodyIsDecodedForTheHandler) {
  auto report = std::make_shared<StreamReport>();
  StartGateway(TestConfig(), [&](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("POST", "/up", HashingHandler(report, 3), StreamOptions(kMiB)));
  });
  Client client(port_);
  Sha256 expected;
  expected.Update("hello, chunked world", 20);

  client.WriteRaw(
      "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "7\r\nhello, \r\n5;ext=1\r\nchunk\r\n8\r\ned world\r\n0\r\n\r\n");
  Response response = client.Read();

  ASSERT_EQ(response.result_int(), 200) << response.body();
  EXPECT_EQ(response.body(), expected.Hex());
  std::lock_guard lock(report->mutex);
  EXPECT_EQ(report->bytes, 20u);
  EXPECT_LE(report->largest_piece, 3u);
  EXPECT_FALSE(report->content_length.has_value());
  EXPECT_TRUE(response.keep_alive());
}

TEST_F(GatewayServerTest, StreamedBodyWithContentLengthOverLimitIs413WithoutHandler) {
  auto report = std::make_shared<StreamReport>();
  StartGateway(TestConfig(), [&](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("PUT", "/up", HashingHandler(report), StreamOptions(1000)));
  });
  Client client(port_);

  client.WriteRaw("PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n");
  Response response = client.Read();

  EXPECT_EQ(response.result_int(), 413);
  EXPECT_EQ(ParseEnvelope(response.body()).code, "payload_too_large");
  EXPECT_FALSE(response.keep_alive());
  EXPECT_FALSE(report->reading.load());
}

TEST_F(GatewayServerTest, ChunkedStreamedBodyGrowingPastLimitIs413) {
  auto report = std::make_shared<StreamReport>();
  StartGateway(TestConfig(), [&](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("POST", "/up", HashingHandler(report), StreamOptions(10)));
  });
  Client client(port_);

  client.WriteRaw(
      "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "8\r\n01234567\r\n8\r\n01234567\r\n0\r\n\r\n");
  Response response = client.Read();

  EXPECT_EQ(response.result_int(), 413);
  EXPECT_EQ(ParseEnvelope(response.body()).code, "payload_too_large");
  EXPECT_FALSE(response.keep_alive());
  std::lock_guard lock(report->mutex);
  ASSERT_TRUE(report->error.has_value());
  EXPECT_EQ(report->error->code, ErrorCode::kResourceExhausted);
}

TEST_F(GatewayServerTest, ClientDisconnectMidBodyReachesHandlerAndServerStaysUp) {
  auto report = std::make_shared<StreamReport>();
  StartGateway(TestConfig(), [&](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("PUT", "/up", HashingHandler(report), StreamOptions(kMiB)));
    ASSERT_TRUE(router.AddRoute("GET", "/a", Reply("still here")));
  });
  {
    Client quitter(port_);
    quitter.WriteRaw("PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
    quitter.WriteRaw(std::string(100, 'q'));
    ASSERT_TRUE(Eventually([&] { return report->reading.load(); }));
  }  // closes the socket mid-body

  ASSERT_TRUE(Eventually([&] { return report->done.load(); }));
  {
    std::lock_guard lock(report->mutex);
    ASSERT_TRUE(report->error.has_value());
    EXPECT_EQ(report->error->code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(report->error->message, "client closed the connection after 100 bytes");
  }
  Client next(port_);
  EXPECT_EQ(next.Get("/a").body(), "still here");
  EXPECT_TRUE(Eventually([&] {
    return context_->metrics()
               .GaugeFamily("streamgate_http_connections_open", "", {})
               .WithLabels({})
               .Value() == 1;
  }));
}

TEST_F(GatewayServerTest, StalledStreamedBodyFailsWithUnavailableAndCloses) {
  auto report = std::make_shared<StreamReport>();
  GatewayConfig config = TestConfig();
  config.body_idle_timeout = std::chrono::milliseconds(300);
  StartGateway(config, [&](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("PUT", "/up", HashingHandler(report), StreamOptions(kMiB)));
  });
  Client client(port_);

  client.WriteRaw("PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789");

  EXPECT_TRUE(client.WaitClosed());  // no response for a stalled client
  ASSERT_TRUE(Eventually([&] { return report->done.load(); }));
  std::lock_guard lock(report->mutex);
  ASSERT_TRUE(report->error.has_value());
  EXPECT_EQ(report->error->code, ErrorCode::kUnavailable);
  EXPECT_EQ(report->bytes, 10u);
}

TEST_F(GatewayServerTest, KeepAliveContinuesAfterAFullyConsumedStreamedBody) {
  auto report = std::make_shared<StreamReport>();
  StartGateway(TestConfig(), [&](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("PUT", "/up", HashingHandler(report), StreamOptions(kMiB)));
    ASSERT_TRUE(router.AddRoute("GET", "/a", Reply("after")));
  });
  Client client(port_);
  Sha256 expected;
  expected.Update("first", 5);

  // Both requests in one write: the second one's bytes sit behind the first body.
  client.WriteRaw(
      "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirst"
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  Response first = client.Read();
  Response second = client.Read();
  Response third = client.Send(Client::MakeRequest(http::verb::put, "/up", {}, ""));

  EXPECT_EQ(first.result_int(), 200);
  EXPECT_EQ(first.body(), expected.Hex());
  EXPECT_TRUE(first.keep_alive());
  EXPECT_EQ(second.body(), "after");
  EXPECT_EQ(third.result_int(), 200);  // an empty streamed body ends at once
  EXPECT_TRUE(third.keep_alive());
}

TEST_F(GatewayServerTest, HandlerThatIgnoresTheStreamedBodyClosesTheConnection) {
  StartGateway(TestConfig(), [&](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("PUT", "/up", Reply("ignored"), StreamOptions(kMiB)));
  });
  Client client(port_);

  Response response =
      client.Send(Client::MakeRequest(http::verb::put, "/up", {}, std::string(300'000, 'i')));

  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response.body(), "ignored");
  EXPECT_FALSE(response.keep_alive());
  EXPECT_EQ(HeaderOf(response, "Connection"), "close");
  EXPECT_TRUE(client.WaitClosed());
}

TEST_F(GatewayServerTest, ExpectContinueOnStreamedRouteGets100BeforeTheHandlerReads) {
  auto report = std::make_shared<StreamReport>();
  StartGateway(TestConfig(), [&](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("PUT", "/up", HashingHandler(report), StreamOptions(kMiB)));
  });
  Client client(port_);
  Sha256 expected;
  expected.Update("hello", 5);

  client.WriteRaw(
      "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  Response interim = client.Read();
  client.WriteRaw("hello");
  Response final_response = client.Read();

  EXPECT_EQ(interim.result_int(), 100);
  EXPECT_EQ(final_response.result_int(), 200);
  EXPECT_EQ(final_response.body(), expected.Hex());
}

TEST_F(GatewayServerTest, DrainDeadlineWakesAHandlerBlockedOnAStreamedBody) {
  auto report = std::make_shared<StreamReport>();
  StartGateway(TestConfig(), [&](HttpRouter& router) {  // body_idle_timeout stays 30 s
    ASSERT_TRUE(router.AddRoute("PUT", "/up", HashingHandler(report), StreamOptions(kMiB)));
  });
  Client client(port_);
  client.WriteRaw("PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n01234");
  ASSERT_TRUE(Eventually([&] { return report->reading.load(); }));

  auto started = std::chrono::steady_clock::now();
  plugin_->Stop(started + 200ms);
  auto took = std::chrono::steady_clock::now() - started;

  EXPECT_LT(took, 5s);
  EXPECT_TRUE(report->done.load());
  std::lock_guard lock(report->mutex);
  ASSERT_TRUE(report->error.has_value());
  EXPECT_EQ(report->bytes, 5u);
}

// ---- Authentication -------------------------------------------------------------------

/// Accepts "Bearer good" as {"alice", {"creator"}}; counts calls.
class FakeAuthenticator final : public Authenticator {
 public:
  Result<Principal> Authenticate(const HttpRequest& request) override {
    ++calls;
    auto header = request.Header("Authorization");
    if (!header) {
      return Principal{};
    }
    if (*header == "Bearer good") {
      return Principal{.id = "alice", .roles = {"creator"}};
    }
    if (*header == "Bearer flaky") {
      return MakeError(ErrorCode::kUnavailable, "key store unreachable");
    }
    return MakeError(ErrorCode::kUnauthenticated, "invalid API key");
  }
  std::atomic<int> calls{0};
};

HttpHandler WhoAmI(std::atomic<int>& calls) {
  return [&calls](const HttpRequest& request) -> Result<HttpResponse> {
    ++calls;
    std::string roles;
    for (const auto& role : request.principal.roles) {
      roles += role + ";";
    }
    return HttpResponse::Text(
        200, request.principal.anonymous() ? "anonymous" : request.principal.id + "|" + roles);
  };
}

class GatewayAuthTest : public GatewayServerTest {
 protected:
  /// The Authenticator is provided after the gateway's Init, as a plugin initialised
  /// later would: the gateway must still find it at Start.
  void StartWithAuthenticator(GatewayConfig config = TestConfig()) {
    StartGateway(config, [&](HttpRouter& router) {
      ASSERT_TRUE(context_->Provide<Authenticator>(authenticator_));
      ASSERT_TRUE(router.AddRoute("GET", "/me", WhoAmI(handler_calls_)));
      ASSERT_TRUE(router.AddRoute("POST", "/me", WhoAmI(handler_calls_)));
    });
  }

  std::shared_ptr<FakeAuthenticator> authenticator_ = std::make_shared<FakeAuthenticator>();
  std::atomic<int> handler_calls_{0};
};

TEST_F(GatewayAuthTest, ValidCredentialSetsThePrincipal) {
  StartWithAuthenticator();
  Client client(port_);

  Response response = client.Get("/me", {{"Authorization", "Bearer good"}});

  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response.body(), "alice|creator;");
}

TEST_F(GatewayAuthTest, InvalidCredentialIs401WithChallengeAndNoHandler) {
  StartWithAuthenticator();
  Client client(port_);

  Response response = client.Get("/me", {{"Authorization", "Bearer bad"}, {"X-Request-Id", "r1"}});

  EXPECT_EQ(response.result_int(), 401);
  EXPECT_EQ(HeaderOf(response, "WWW-Authenticate"), "Bearer");
  Envelope envelope = ParseEnvelope(response.body());
  EXPECT_EQ(envelope.code, "unauthenticated");
  EXPECT_EQ(envelope.message, "invalid API key");
  EXPECT_EQ(envelope.request_id, "r1");
  EXPECT_EQ(handler_calls_.load(), 0);
  EXPECT_TRUE(response.keep_alive());  // no body was left unread
}

TEST_F(GatewayAuthTest, InvalidCredentialWithBodyIs401AndCloses) {
  StartWithAuthenticator();
  Client client(port_);

  Response response = client.Send(Client::MakeRequest(
      http::verb::post, "/me", {{"Authorization", "Bearer bad"}}, std::string(1000, 'b')));

  EXPECT_EQ(response.result_int(), 401);
  EXPECT_FALSE(response.keep_alive());
  EXPECT_EQ(handler_calls_.load(), 0);
}

TEST_F(GatewayAuthTest, MissingHeaderIsAnonymousWithoutAskingTheAuthenticator) {
  StartWithAuthenticator();
  Client client(port_);

  Response response = client.Get("/me");

  EXPECT_EQ(response.body(), "anonymous");
  EXPECT_EQ(authenticator_->calls.load(), 0);
}

TEST_F(GatewayAuthTest, PreflightIsNeverAuthenticated) {
  StartWithAuthenticator();
  Client client(port_);

  Response response = client.Send(Client::MakeRequest(http::verb::options, "/me",
                                                      {{"Origin", "https://app.example"},
                                                       {"Access-Control-Request-Method", "GET"},
                                                       {"Authorization", "Bearer bad"}}));

  EXPECT_EQ(response.result_int(), 204);
  EXPECT_EQ(authenticator_->calls.load(), 0);
}

TEST_F(GatewayAuthTest, AuthenticatorFailureOtherThanUnauthenticatedKeepsItsStatus) {
  StartWithAuthenticator();
  Client client(port_);

  Response response = client.Get("/me", {{"Authorization", "Bearer flaky"}});

  EXPECT_EQ(response.result_int(), 503);
  EXPECT_EQ(HeaderOf(response, "WWW-Authenticate"), "");
  EXPECT_EQ(handler_calls_.load(), 0);
}

TEST_F(GatewayAuthTest, StreamedRouteIsAuthenticatedBeforeTheBodyIsRead) {
  auto report = std::make_shared<StreamReport>();
  StartGateway(TestConfig(), [&](HttpRouter& router) {
    ASSERT_TRUE(context_->Provide<Authenticator>(authenticator_));
    ASSERT_TRUE(router.AddRoute("PUT", "/up", HashingHandler(report), StreamOptions(kMiB)));
  });
  Client client(port_);

  client.WriteRaw(
      "PUT /up HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer bad\r\nContent-Length: 5\r\n"
      "Expect: 100-continue\r\n\r\n");
  Response response = client.Read();

  EXPECT_EQ(response.result_int(), 401);  // not 100 Continue
  EXPECT_FALSE(report->reading.load());
}

TEST_F(GatewayServerTest, WithoutAuthenticatorACredentialIsIgnoredAndRequestIsAnonymous) {
  std::atomic<int> calls{0};
  StartGateway(TestConfig(), [&](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("GET", "/me", WhoAmI(calls)));
  });
  Client client(port_);

  Response response = client.Get("/me", {{"Authorization", "Bearer whatever"}});

  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response.body(), "anonymous");
}

// ---- Stored objects as response bodies (HttpResponse::object) ---------------------------

/// A reader over a file, with the file span the local store gives (sendfile path) or
/// without it (the bounded-pieces path other stores take).
class FileReader final : public ObjectReader {
 public:
  FileReader(const std::string& path, bool with_span) : with_span_(with_span) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    ::fstat(fd_, &st);
    info_.size = static_cast<std::uint64_t>(st.st_size);
  }
  ~FileReader() override { ::close(fd_); }
  const ObjectInfo& info() const noexcept override { return info_; }
  std::uint64_t length() const noexcept override { return info_.size; }
  std::optional<FileSpan> file_span() const noexcept override {
    if (!with_span_) {
      return std::nullopt;
    }
    return FileSpan{.fd = fd_, .offset = 0, .length = info_.size};
  }
  Result<std::size_t> Read(std::span<char> buffer) override {
    ssize_t n = ::read(fd_, buffer.data(), buffer.size());
    if (n < 0) {
      return MakeError(ErrorCode::kInternal, "read failed");
    }
    return static_cast<std::size_t>(n);
  }

 private:
  int fd_ = -1;
  bool with_span_;
  ObjectInfo info_;
};

/// A file of `bytes` with the FillPattern content, removed at the end of the test.
class PatternFile {
 public:
  explicit PatternFile(std::uint64_t bytes)
      : path_("/tmp/sg-gateway-object-" + std::to_string(::getpid()) + "-" +
              std::to_string(next_++)) {
    std::FILE* file = std::fopen(path_.c_str(), "wb");
    std::vector<char> piece(1024 * 1024);
    for (std::uint64_t offset = 0; offset < bytes; offset += piece.size()) {
      FillPatternAt(piece, offset);
      std::size_t take =
          static_cast<std::size_t>(std::min<std::uint64_t>(piece.size(), bytes - offset));
      hash_.Update(piece.data(), take);
      std::fwrite(piece.data(), 1, take, file);
    }
    std::fclose(file);
  }
  ~PatternFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }
  std::string Hex() { return hash_.Hex(); }

  static void FillPatternAt(std::vector<char>& piece, std::uint64_t offset) {
    for (std::size_t i = 0; i < piece.size(); ++i) {
      piece[i] = static_cast<char>(((offset + i) * 2654435761u) >> 13);
    }
  }

 private:
  static inline int next_ = 0;
  std::string path_;
  Sha256 hash_;
};

HttpHandler ServeFile(const std::string& path, bool with_span) {
  return [path, with_span](const HttpRequest&) -> Result<HttpResponse> {
    HttpResponse response;
    response.SetHeader("Content-Type", "video/mp4");
    response.object = std::make_shared<FileReader>(path, with_span);
    return response;
  };
}

TEST_F(GatewayServerTest, ObjectBodyGoesBySendfileInBoundedMemoryAndKeepsTheConnection) {
  PatternFile file(40 * kMiB);
  StartGateway(TestConfig(), [&](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("GET", "/segment", ServeFile(file.path(), true)));
    ASSERT_TRUE(router.AddRoute("GET", "/fast", Reply("ok")));
  });
  Client client(port_);
  Sha256 received;
  std::uint64_t bytes = 0;
  g_largest_allocation = 0;
  g_track_allocations = true;
  client.WriteRaw("GET /segment HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string head = client.ReadLargeResponse([&](const char* data, std::size_t size) {
    received.Update(data, size);
    bytes += size;
  });
  g_track_allocations = false;
  EXPECT_NE(head.find("HTTP/1.1 200"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Length: 41943040"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Type: video/mp4"), std::string::npos) << head;
  EXPECT_EQ(bytes, 40 * kMiB);
  EXPECT_EQ(received.Hex(), file.Hex());
  // Neither side held the body: the largest allocation is far below its size.
  EXPECT_LT(g_largest_allocation.load(), 2 * kMiB);
  // Keep-alive: the same connection serves the next request.
  EXPECT_EQ(client.Get("/fast").body(), "ok");
}

TEST_F(GatewayServerTest, ObjectBodyWithoutAFileSpanIsSentInPieces) {
  PatternFile file(3 * kMiB + 17);
  StartGateway(TestConfig(), [&](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("GET", "/segment", ServeFile(file.path(), false)));
  });
  Client client(port_);
  Sha256 received;
  std::uint64_t bytes = 0;
  client.WriteRaw("GET /segment HTTP/1.1\r\nHost: x\r\n\r\n");
  client.ReadLargeResponse([&](const char* data, std::size_t size) {
    received.Update(data, size);
    bytes += size;
  });
  EXPECT_EQ(bytes, 3 * kMiB + 17);
  EXPECT_EQ(received.Hex(), file.Hex());
}

// sendfile(2) to a reset connection raises SIGPIPE: without the server ignoring it, this
// test process (the server's) would die here.
TEST_F(GatewayServerTest, AClientVanishingMidObjectLeavesTheServerUp) {
  PatternFile file(16 * kMiB);
  StartGateway(TestConfig(), [&](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("GET", "/segment", ServeFile(file.path(), true)));
    ASSERT_TRUE(router.AddRoute("GET", "/fast", Reply("ok")));
  });
  for (int i = 0; i < 5; ++i) {
    Client quitter(port_);
    quitter.WriteRaw("GET /segment HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(quitter.ReadUntil("\r\n\r\n"));
    // Closing with unread data makes the kernel answer the server with a reset.
    linger hard{.l_onoff = 1, .l_linger = 0};
    quitter.SetOption(SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
    quitter.Close();
  }
  Client client(port_);
  EXPECT_EQ(client.Get("/fast").body(), "ok");
}

TEST_F(GatewayServerTest, HeadOfAnObjectAnnouncesItsLengthWithoutABody) {
  PatternFile file(123'456);
  StartGateway(TestConfig(), [&](HttpRouter& router) {
    ASSERT_TRUE(router.AddRoute("GET", "/segment", ServeFile(file.path(), true)));
  });
  Client client(port_);
  auto request = Client::MakeRequest(http::verb::head, "/segment");
  Response response = client.Send(request);
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(HeaderOf(response, "Content-Length"), "123456");
  EXPECT_TRUE(response.body().empty());
}

}  // namespace
}  // namespace sg::plugins::gateway
