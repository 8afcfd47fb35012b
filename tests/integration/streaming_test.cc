// Integration tests of streaming: a ready content played by real clients (ffprobe, ffmpeg)
// over HTTP from the real binary, and segment delivery semantics over the wire.

#include <signal.h>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <string>

#include "tests/integration/media_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"

namespace sg::testing {
namespace {

class StreamingIntegrationTest : public MediaIntegrationTest {
 protected:
  std::string Url(const std::string& id, const std::string& rest) {
    return server_->base_url() + "/api/v1/streaming/" + id + "/" + rest;
  }

  std::optional<HttpReply> Get(const std::string& target, const std::string& headers = "",
                               bool head = false) {
    RawConnection connection(server_->port());
    std::string request = std::string(head ? "HEAD " : "GET ") + target +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + "\r\n";
    if (!connection.Send(request)) {
      return std::nullopt;
    }
    return connection.ReadResponse(10s, head);
  }

  // Duration of the whole presentation as ffprobe reads it over HTTP.
  double ProbeDuration(const std::string& url, std::string* streams = nullptr) {
    auto [code, output] = RunShell(
        "ffprobe -v error -show_entries format=duration:stream=codec_type,width,height "
        "-of default=nw=1 '" +
        url + "'");
    EXPECT_EQ(code, 0) << url << ": " << output;
    if (streams != nullptr) {
      *streams = output;
    }
    auto at = output.find("duration=");
    return at == std::string::npos ? -1 : std::stod(output.substr(at + 9));
  }
};

TEST_F(StreamingIntegrationTest, FfprobeAndFfmpegPlayHlsAndDashOfAReadyContent) {
  StartServer();
  auto id = Upload(MakeClip("clip.mp4", "426x240", 6));
  ASSERT_EQ(Status(WaitSettled(id)), "ready");

  std::string hls_streams;
  EXPECT_NEAR(ProbeDuration(Url(id, "manifest.m3u8"), &hls_streams), 6, 0.5);
  // Every rendition is offered: both rungs and the audio.
  EXPECT_NE(hls_streams.find("height=144"), std::string::npos) << hls_streams;
  EXPECT_NE(hls_streams.find("height=240"), std::string::npos) << hls_streams;
  EXPECT_NE(hls_streams.find("codec_type=audio"), std::string::npos) << hls_streams;
  std::string dash_streams;
  EXPECT_NEAR(ProbeDuration(Url(id, "manifest.mpd"), &dash_streams), 6, 0.5);
  EXPECT_NE(dash_streams.find("height=240"), std::string::npos) << dash_streams;

  // ffmpeg remuxes the HLS presentation without an error.
  auto remuxed = work_ / "remux.mp4";
  auto [code, output] = RunShell("ffmpeg -v error -y -i '" + Url(id, "manifest.m3u8") +
                                 "' -map 0:v:0 -map 0:a:0 -c copy " + remuxed.string());
  EXPECT_EQ(code, 0) << output;
  EXPECT_EQ(output, "") << "ffmpeg reported errors";
  EXPECT_NEAR(ProbeDuration(remuxed.string()), 6, 0.5);

  auto master = Get("/api/v1/streaming/" + id + "/manifest.m3u8");
  ASSERT_TRUE(master);
  EXPECT_EQ(master->Header("content-type"), "application/vnd.apple.mpegurl");
  EXPECT_NE(master->Header("cache-control").find("max-age="), std::string::npos);
  EXPECT_NE(master->body.find("#EXT-X-STREAM-INF:"), std::string::npos);
  auto mpd = Get("/api/v1/streaming/" + id + "/manifest.mpd");
  ASSERT_TRUE(mpd);
  EXPECT_EQ(mpd->Header("content-type"), "application/dash+xml");
  auto playlist = Get("/api/v1/streaming/" + id + "/240p/playlist.m3u8");
  ASSERT_TRUE(playlist);
  EXPECT_EQ(playlist->status, 200);
  EXPECT_NE(playlist->body.find("#EXT-X-MAP:URI=\"init.mp4\""), std::string::npos);
  EXPECT_NE(playlist->body.find("#EXT-X-ENDLIST"), std::string::npos);
  // A second fetch of a ready content's manifest comes from the cache: the same bytes.
  auto again = Get("/api/v1/streaming/" + id + "/manifest.m3u8");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, master->body);

  // The plays were counted: one viewer (ffprobe, ffmpeg and this client share the IP; their
  // User-Agents differ), views deduplicated per viewer, bytes of every segment sent.
  auto stats = Get("/api/v1/content/" + id + "/stats");
  ASSERT_TRUE(stats);
  ASSERT_EQ(stats->status, 200) << stats->body;
  auto body = json::parse(stats->body);
  EXPECT_GE(body.at("views").to_number<std::int64_t>(), 2);
  EXPECT_LE(body.at("views").to_number<std::int64_t>(),
            body.at("unique_viewers").to_number<std::int64_t>());
  EXPECT_GT(body.at("bytes_served").to_number<std::int64_t>(), 100'000);
  auto metrics = HttpGet(server_->port(), "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("streamgate_cache_hits_total"), std::string::npos);
}

TEST_F(StreamingIntegrationTest, SegmentsAnswerRangesConditionalsAndHead) {
  StartServer();
  auto id = Upload(MakeClip("clip.mp4", "426x240", 3));
  ASSERT_EQ(Status(WaitSettled(id)), "ready");
  const std::string target = "/api/v1/streaming/" + id + "/240p/segment_0.m4s";
  auto whole = Get(target);
  ASSERT_TRUE(whole);
  ASSERT_EQ(whole->status, 200) << whole->body;
  const std::string bytes = whole->body;
  const auto size = bytes.size();
  ASSERT_GT(size, 100u);
  EXPECT_EQ(whole->Header("content-type"), "video/mp4");
  EXPECT_EQ(whole->Header("accept-ranges"), "bytes");
  EXPECT_NE(whole->Header("cache-control").find("immutable"), std::string::npos);
  const std::string etag = whole->Header("etag");
  ASSERT_FALSE(etag.empty());
  // The bytes are the stored segment.
  {
    std::ifstream in(server_->data_dir() / "objects" / "media" / id / "240p" / "segment_0.m4s",
                     std::ios::binary);
    std::string stored((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes, stored);
  }

  auto first = Get(target, "Range: bytes=0-0\r\n");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 206);
  EXPECT_EQ(first->body, bytes.substr(0, 1));
  EXPECT_EQ(first->Header("content-range"), "bytes 0-0/" + std::to_string(size));
  auto suffix = Get(target, "Range: bytes=-10\r\n");
  ASSERT_TRUE(suffix);
  EXPECT_EQ(suffix->status, 206);
  EXPECT_EQ(suffix->body, bytes.substr(size - 10));
  auto open_ended = Get(target, "Range: bytes=100-\r\n");
  ASSERT_TRUE(open_ended);
  EXPECT_EQ(open_ended->body, bytes.substr(100));
  auto beyond = Get(target, "Range: bytes=" + std::to_string(size) + "-\r\n");
  ASSERT_TRUE(beyond);
  EXPECT_EQ(beyond->status, 416);
  EXPECT_EQ(beyond->Header("content-range"), "bytes */" + std::to_string(size));
  auto malformed = Get(target, "Range: bytes=abc\r\n");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 200);
  EXPECT_EQ(malformed->body.size(), size);
  auto overflow = Get(target, "Range: bytes=0-99999999999999999999999\r\n");
  ASSERT_TRUE(overflow);
  EXPECT_EQ(overflow->status, 200);

  auto cached = Get(target, "If-None-Match: " + etag + "\r\n");
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->status, 304);
  EXPECT_TRUE(cached->body.empty());
  auto stale_range = Get(target, "Range: bytes=0-9\r\nIf-Range: \"old\"\r\n");
  ASSERT_TRUE(stale_range);
  EXPECT_EQ(stale_range->status, 200);  // the whole, current object

  auto head = Get(target, "", /*head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("content-length"), std::to_string(size));
  EXPECT_TRUE(head->body.empty());

  auto audio = Get("/api/v1/streaming/" + id + "/audio/init.mp4");
  ASSERT_TRUE(audio);
  EXPECT_EQ(audio->status, 200);
  EXPECT_EQ(audio->Header("content-type"), "audio/mp4");

  // Bad input: clear errors, nothing crashes.
  for (const auto& [path, status] : std::vector<std::pair<std::string, int>>{
           {"/api/v1/streaming/" + id + "/240p/segment_999.m4s", 404},
           {"/api/v1/streaming/" + id + "/240p/segment_-1.m4s", 404},
           {"/api/v1/streaming/" + id + "/240p/passwd", 404},
           {"/api/v1/streaming/" + id + "/1080p/init.mp4", 404},
           {"/api/v1/streaming/" + id + "/BAD!/init.mp4", 400},
           {"/api/v1/streaming/not-an-id/manifest.m3u8", 400},
           {"/api/v1/streaming/aaaaaaaaaaaaaaaaaaaa/manifest.m3u8", 404},
           {"/api/v1/streaming/" + id + "/..%2F..%2Fapi_key/init.mp4", 400}}) {
    auto reply = Get(path);
    ASSERT_TRUE(reply) << path;
    EXPECT_EQ(reply->status, status) << path << " " << reply->body;
    EXPECT_NE(reply->body.find("\"error\""), std::string::npos) << path;
  }
  auto health = HttpGet(server_->port(), "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST_F(StreamingIntegrationTest, PrivateContentIsHiddenFromOthersAndShownToItsOwner) {
  StartServer();
  auto id = Upload(MakeClip("clip.mp4", "426x240", 2));
  ASSERT_EQ(Status(WaitSettled(id)), "ready");
  // Played while public: the playback record and manifests are now cached, and the
  // visibility change below must reach them (content.updated invalidates the cache).
  auto before = Get("/api/v1/streaming/" + id + "/manifest.m3u8");
  ASSERT_TRUE(before);
  EXPECT_EQ(before->status, 200);
  auto segment_before = Get("/api/v1/streaming/" + id + "/240p/segment_0.m4s");
  ASSERT_TRUE(segment_before);
  EXPECT_EQ(segment_before->status, 200);
  RawConnection patch(server_->port());
  std::string body = R"({"visibility":"private"})";
  ASSERT_TRUE(patch.Send("PATCH /api/v1/content/" + id + " HTTP/1.1\r\nHost: x\r\n" +
                         server_->AuthHeader() + "Content-Type: application/json\r\n" +
                         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
  auto patched = patch.ReadResponse(10s);
  ASSERT_TRUE(patched);
  ASSERT_EQ(patched->status, 200) << patched->body;

  // The change reaches the cache through an event: asynchronously, within milliseconds.
  auto anonymous = Get("/api/v1/streaming/" + id + "/manifest.m3u8");
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (anonymous && anonymous->status == 200 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
    anonymous = Get("/api/v1/streaming/" + id + "/manifest.m3u8");
  }
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 404);
  auto segment = Get("/api/v1/streaming/" + id + "/240p/segment_0.m4s");
  ASSERT_TRUE(segment);
  EXPECT_EQ(segment->status, 404);
  auto owner = Get("/api/v1/streaming/" + id + "/manifest.m3u8", server_->AuthHeader());
  ASSERT_TRUE(owner);
  EXPECT_EQ(owner->status, 200);
  EXPECT_NE(owner->Header("cache-control").find("private"), std::string::npos);
}

// nginx mode (deploy/nginx.conf): StreamGate decides, nginx sends the bytes. The real nginx
// runs in front, in one process (master_process off) so it can read the test's files.
TEST_F(StreamingIntegrationTest, InNginxModeTheRealNginxSendsTheSegmentBytes) {
  StartServer("streaming:\n  accel_redirect_prefix: /_objects\n");
  auto id = Upload(MakeClip("clip.mp4", "426x240", 2));
  ASSERT_EQ(Status(WaitSettled(id)), "ready");
  int nginx_port = FreePort();
  auto dir = work_ / "nginx";
  fs::create_directories(dir);
  std::ofstream(dir / "nginx.conf")
      << fmt("daemon off;\nmaster_process off;\npid ", (dir / "nginx.pid").string(),
             ";\nerror_log ", (dir / "error.log").string(),
             " warn;\nevents { worker_connections 64; }\nhttp {\n  access_log off;\n"
             "  client_body_temp_path ",
             (dir / "body").string(), ";\n  proxy_temp_path ", (dir / "proxy").string(),
             ";\n  fastcgi_temp_path ", (dir / "fastcgi").string(), ";\n  uwsgi_temp_path ",
             (dir / "uwsgi").string(), ";\n  scgi_temp_path ", (dir / "scgi").string(),
             ";\n  server {\n    listen 127.0.0.1:", nginx_port,
             ";\n    location / { proxy_pass http://127.0.0.1:", server_->port(),
             "; proxy_http_version 1.1; proxy_set_header Connection \"\"; }\n"
             "    location /_objects/ { internal; alias ",
             (server_->data_dir() / "objects").string(), "/; }\n  }\n}\n");
  ChildProcess nginx(
      {"/usr/sbin/nginx", "-e", (dir / "error.log").string(), "-c", (dir / "nginx.conf").string()});
  ASSERT_TRUE(WaitUntilHealthy(nginx_port, 10s)) << nginx.Stderr();

  // StreamGate alone answers with the redirect and no body.
  const std::string target = "/api/v1/streaming/" + id + "/240p/segment_0.m4s";
  auto direct = Get(target);
  ASSERT_TRUE(direct);
  EXPECT_EQ(direct->Header("x-accel-redirect"), "/_objects/media/" + id + "/240p/segment_0.m4s");
  EXPECT_TRUE(direct->body.empty());
  // Through nginx: the stored bytes, ranges included.
  std::ifstream in(server_->data_dir() / "objects" / "media" / id / "240p" / "segment_0.m4s",
                   std::ios::binary);
  std::string stored((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto whole = HttpGet(nginx_port, target);
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->status, 200) << whole->body;
  EXPECT_EQ(whole->body, stored);
  auto part = HttpGet(nginx_port, target, "Range: bytes=10-19\r\n");
  ASSERT_TRUE(part);
  EXPECT_EQ(part->status, 206);
  EXPECT_EQ(part->body, stored.substr(10, 10));
  // Access is still StreamGate's: an unknown content is refused before nginx reads a file.
  auto refused = HttpGet(nginx_port, "/api/v1/streaming/aaaaaaaaaaaaaaaaaaaa/240p/init.mp4");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 404);
  // The internal location is not reachable directly.
  auto hidden = HttpGet(nginx_port, "/_objects/media/" + id + "/240p/segment_0.m4s");
  ASSERT_TRUE(hidden);
  EXPECT_EQ(hidden->status, 404);
  nginx.Signal(SIGTERM);
  nginx.WaitExit(10s);
}

}  // namespace
}  // namespace sg::testing
