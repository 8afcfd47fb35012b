// Integration tests: the real streamgate binary on a free loopback port, driven over TCP.

#include <signal.h>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/test_server.h"

namespace sg::testing {
namespace {

using namespace std::chrono_literals;

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

using Server = TestServer;

TEST(ServerTest, HealthzAndReadyzAnswerWithEveryDefaultPluginListed) {
  Server server;
  ASSERT_TRUE(server.WaitHealthy()) << server.process().Stderr();
  auto health = HttpGet(server.port(), "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  // Live at once, ready once the kernel has started every plugin (503 "starting" before).
  auto ready = HttpGet(server.port(), "/readyz");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (ready && ready->status == 503 && std::chrono::steady_clock::now() < deadline) {
    EXPECT_NE(ready->body.find("\"starting\""), std::string::npos) << ready->body;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ready = HttpGet(server.port(), "/readyz");
  }
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;
  auto body = boost::json::parse(ready->body);
  EXPECT_EQ(body.at("status").as_string(), "ready");
  EXPECT_TRUE(body.at("plugins").as_object().contains("gateway"));
  EXPECT_TRUE(body.at("plugins").as_object().contains("monitor"));
  EXPECT_TRUE(body.at("plugins").as_object().contains("transcode"));
  EXPECT_FALSE(body.at("plugins").as_object().contains("debug"));
}

TEST(ServerTest, MetricsPassPromtoolAndCountRequestsByRoute) {
  Server server;
  ASSERT_TRUE(server.WaitHealthy()) << server.process().Stderr();
  ASSERT_TRUE(HttpGet(server.port(), "/readyz"));
  ASSERT_TRUE(HttpGet(server.port(), "/no/such/route"));
  auto metrics = HttpGet(server.port(), "/metrics");
  ASSERT_TRUE(metrics);
  ASSERT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->Header("content-type").find("text/plain"), std::string::npos);
  auto [code, output] = RunShell("promtool check metrics", metrics->body);
  EXPECT_EQ(code, 0) << output;
  EXPECT_EQ(output, "") << "promtool lint findings";
  for (const char* needle :
       {"streamgate_http_requests_total{", "route=\"/readyz\"", "status=\"404\"",
        "streamgate_http_request_duration_seconds_bucket{", "streamgate_http_requests_in_flight",
        "process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds",
        "streamgate_bus_messages_published_total"}) {
    EXPECT_NE(metrics->body.find(needle), std::string::npos) << needle;
  }
}

TEST(ServerTest, OpenApiDocumentIsServedAsInTheRepository) {
  Server server;
  ASSERT_TRUE(server.WaitHealthy()) << server.process().Stderr();
  auto reply = HttpGet(server.port(), "/api/v1/openapi.yaml");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, ReadText(SG_OPENAPI_PATH));
}

TEST(ServerTest, WebAppIsServedWithItsSecurityHeadersAndLibraries) {
  // web/ beside docs/ in the source tree: what the binary embedded at build time.
  const auto web_dir = std::filesystem::path(SG_OPENAPI_PATH).parent_path().parent_path() / "web";
  Server server;
  ASSERT_TRUE(server.WaitHealthy()) << server.process().Stderr();

  auto page = HttpGet(server.port(), "/watch/some-id");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->Header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(page->Header("content-security-policy").find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(page->Header("x-content-type-options"), "nosniff");
  EXPECT_EQ(page->body, ReadText((web_dir / "index.html").string()));

  auto hls = HttpGet(server.port(), "/assets/hls.mjs");
  ASSERT_TRUE(hls);
  EXPECT_EQ(hls->status, 200);
  EXPECT_EQ(hls->Header("content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(hls->body, ReadText((web_dir / "node_modules/hls.js/dist/hls.min.mjs").string()));
  auto gzipped = HttpGet(server.port(), "/assets/hls.mjs", "Accept-Encoding: gzip\r\n");
  ASSERT_TRUE(gzipped);
  EXPECT_EQ(gzipped->Header("content-encoding"), "gzip");
  EXPECT_LT(gzipped->body.size(), hls->body.size());
  auto revalidated =
      HttpGet(server.port(), "/assets/hls.mjs", "If-None-Match: " + hls->Header("etag") + "\r\n");
  ASSERT_TRUE(revalidated);
  EXPECT_EQ(revalidated->status, 304);
  EXPECT_EQ(revalidated->body, "");

  // HEAD: the GET's headers and length, no body (the connection stays usable).
  RawConnection head(server.port());
  ASSERT_TRUE(head.Send("HEAD /assets/hls.mjs HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto head_reply = head.ReadResponse(10s, true);
  ASSERT_TRUE(head_reply);
  EXPECT_EQ(head_reply->status, 200);
  EXPECT_EQ(head_reply->Header("content-length"), std::to_string(hls->body.size()));
  EXPECT_EQ(head_reply->Header("etag"), hls->Header("etag"));
  EXPECT_EQ(head_reply->body, "");
  ASSERT_TRUE(head.Send("GET /account HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto next = head.ReadResponse(10s);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);

  auto missing = HttpGet(server.port(), "/assets/no-such.js");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->Header("content-type"), "application/json");
  EXPECT_EQ(boost::json::parse(missing->body).at("error").at("code").as_string(), "not_found");
  auto sneaky = HttpGet(server.port(), "/assets/..%2Findex.html");
  ASSERT_TRUE(sneaky);
  EXPECT_EQ(sneaky->status, 400);
  EXPECT_EQ(sneaky->Header("content-type"), "application/json");
}

TEST(ServerTest, WebUiFalseServesOnlyTheApi) {
  Server server({}, {{"STREAMGATE_GATEWAY__WEB_UI", "false"}});
  ASSERT_TRUE(server.WaitHealthy()) << server.process().Stderr();

  for (const char* target : {"/", "/upload", "/assets/app.js"}) {
    auto reply = HttpGet(server.port(), target);
    ASSERT_TRUE(reply) << target;
    EXPECT_EQ(reply->status, 404) << target;
    EXPECT_EQ(reply->Header("content-type"), "application/json") << target;
  }
  auto health = HttpGet(server.port(), "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST(ServerTest, SlowInFlightRequestCompletesAfterSigtermThenExitZero) {
  Server server({"--plugins", "gateway,monitor,debug"});
  ASSERT_TRUE(server.WaitHealthy()) << server.process().Stderr();
  RawConnection slow(server.port());
  ASSERT_TRUE(slow.Send("GET /debug/sleep?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::this_thread::sleep_for(300ms);  // let the request reach its handler
  server.process().Signal(SIGTERM);
  // While draining, the listener is closed: new connections are refused.
  ASSERT_TRUE(server.process().WaitForStderr("draining", 5s));
  std::this_thread::sleep_for(100ms);
  RawConnection late(server.port());
  EXPECT_FALSE(late.connected() && late.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") &&
               late.ReadResponse(2s).has_value());
  auto reply = slow.ReadResponse(10s);
  ASSERT_TRUE(reply) << server.process().Stderr();
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, R"({"slept_ms":1500})");
  EXPECT_EQ(reply->Header("connection"), "close");
  auto code = server.process().WaitExit(15s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << server.process().Stderr();
}

TEST(ServerTest, SecondSignalDuringDrainExitsAtOnce) {
  Server server({"--plugins", "gateway,monitor,debug"});
  ASSERT_TRUE(server.WaitHealthy()) << server.process().Stderr();
  RawConnection slow(server.port());
  ASSERT_TRUE(slow.Send("GET /debug/sleep?ms=20000 HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::this_thread::sleep_for(300ms);
  server.process().Signal(SIGTERM);
  ASSERT_TRUE(server.process().WaitForStderr("draining", 5s));
  server.process().Signal(SIGINT);
  auto code = server.process().WaitExit(5s);
  ASSERT_TRUE(code.has_value()) << "still running 5 s after the second signal";
  EXPECT_EQ(*code, 130);
}

TEST(ServerTest, OversizedHeaderGets431WithTheErrorEnvelope) {
  Server server;
  ASSERT_TRUE(server.WaitHealthy()) << server.process().Stderr();
  auto reply = HttpGet(server.port(), "/healthz", "X-Big: " + std::string(64 * 1024, 'a') + "\r\n");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 431);
  auto body = boost::json::parse(reply->body);
  EXPECT_EQ(body.at("error").at("code").as_string(), "header_too_large");
  EXPECT_FALSE(body.at("error").at("request_id").as_string().empty());
  EXPECT_TRUE(HttpGet(server.port(), "/healthz")) << "server must stay up";
}

TEST(ServerTest, HalfARequestLineIsDisconnectedAfterTheHeaderTimeout) {
  Server server({}, {{"STREAMGATE_GATEWAY__HEADER_TIMEOUT", "500ms"}});
  ASSERT_TRUE(server.WaitHealthy()) << server.process().Stderr();
  RawConnection dawdler(server.port());
  ASSERT_TRUE(dawdler.Send("GET /hea"));
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(dawdler.WaitClosed(10s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  auto health = HttpGet(server.port(), "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST(ServerTest, HandlerExceptionIs500EnvelopeAndServerStaysUp) {
  Server server({"--plugins", "gateway,monitor,debug"});
  ASSERT_TRUE(server.WaitHealthy()) << server.process().Stderr();
  auto reply = HttpGet(server.port(), "/debug/panic", "X-Request-Id: panic-1\r\n");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 500);
  auto body = boost::json::parse(reply->body);
  EXPECT_EQ(body.at("error").at("code").as_string(), "internal");
  EXPECT_EQ(body.at("error").at("request_id").as_string(), "panic-1");
  EXPECT_EQ(HttpGet(server.port(), "/healthz")->status, 200);
  // The exception is in the log with the request id, as JSON lines.
  EXPECT_TRUE(server.process().WaitForStderr("debug panic requested", 5s));
}

TEST(ServerTest, LogLinesAreJsonWithRequestAndTraceIds) {
  Server server({"--plugins", "gateway,monitor,debug"});
  ASSERT_TRUE(server.WaitHealthy()) << server.process().Stderr();
  const std::string trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  auto reply = HttpGet(server.port(), "/debug/echo-missing",
                       "traceparent: 00-" + trace_id +
                           "-00f067aa0ba902b7-01\r\n"
                           "X-Request-Id: trace-check\r\n");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 404);
  ASSERT_TRUE(server.process().WaitForStderr("trace-check", 5s));
  bool found = false;
  std::istringstream lines(server.process().Stderr());
  for (std::string line; std::getline(lines, line);) {
    boost::system::error_code ec;
    auto value = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << "not a JSON line: " << line;
    auto& object = value.as_object();
    EXPECT_TRUE(object.contains("time") && object.contains("level") && object.contains("msg"));
    if (object.contains("request_id") && object.at("request_id").as_string() == "trace-check") {
      EXPECT_EQ(object.at("trace_id").as_string(), trace_id);
      EXPECT_EQ(object.at("plugin").as_string(), "gateway");
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST(ServerTest, SighupAppliesLogLevelAndKeepsRunningConfigOnInvalidReload) {
  auto dir = std::filesystem::temp_directory_path() / ("sg-hup-" + std::to_string(FreePort()));
  std::filesystem::create_directories(dir);
  auto config = (dir / "streamgate.yaml").string();
  std::ofstream(config) << "log:\n  level: info\n";
  Server server({"--config", config});
  ASSERT_TRUE(server.WaitHealthy()) << server.process().Stderr();

  std::ofstream(config) << "log:\n  level: info\ngateway:\n  no_such_key: 1\n";
  server.process().Signal(SIGHUP);
  ASSERT_TRUE(server.process().WaitForStderr("reload rejected", 5s));
  EXPECT_NE(server.process().Stderr().find("gateway.no_such_key"), std::string::npos);
  EXPECT_EQ(HttpGet(server.port(), "/healthz")->status, 200);

  EXPECT_EQ(server.process().Stderr().find("\"level\":\"debug\""), std::string::npos);
  std::ofstream(config) << "log:\n  level: debug\n";
  server.process().Signal(SIGHUP);
  ASSERT_TRUE(server.process().WaitForStderr("configuration reloaded", 5s));
  auto before = std::string::size_type{0};
  // Debug lines appear only once the reloaded level is in force.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  bool debug_seen = false;
  while (!debug_seen && std::chrono::steady_clock::now() < deadline) {
    debug_seen = server.process().Stderr().find("\"level\":\"debug\"", before) != std::string::npos;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(debug_seen) << server.process().Stderr();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sg::testing
