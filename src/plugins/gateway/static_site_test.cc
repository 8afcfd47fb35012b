#include "plugins/gateway/static_site.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <zlib.h>

#include <array>
#include <fstream>
#include <sstream>
#include <string>

#include "core/api/hex.h"
#include "core/testing/temp_dir.h"
#include "plugins/gateway/embedded_files.h"
#include "plugins/gateway/gateway_config.h"
#include "plugins/gateway/router.h"

namespace sg::plugins::gateway {
namespace {

// What a client receives: the body, or the bytes of the object the gateway writes (large
// files are not copied into the response; they come from the site's memory).
std::string BodyOf(const HttpResponse& response) {
  if (!response.object) {
    return response.body;
  }
  auto memory = response.object->memory_span();
  EXPECT_TRUE(memory.has_value());
  return memory ? std::string(memory->data(), memory->size()) : std::string();
}

using sg::testing::TempDir;

const std::filesystem::path kWebDir = SG_WEB_SOURCE_DIR;

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

void WriteFile(const std::filesystem::path& path, std::string_view bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  return HexEncode(std::span<const std::uint8_t>(digest, length));
}

// zlib with a gzip wrapper (windowBits 16 + 15), as `gzip -dc` would.
std::string Gunzip(std::string_view compressed) {
  z_stream stream{};
  EXPECT_EQ(inflateInit2(&stream, 16 + MAX_WBITS), Z_OK);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char buffer[64 * 1024];
  int code = Z_OK;
  while (code == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof(buffer);
    code = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - stream.avail_out);
  }
  EXPECT_EQ(code, Z_STREAM_END);
  inflateEnd(&stream);
  return out;
}

std::string Gzip(std::string_view bytes) {
  z_stream stream{};
  EXPECT_EQ(deflateInit2(&stream, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&stream, static_cast<uLong>(bytes.size())) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

std::string HeaderOf(const HttpResponse& response, std::string_view name) {
  auto value = FindHeader(response.headers, name);
  return value ? std::string(*value) : std::string();
}

/// What the gateway does before a handler runs: parse the target, match, set the params.
struct Dispatched {
  RouteMatch match;
  Result<HttpResponse> result = MakeError(ErrorCode::kInternal, "not dispatched");
};

Dispatched Dispatch(const Router& router, std::string method, std::string_view target,
                    HttpHeaders headers = {}) {
  Dispatched out;
  auto parsed = ParseRequestTarget(target);
  if (!parsed) {
    out.result = tl::unexpected(parsed.error());
    return out;
  }
  out.match = router.Match(method, parsed->segments);
  if (out.match.kind != RouteMatch::Kind::kFound) {
    out.result = MakeError(ErrorCode::kNotFound, "no route");
    return out;
  }
  HttpRequest request;
  request.method = std::move(method);
  request.target = std::string(target);
  request.path = parsed->path;
  request.path_params = out.match.params;
  request.headers = std::move(headers);
  out.result = out.match.route->handler(request);
  return out;
}

HttpRequest Get(HttpHeaders headers = {}) {
  HttpRequest request;
  request.method = "GET";
  request.headers = std::move(headers);
  return request;
}

class EmbeddedSiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto added = AddWebUiRoutes(GatewayConfig{}, router_);
    ASSERT_TRUE(added) << added.error().ToString();
    ASSERT_NE(*added, nullptr);
    site_ = *added;
  }

  Router router_;
  std::shared_ptr<const StaticSite> site_;
};

TEST_F(EmbeddedSiteTest, RootAndEveryPageRouteAnswerIndexHtml) {
  const std::string index = ReadFile(kWebDir / "index.html");
  ASSERT_FALSE(index.empty());

  for (const char* target : {"/", "/upload", "/watch/c0ffee", "/account", "/watch/x?t=12"}) {
    auto dispatched = Dispatch(router_, "GET", target);

    ASSERT_TRUE(dispatched.result) << target << ": " << dispatched.result.error().ToString();
    EXPECT_EQ(dispatched.result->status, 200) << target;
    EXPECT_EQ(HeaderOf(*dispatched.result, "Content-Type"), "text/html; charset=utf-8") << target;
    EXPECT_EQ(BodyOf(*dispatched.result), index) << target;
  }
}

TEST_F(EmbeddedSiteTest, RoutesReadFromMemoryInTheReadBucket) {
  for (const char* target : {"/", "/upload", "/watch/1", "/account", "/assets/app.js"}) {
    auto dispatched = Dispatch(router_, "GET", target);

    ASSERT_EQ(dispatched.match.kind, RouteMatch::Kind::kFound) << target;
    EXPECT_EQ(dispatched.match.route->options.rate_class, "read") << target;
    EXPECT_FALSE(dispatched.match.route->options.blocking) << target;
  }
}

TEST_F(EmbeddedSiteTest, PagesOutsideTheListAreNotRouted) {
  for (const char* target : {"/uploads", "/watch", "/watch/1/2", "/index.html", "/assets"}) {
    EXPECT_NE(Dispatch(router_, "GET", target).match.kind, RouteMatch::Kind::kFound) << target;
  }
}

TEST_F(EmbeddedSiteTest, AssetBytesEqualTheSourceFile) {
  auto dispatched = Dispatch(router_, "GET", "/assets/app.js");

  ASSERT_TRUE(dispatched.result) << dispatched.result.error().ToString();
  EXPECT_EQ(dispatched.result->status, 200);
  EXPECT_EQ(BodyOf(*dispatched.result), ReadFile(kWebDir / "assets" / "app.js"));
  EXPECT_EQ(HeaderOf(*dispatched.result, "Content-Type"), "text/javascript; charset=utf-8");
}

TEST_F(EmbeddedSiteTest, EveryFileUnderWebAssetsIsEmbedded) {
  for (const auto& entry : std::filesystem::directory_iterator(kWebDir / "assets")) {
    auto name = entry.path().filename().string();
    if (!entry.is_regular_file() || name.front() == '.' || name.ends_with("~")) {
      continue;
    }
    const StaticFile* file = site_->Find("/assets/" + name);
    ASSERT_NE(file, nullptr) << name;
    EXPECT_EQ(file->bytes, ReadFile(entry.path())) << name;
  }
}

TEST_F(EmbeddedSiteTest, NpmLibrariesAreServedAsJavaScriptUnderFlatNames) {
  const std::pair<const char*, std::filesystem::path> vendored[] = {
      {"/assets/hls.mjs", kWebDir / "node_modules/hls.js/dist/hls.min.mjs"},
      {"/assets/hls.worker.js", kWebDir / "node_modules/hls.js/dist/hls.worker.js"},
      {"/assets/tus.js", kWebDir / "node_modules/tus-js-client/dist/tus.min.js"},
      {"/assets/sha3.js", kWebDir / "node_modules/js-sha3/build/sha3.min.js"}};
  for (const auto& [target, source] : vendored) {
    auto dispatched = Dispatch(router_, "GET", target);

    ASSERT_TRUE(dispatched.result) << target;
    EXPECT_EQ(dispatched.result->status, 200) << target;
    EXPECT_EQ(HeaderOf(*dispatched.result, "Content-Type"), "text/javascript; charset=utf-8");
    EXPECT_EQ(BodyOf(*dispatched.result), ReadFile(source)) << target;
  }
}

TEST_F(EmbeddedSiteTest, BuildTimeHashesMatchTheBytes) {
  for (const auto& file : EmbeddedWebFiles()) {
    std::string_view bytes(reinterpret_cast<const char*>(file.bytes), file.size);
    EXPECT_EQ(Sha256Hex(bytes), file.sha256) << file.path;
  }
}

TEST_F(EmbeddedSiteTest, EveryResponseCarriesTheSecurityHeaders) {
  auto ok = site_->Serve("/assets/app.js", Get());
  ASSERT_TRUE(ok);
  auto not_modified =
      site_->Serve("/assets/app.js", Get({{"If-None-Match", HeaderOf(*ok, "ETag")}}));
  ASSERT_TRUE(not_modified);
  ASSERT_EQ(not_modified->status, 304);

  for (const HttpResponse* response : {&*ok, &*not_modified}) {
    EXPECT_EQ(HeaderOf(*response, "Content-Security-Policy"), kContentSecurityPolicy);
    EXPECT_NE(HeaderOf(*response, "Content-Security-Policy").find("script-src 'self';"),
              std::string::npos);
    EXPECT_EQ(HeaderOf(*response, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(HeaderOf(*response, "Referrer-Policy"), "same-origin");
    EXPECT_EQ(HeaderOf(*response, "X-Frame-Options"), "DENY");
    EXPECT_EQ(HeaderOf(*response, "Cache-Control"), "no-cache");
    EXPECT_EQ(HeaderOf(*response, "Vary"), "Accept-Encoding");
  }
}

TEST_F(EmbeddedSiteTest, MatchingEtagIs304WithoutBodyAndAnotherIs200) {
  auto first = site_->ServePage(Get());
  ASSERT_TRUE(first);
  const std::string etag = HeaderOf(*first, "ETag");
  ASSERT_EQ(etag.size(), 34u) << etag;  // a quoted 128-bit hex digest: strong
  EXPECT_EQ(etag.front(), '"');

  for (const std::string& condition : {etag, "W/" + etag, "\"other\", " + etag,
                                       "\"a\",W/" + etag + " , \"b\"", std::string("*")}) {
    auto again = site_->ServePage(Get({{"If-None-Match", condition}}));
    ASSERT_TRUE(again) << condition;
    EXPECT_EQ(again->status, 304) << condition;
    EXPECT_TRUE(BodyOf(*again).empty()) << condition;
    EXPECT_EQ(HeaderOf(*again, "ETag"), etag) << condition;
  }
  for (const std::string& condition : {std::string("\"stale\""), std::string("W/\"stale\", \"x\""),
                                       etag.substr(0, 20) + "\"", std::string("")}) {
    auto again = site_->ServePage(Get({{"If-None-Match", condition}}));
    ASSERT_TRUE(again) << condition;
    EXPECT_EQ(again->status, 200) << condition;
    EXPECT_EQ(BodyOf(*again), BodyOf(*first)) << condition;
  }
}

TEST_F(EmbeddedSiteTest, LargeFilesAreWrittenFromTheSitesMemoryAndSmallOnesCopied) {
  auto large = site_->Serve("/assets/hls.mjs", Get());
  ASSERT_TRUE(large);
  ASSERT_TRUE(large->object);
  EXPECT_TRUE(large->body.empty());
  const StaticFile* hls = site_->Find("/assets/hls.mjs");
  auto memory = large->object->memory_span();
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->data(), hls->bytes.data());  // the same bytes, not a copy
  EXPECT_EQ(large->object->length(), hls->bytes.size());
  // Read() (the gateway's path for readers without spans) returns the same bytes.
  std::string read;
  std::array<char, 4096> buffer{};
  while (auto n = large->object->Read(buffer)) {
    if (*n == 0) {
      break;
    }
    read.append(buffer.data(), *n);
  }
  EXPECT_EQ(read, hls->bytes);

  auto small = site_->Serve("/index.html", Get());
  ASSERT_TRUE(small);
  EXPECT_FALSE(small->object);
  EXPECT_FALSE(small->body.empty());
}

TEST_F(EmbeddedSiteTest, GzipIsServedOnlyWhenAcceptedAndInflatesToTheOriginal) {
  const StaticFile* hls = site_->Find("/assets/hls.mjs");
  ASSERT_NE(hls, nullptr);
  ASSERT_FALSE(hls->gzip.empty()) << "hls.min.mjs compresses well";
  EXPECT_LT(hls->gzip.size(), hls->bytes.size());

  auto plain = site_->Serve("/assets/hls.mjs", Get());
  auto gzipped = site_->Serve("/assets/hls.mjs", Get({{"Accept-Encoding", "gzip, deflate, br"}}));
  auto refused = site_->Serve("/assets/hls.mjs", Get({{"Accept-Encoding", "gzip;q=0, br"}}));
  ASSERT_TRUE(plain && gzipped && refused);

  EXPECT_EQ(HeaderOf(*plain, "Content-Encoding"), "");
  EXPECT_EQ(BodyOf(*plain), hls->bytes);
  EXPECT_EQ(HeaderOf(*gzipped, "Content-Encoding"), "gzip");
  EXPECT_EQ(HeaderOf(*gzipped, "Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(Gunzip(BodyOf(*gzipped)), ReadFile(kWebDir / "node_modules/hls.js/dist/hls.min.mjs"));
  EXPECT_EQ(HeaderOf(*refused, "Content-Encoding"), "");
  EXPECT_EQ(BodyOf(*refused), hls->bytes);
  // Two representations, two strong tags; each revalidates only itself.
  EXPECT_NE(HeaderOf(*gzipped, "ETag"), HeaderOf(*plain, "ETag"));
  auto revalidated = site_->Serve(
      "/assets/hls.mjs",
      Get({{"Accept-Encoding", "gzip"}, {"If-None-Match", HeaderOf(*gzipped, "ETag")}}));
  ASSERT_TRUE(revalidated);
  EXPECT_EQ(revalidated->status, 304);
}

TEST_F(EmbeddedSiteTest, EveryEmbeddedGzipVariantInflatesToItsFile) {
  for (const auto& path : site_->Paths()) {
    const StaticFile* file = site_->Find(path);
    ASSERT_NE(file, nullptr);
    if (!file->gzip.empty()) {
      EXPECT_EQ(Gunzip(file->gzip), file->bytes) << path;
    }
  }
}

TEST_F(EmbeddedSiteTest, HeadHasTheHeadersAndLengthButNoBody) {
  HttpRequest head;
  head.method = "HEAD";
  head.headers = {{"Accept-Encoding", "gzip"}};
  auto get = site_->Serve("/assets/hls.mjs", Get({{"Accept-Encoding", "gzip"}}));
  auto answered = site_->Serve("/assets/hls.mjs", head);
  ASSERT_TRUE(get && answered);

  EXPECT_EQ(answered->status, 200);
  EXPECT_TRUE(BodyOf(*answered).empty());
  EXPECT_EQ(HeaderOf(*answered, "Content-Length"), std::to_string(BodyOf(*get).size()));
  for (const char* name : {"Content-Type", "Content-Encoding", "ETag", "Cache-Control", "Vary",
                           "Content-Security-Policy"}) {
    EXPECT_EQ(HeaderOf(*answered, name), HeaderOf(*get, name)) << name;
  }
  // The router sends HEAD to the GET route (head_via_get); the handler sees HEAD.
  auto routed = Dispatch(router_, "HEAD", "/watch/abc");
  ASSERT_TRUE(routed.result);
  EXPECT_TRUE(routed.match.head_via_get);
  EXPECT_TRUE(BodyOf(*routed.result).empty());
  EXPECT_NE(HeaderOf(*routed.result, "Content-Length"), "");
}

TEST_F(EmbeddedSiteTest, OtherMethodsAre405) {
  HttpRequest post;
  post.method = "POST";

  auto answered = site_->ServePage(post);

  ASSERT_TRUE(answered);
  EXPECT_EQ(answered->status, 405);
  EXPECT_EQ(HeaderOf(*answered, "Allow"), "GET, HEAD");
  EXPECT_EQ(Dispatch(router_, "POST", "/").match.kind, RouteMatch::Kind::kMethodNotAllowed);
}

TEST_F(EmbeddedSiteTest, UnknownAssetIsNotFound) {
  for (const char* target :
       {"/assets/nope.js", "/assets/APP.JS", "/assets/app.js.gz", "/assets/index.html"}) {
    auto dispatched = Dispatch(router_, "GET", target);

    ASSERT_FALSE(dispatched.result) << target;
    EXPECT_EQ(dispatched.result.error().code, ErrorCode::kNotFound) << target;
  }
}

TEST_F(EmbeddedSiteTest, TraversalLikeNamesAreRefused) {
  // Through the router: %2F stays inside the segment, so the handler sees the slash.
  for (const char* target : {"/assets/..%2Findex.html", "/assets/a%2Fb.js", "/assets/a%5Cb.js",
                             "/assets/...js", "/assets/app..js"}) {
    auto dispatched = Dispatch(router_, "GET", target);

    ASSERT_FALSE(dispatched.result) << target;
    EXPECT_EQ(dispatched.result.error().code, ErrorCode::kInvalidArgument) << target;
  }
  // The gateway's target parser refuses the rest before any route.
  for (const char* target : {"/assets/../index.html", "/assets/%2e%2e", "/assets/a%00b"}) {
    EXPECT_FALSE(Dispatch(router_, "GET", target).result) << target;
  }
  // And the handler on its own, should another router hand it such names.
  for (std::string name : {std::string(".."), std::string("../x"), std::string("a/b"),
                           std::string("a\\b"), std::string("a\0b", 3), std::string()}) {
    HttpRequest request = Get();
    request.path_params = {{"file", name}};
    auto answered = site_->ServeAsset(request);
    ASSERT_FALSE(answered) << name;
    EXPECT_EQ(answered.error().code, ErrorCode::kInvalidArgument) << name;
  }
}

TEST(StaticSiteTest, ContentTypesByExtension) {
  const std::pair<const char*, const char*> cases[] = {
      {"index.html", "text/html; charset=utf-8"},
      {"app.js", "text/javascript; charset=utf-8"},
      {"hls.mjs", "text/javascript; charset=utf-8"},
      {"style.css", "text/css; charset=utf-8"},
      {"icon.svg", "image/svg+xml; charset=utf-8"},
      {"poster.png", "image/png"},
      {"favicon.ico", "image/x-icon"},
      {"data.json", "application/json; charset=utf-8"},
      {"app.js.map", "application/json; charset=utf-8"},
      {"font.woff2", "font/woff2"},
      {"site.webmanifest", "application/manifest+json; charset=utf-8"},
      {"robots.txt", "text/plain; charset=utf-8"},
      {"UPPER.CSS", "text/css; charset=utf-8"},
      {"archive.tar", "application/octet-stream"},
      {"noextension", "application/octet-stream"},
  };
  for (const auto& [name, type] : cases) {
    EXPECT_EQ(ContentTypeFor(name), type) << name;
  }
}

TEST(StaticSiteTest, AcceptEncodingHonoursQValues) {
  const std::pair<const char*, bool> cases[] = {
      {"gzip", true},
      {"gzip, deflate, br", true},
      {"br;q=1.0, gzip;q=0.8", true},
      {"GZIP", true},
      {"x-gzip", true},
      {"*", true},
      {"*;q=0.1", true},
      {"gzip ; q=0.001", true},
      {"", false},
      {"identity", false},
      {"br, deflate", false},
      {"gzip;q=0", false},
      {"gzip; q=0.000", false},
      {"gzip;q=0, *", false},  // explicit refusal beats the wildcard
      {"*;q=0", false},
      {"gzip;q=2", false},  // malformed q: not accepted
      {"gzip;q=abc", false},
      {"gzipx", false},
  };
  for (const auto& [header, accepted] : cases) {
    EXPECT_EQ(AcceptsGzip(header), accepted) << "'" << header << "'";
  }
}

class DirectorySiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    WriteFile(dir_.path() / "index.html", "<!doctype html><title>custom</title>");
    WriteFile(dir_.path() / "assets" / "app.js", big_js_);
    WriteFile(dir_.path() / "assets" / "app.js.gz", Gzip(big_js_));
    WriteFile(dir_.path() / "assets" / "tiny.css", "a{}");
    WriteFile(dir_.path() / "assets" / ".hidden", "secret");
    WriteFile(dir_.path() / "assets" / "nested" / "deep.js", "no");
    WriteFile(dir_.path() / "notes.txt", "outside assets/");
  }

  TempDir dir_{"sg-web-root"};
  std::string big_js_ = std::string(4000, 'x') + "console.log('custom');";
};

TEST_F(DirectorySiteTest, LoadsIndexAndFlatAssetsWithGzipSiblings) {
  auto site = StaticSite::FromDirectory(dir_.path());

  ASSERT_TRUE(site) << site.error().ToString();
  EXPECT_EQ((*site)->Paths(),
            (std::vector<std::string>{"/assets/app.js", "/assets/tiny.css", "/index.html"}));
  auto index = (*site)->ServePage(Get());
  ASSERT_TRUE(index);
  EXPECT_EQ(BodyOf(*index), "<!doctype html><title>custom</title>");
  auto gzipped = (*site)->Serve("/assets/app.js", Get({{"Accept-Encoding", "gzip"}}));
  ASSERT_TRUE(gzipped);
  EXPECT_EQ(HeaderOf(*gzipped, "Content-Encoding"), "gzip");
  EXPECT_EQ(Gunzip(BodyOf(*gzipped)), big_js_);
  auto no_variant = (*site)->Serve("/assets/tiny.css", Get({{"Accept-Encoding", "gzip"}}));
  ASSERT_TRUE(no_variant);
  EXPECT_EQ(HeaderOf(*no_variant, "Content-Encoding"), "");
  EXPECT_EQ(BodyOf(*no_variant), "a{}");
}

TEST_F(DirectorySiteTest, ALargerGzipSiblingIsIgnored) {
  WriteFile(dir_.path() / "assets" / "tiny.css.gz", Gzip("a{}"));  // header alone is larger

  auto site = StaticSite::FromDirectory(dir_.path());

  ASSERT_TRUE(site) << site.error().ToString();
  auto answered = (*site)->Serve("/assets/tiny.css", Get({{"Accept-Encoding", "gzip"}}));
  ASSERT_TRUE(answered);
  EXPECT_EQ(HeaderOf(*answered, "Content-Encoding"), "");
  EXPECT_EQ(BodyOf(*answered), "a{}");
}

TEST_F(DirectorySiteTest, EtagsAgreeWithTheEmbeddedCopyOfTheSameBytes) {
  auto embedded = StaticSite::Embedded();
  auto from_source = StaticSite::FromDirectory(kWebDir);  // web/ itself is a valid web_root
  ASSERT_TRUE(embedded && from_source);

  const StaticFile* a = (*embedded)->Find("/assets/app.js");
  const StaticFile* b = (*from_source)->Find("/assets/app.js");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->etag, b->etag);
}

TEST_F(DirectorySiteTest, MissingIndexIsAnErrorNamingThePath) {
  std::filesystem::remove(dir_.path() / "index.html");

  auto site = StaticSite::FromDirectory(dir_.path());

  ASSERT_FALSE(site);
  EXPECT_EQ(site.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(site.error().message.find((dir_.path() / "index.html").string()), std::string::npos)
      << site.error().message;
}

TEST_F(DirectorySiteTest, MissingDirectoryIsAnErrorNamingThePath) {
  auto missing = dir_.path() / "nope";

  auto site = StaticSite::FromDirectory(missing);

  ASSERT_FALSE(site);
  EXPECT_NE(site.error().message.find(missing.string()), std::string::npos) << site.error().message;
}

TEST_F(DirectorySiteTest, FileAboveTheLimitIsRefusedByName) {
  auto site = StaticSite::FromDirectory(dir_.path(), {.max_file_bytes = 1000});

  ASSERT_FALSE(site);
  EXPECT_EQ(site.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(site.error().message.find("app.js"), std::string::npos) << site.error().message;
  EXPECT_NE(site.error().message.find("1000"), std::string::npos) << site.error().message;
}

TEST_F(DirectorySiteTest, TotalAboveTheLimitIsRefused) {
  auto site =
      StaticSite::FromDirectory(dir_.path(), {.max_file_bytes = 1 << 20, .max_total_bytes = 4000});

  ASSERT_FALSE(site);
  EXPECT_NE(site.error().message.find("in total"), std::string::npos) << site.error().message;
}

TEST_F(DirectorySiteTest, GzipSiblingThatIsNotGzipIsRefused) {
  WriteFile(dir_.path() / "assets" / "app.js.gz", std::string(100, 'n'));

  auto site = StaticSite::FromDirectory(dir_.path());

  ASSERT_FALSE(site);
  EXPECT_NE(site.error().message.find("app.js.gz"), std::string::npos) << site.error().message;
}

TEST_F(DirectorySiteTest, WebRootInTheConfigIsServedAtTheRoutes) {
  GatewayConfig config;
  config.web_root = dir_.path().string();
  Router router;

  auto site = AddWebUiRoutes(config, router);

  ASSERT_TRUE(site) << site.error().ToString();
  auto page = Dispatch(router, "GET", "/upload");
  ASSERT_TRUE(page.result);
  EXPECT_EQ(BodyOf(*page.result), "<!doctype html><title>custom</title>");
  EXPECT_FALSE(Dispatch(router, "GET", "/assets/hls.mjs").result);  // not in this web_root
}

TEST_F(DirectorySiteTest, BadWebRootFailsTheRouteSetUp) {
  GatewayConfig config;
  config.web_root = (dir_.path() / "missing").string();
  Router router;

  auto site = AddWebUiRoutes(config, router);

  ASSERT_FALSE(site);
  EXPECT_NE(site.error().message.find("web_root"), std::string::npos) << site.error().message;
}

TEST(StaticSiteTest, WebUiFalseRegistersNoRoutes) {
  GatewayConfig config;
  config.web_ui = false;
  Router router;

  auto site = AddWebUiRoutes(config, router);

  ASSERT_TRUE(site);
  EXPECT_EQ(*site, nullptr);
  for (const char* target : {"/", "/upload", "/watch/1", "/account", "/assets/app.js"}) {
    EXPECT_EQ(Dispatch(router, "GET", target).match.kind, RouteMatch::Kind::kNotFound) << target;
  }
}

}  // namespace
}  // namespace sg::plugins::gateway
