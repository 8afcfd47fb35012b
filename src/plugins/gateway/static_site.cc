#include "plugins/gateway/static_site.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <system_error>

#include "core/api/hex.h"
#include "core/api/services/http.h"
#include "plugins/gateway/embedded_files.h"
#include "plugins/gateway/gateway_config.h"

namespace sg::plugins::gateway {
namespace {

constexpr std::string_view kIndexPath = "/index.html";
constexpr std::string_view kAssetPrefix = "/assets/";

/// The q-value of one Accept-Encoding element's parameters (";q=0.5"); 1 when absent. A
/// malformed q counts as 0: a client that cannot write it gets the identity encoding.
double QValue(std::string_view params) noexcept {
  while (!params.empty()) {
    auto semicolon = params.find(';');
    auto param = TrimOws(params.substr(0, semicolon));
    params =
        semicolon == std::string_view::npos ? std::string_view() : params.substr(semicolon + 1);
    if (param.empty() || (param[0] != 'q' && param[0] != 'Q')) {
      continue;
    }
    auto rest = TrimOws(param.substr(1));
    if (rest.empty() || rest.front() != '=') {
      continue;
    }
    auto number = TrimOws(rest.substr(1));
    // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) (RFC 9110 12.4.2).
    if (number.empty() || (number[0] != '0' && number[0] != '1')) {
      return 0;
    }
    if (number.size() > 1 && (number[1] != '.' || number.size() > 5)) {
      return 0;
    }
    double q = number[0] - '0';
    double scale = 0.1;
    for (std::size_t i = 2; i < number.size(); ++i) {
      if (number[i] < '0' || number[i] > '9') {
        return 0;
      }
      q += (number[i] - '0') * scale;
      scale /= 10;
    }
    return std::min(q, 1.0);
  }
  return 1;
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    // Only fails on allocation failure inside OpenSSL; the site then cannot start.
    return {};
  }
  return HexEncode(std::span<const std::uint8_t>(digest, length));
}

bool IsSafeAssetName(std::string_view name) noexcept {
  return !name.empty() &&
         name.find_first_of(std::string_view("/\\\0", 3)) == std::string_view::npos &&
         name.find("..") == std::string_view::npos;
}

/// Security headers, caching policy and Vary: what every static response carries.
void AddCommonHeaders(HttpResponse& response, std::string_view etag) {
  response.headers.emplace_back("ETag", std::string(etag));
  // The names are not content-hashed, so the browser must revalidate every time; the ETag
  // makes that a 304 without a body.
  response.headers.emplace_back("Cache-Control", "no-cache");
  response.headers.emplace_back("Vary", "Accept-Encoding");
  response.headers.emplace_back("Content-Security-Policy", std::string(kContentSecurityPolicy));
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Referrer-Policy", "same-origin");
  response.headers.emplace_back("X-Frame-Options", "DENY");
}

Result<std::string> ReadWholeFile(const std::filesystem::path& path, std::uint64_t size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return MakeError(ErrorCode::kInvalidArgument, "gateway.web_root: cannot open {}: {}",
                     path.string(), std::strerror(errno));
  }
  std::string bytes(static_cast<std::size_t>(size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (static_cast<std::uint64_t>(in.gcount()) != size || in.peek() != EOF) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "gateway.web_root: {} changed size while it was read", path.string());
  }
  return bytes;
}

/// Reads the directory's files, checking each against the limits before reading it.
class DirectoryLoader {
 public:
  DirectoryLoader(std::filesystem::path root, StaticSite::Limits limits)
      : root_(std::move(root)), limits_(limits) {}

  /// The file's bytes; nullopt when it does not exist (or is not a regular file).
  Result<std::optional<std::string>> ReadIfPresent(const std::filesystem::path& path) {
    std::error_code error;
    auto status = std::filesystem::status(path, error);
    if (error || !std::filesystem::is_regular_file(status)) {
      return std::optional<std::string>();
    }
    auto size = std::filesystem::file_size(path, error);
    if (error) {
      return MakeError(ErrorCode::kInvalidArgument, "gateway.web_root: cannot read {}: {}",
                       path.string(), error.message());
    }
    if (size > limits_.max_file_bytes) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "gateway.web_root: {} has {} bytes, more than the {} a file may have",
                       path.string(), size, limits_.max_file_bytes);
    }
    total_ += size;
    if (total_ > limits_.max_total_bytes) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "gateway.web_root: the files under {} exceed {} bytes in total "
                       "(they are held in memory)",
                       root_.string(), limits_.max_total_bytes);
    }
    SG_ASSIGN_OR_RETURN(auto bytes, ReadWholeFile(path, size));
    return std::optional<std::string>(std::move(bytes));
  }

 private:
  std::filesystem::path root_;
  StaticSite::Limits limits_;
  std::uint64_t total_ = 0;
};

bool LooksLikeGzip(std::string_view bytes) noexcept {
  return bytes.size() >= 18 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

// Bodies this large go out as an object whose bytes the gateway writes straight from the
// site's memory; smaller ones are copied into the response and leave in one write with the
// head, which is cheaper than two writes for a page or a small script.
constexpr std::size_t kZeroCopyBytes = 16 * 1024;

// A static file's bytes as a response body, without copying them per request. The reader
// keeps the site (and so the bytes of a web_root site) alive while the gateway writes.
class StaticBodyReader final : public ObjectReader {
 public:
  StaticBodyReader(std::shared_ptr<const StaticSite> site, std::string_view bytes, std::string key,
                   std::string etag)
      : site_(std::move(site)), bytes_(bytes) {
    info_.key = std::move(key);
    info_.size = bytes.size();
    info_.etag = std::move(etag);
  }
  Result<std::size_t> Read(std::span<char> buffer) override {
    const std::size_t take = std::min(buffer.size(), bytes_.size() - offset_);
    std::memcpy(buffer.data(), bytes_.data() + offset_, take);
    offset_ += take;
    return take;
  }
  const ObjectInfo& info() const noexcept override { return info_; }
  std::uint64_t length() const noexcept override { return bytes_.size(); }
  std::optional<std::span<const char>> memory_span() const noexcept override {
    return std::span<const char>(bytes_.data(), bytes_.size());
  }

 private:
  std::shared_ptr<const StaticSite> site_;
  std::string_view bytes_;
  std::size_t offset_ = 0;
  ObjectInfo info_;
};

}  // namespace

std::string_view ContentTypeFor(std::string_view name) noexcept {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml; charset=utf-8"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".json", "application/json; charset=utf-8"},
      {".map", "application/json; charset=utf-8"},
      {".woff2", "font/woff2"},
      {".webmanifest", "application/manifest+json; charset=utf-8"},
      {".txt", "text/plain; charset=utf-8"},
  };
  auto dot = name.rfind('.');
  if (dot != std::string_view::npos) {
    auto extension = name.substr(dot);
    for (const auto& [suffix, type] : kTypes) {
      if (EqualsIgnoreAsciiCase(extension, suffix)) {
        return type;
      }
    }
  }
  return "application/octet-stream";
}

bool AcceptsGzip(std::string_view accept_encoding) noexcept {
  std::optional<double> gzip_q;
  std::optional<double> any_q;
  ForEachListElement(accept_encoding, [&](std::string_view element) {
    auto semicolon = element.find(';');
    auto coding = TrimOws(element.substr(0, semicolon));
    double q = semicolon == std::string_view::npos ? 1 : QValue(element.substr(semicolon + 1));
    if (EqualsIgnoreAsciiCase(coding, "gzip") || EqualsIgnoreAsciiCase(coding, "x-gzip")) {
      gzip_q = std::max(gzip_q.value_or(0), q);
    } else if (coding == "*") {
      any_q = q;
    }
  });
  if (gzip_q) {
    return *gzip_q > 0;
  }
  return any_q.value_or(0) > 0;
}

Result<std::shared_ptr<const StaticSite>> StaticSite::Embedded() {
  std::shared_ptr<StaticSite> site(new StaticSite());
  site->origin_ = "embedded";
  for (const auto& file : EmbeddedWebFiles()) {
    std::string_view bytes(reinterpret_cast<const char*>(file.bytes), file.size);
    std::string_view gzip;
    if (file.gzip_bytes != nullptr) {
      gzip = {reinterpret_cast<const char*>(file.gzip_bytes), file.gzip_size};
    }
    SG_RETURN_IF_ERROR(site->Add(file.path, bytes, gzip, file.sha256));
  }
  if (!site->Find(kIndexPath)) {
    return MakeError(ErrorCode::kInternal, "the embedded web app has no index.html");
  }
  return std::shared_ptr<const StaticSite>(std::move(site));
}

Result<std::shared_ptr<const StaticSite>> StaticSite::FromDirectory(
    const std::filesystem::path& root, Limits limits) {
  std::error_code error;
  if (!std::filesystem::is_directory(root, error)) {
    return MakeError(ErrorCode::kInvalidArgument, "gateway.web_root: {} is not a directory{}",
                     root.string(), error ? fmt::format(" ({})", error.message()) : "");
  }
  std::shared_ptr<StaticSite> site(new StaticSite());
  site->origin_ = root.string();
  DirectoryLoader loader(root, limits);

  // (URL path, file) pairs: index.html, then the flat assets/ directory in name order.
  std::vector<std::pair<std::string, std::filesystem::path>> wanted;
  wanted.emplace_back(std::string(kIndexPath), root / "index.html");
  auto assets = root / "assets";
  if (std::filesystem::is_directory(assets, error)) {
    std::vector<std::string> names;
    std::filesystem::directory_iterator it(assets, error);
    for (; !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
      names.push_back(it->path().filename().string());
    }
    if (error) {
      return MakeError(ErrorCode::kInvalidArgument, "gateway.web_root: cannot list {}: {}",
                       assets.string(), error.message());
    }
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      bool is_variant =
          name.size() > 3 && name.ends_with(".gz") &&
          std::binary_search(names.begin(), names.end(), name.substr(0, name.size() - 3));
      if (is_variant || name.front() == '.' || !IsSafeAssetName(name)) {
        continue;
      }
      wanted.emplace_back(fmt::format("{}{}", kAssetPrefix, name), assets / name);
    }
  }

  for (const auto& [url_path, path] : wanted) {
    SG_ASSIGN_OR_RETURN(auto bytes, loader.ReadIfPresent(path));
    if (!bytes) {
      if (url_path == kIndexPath) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "gateway.web_root: {} is missing (the directory must hold index.html "
                         "and assets/)",
                         path.string());
      }
      continue;  // not a regular file (a subdirectory, a socket): not served
    }
    auto gz_path = path;
    gz_path += ".gz";
    SG_ASSIGN_OR_RETURN(auto gzip, loader.ReadIfPresent(gz_path));
    if (gzip && !LooksLikeGzip(*gzip)) {
      return MakeError(ErrorCode::kInvalidArgument, "gateway.web_root: {} is not gzip data",
                       gz_path.string());
    }
    auto hash = Sha256Hex(*bytes);
    if (hash.empty()) {
      return MakeError(ErrorCode::kInternal, "SHA-256 of {} failed", path.string());
    }
    const auto& owned =
        *site->storage_.emplace_back(std::make_unique<const std::string>(std::move(*bytes)));
    std::string_view gzip_view;
    if (gzip) {
      gzip_view =
          *site->storage_.emplace_back(std::make_unique<const std::string>(std::move(*gzip)));
    }
    SG_RETURN_IF_ERROR(site->Add(url_path, owned, gzip_view, hash));
  }
  return std::shared_ptr<const StaticSite>(std::move(site));
}

Result<> StaticSite::Add(std::string path, std::string_view bytes, std::string_view gzip,
                         std::string_view sha256_hex) {
  if (sha256_hex.size() < 32) {
    return MakeError(ErrorCode::kInternal, "web file {}: no content hash", path);
  }
  StaticFile file;
  file.content_type = std::string(ContentTypeFor(path));
  file.bytes = bytes;
  // A variant that is not smaller only costs the client CPU.
  if (!gzip.empty() && gzip.size() < bytes.size()) {
    file.gzip = gzip;
  }
  // 128 bits of the SHA-256 identify a version of one URL's content beyond doubt.
  file.etag = fmt::format("\"{}\"", sha256_hex.substr(0, 32));
  file.gzip_etag = fmt::format("\"{}-gz\"", sha256_hex.substr(0, 32));
  file.path = path;
  auto [it, inserted] = files_.emplace(std::move(path), std::move(file));
  if (!inserted) {
    return MakeError(ErrorCode::kInternal, "web file {} listed twice", it->first);
  }
  return {};
}

const StaticFile* StaticSite::Find(std::string_view path) const {
  auto it = files_.find(path);
  return it == files_.end() ? nullptr : &it->second;
}

std::vector<std::string> StaticSite::Paths() const {
  std::vector<std::string> paths;
  paths.reserve(files_.size());
  for (const auto& [path, file] : files_) {
    paths.push_back(path);
  }
  return paths;
}

Result<HttpResponse> StaticSite::Serve(std::string_view path, const HttpRequest& request) const {
  const bool head = request.method == "HEAD";
  if (!head && request.method != "GET") {
    auto response = HttpResponse::Error(
        405, "method_not_allowed", fmt::format("{} is not allowed here", request.method), request);
    response.SetHeader("Allow", "GET, HEAD");
    return response;
  }
  const StaticFile* file = Find(path);
  if (file == nullptr) {
    return MakeError(ErrorCode::kNotFound, "no file {}", path);
  }
  bool gzip = false;
  if (!file->gzip.empty()) {
    auto accept = request.Header("Accept-Encoding");
    gzip = accept && AcceptsGzip(*accept);
  }
  const std::string& etag = gzip ? file->gzip_etag : file->etag;

  HttpResponse response;
  if (auto if_none_match = request.Header("If-None-Match");
      if_none_match && NotModified(if_none_match, std::nullopt, etag, WallTime{})) {
    response.status = 304;
    AddCommonHeaders(response, etag);
    return response;
  }
  response.status = 200;
  response.headers.emplace_back("Content-Type", file->content_type);
  if (gzip) {
    response.headers.emplace_back("Content-Encoding", "gzip");
  }
  AddCommonHeaders(response, etag);
  std::string_view body = gzip ? file->gzip : file->bytes;
  if (head) {
    // The gateway keeps a Content-Length a handler announces for HEAD with an empty body.
    response.headers.emplace_back("Content-Length", std::to_string(body.size()));
  } else if (body.size() >= kZeroCopyBytes) {
    response.object =
        std::make_shared<StaticBodyReader>(shared_from_this(), body, file->path, etag);
  } else {
    response.body.assign(body);
  }
  return response;
}

Result<HttpResponse> StaticSite::ServePage(const HttpRequest& request) const {
  return Serve(kIndexPath, request);
}

Result<HttpResponse> StaticSite::ServeAsset(const HttpRequest& request) const {
  if (!request.HasPathParam("file")) {
    return MakeError(ErrorCode::kInternal, "asset route without a {{file}} parameter");
  }
  auto name = request.PathParam("file");
  if (!IsSafeAssetName(name)) {
    return MakeError(ErrorCode::kInvalidArgument, "bad asset name");
  }
  std::string path = fmt::format("{}{}", kAssetPrefix, name);
  if (!Find(path)) {
    return MakeError(ErrorCode::kNotFound, "no asset {}", name);
  }
  return Serve(path, request);
}

Result<std::shared_ptr<const StaticSite>> AddWebUiRoutes(const GatewayConfig& config,
                                                         HttpRouter& router) {
  if (!config.web_ui) {
    return std::shared_ptr<const StaticSite>();
  }
  std::shared_ptr<const StaticSite> site;
  if (config.web_root.empty()) {
    SG_ASSIGN_OR_RETURN(site, StaticSite::Embedded());
  } else {
    SG_ASSIGN_OR_RETURN(site, StaticSite::FromDirectory(config.web_root));
  }
  RouteOptions options;
  options.rate_class = "read";
  options.blocking = false;  // served from memory
  for (std::string_view page : kWebAppPages) {
    options.metric_name = std::string(page);
    SG_RETURN_IF_ERROR(router.AddRoute(
        "GET", std::string(page),
        [site](const HttpRequest& request) { return site->ServePage(request); }, options));
  }
  options.metric_name = std::string(kWebAssetRoute);
  SG_RETURN_IF_ERROR(router.AddRoute(
      "GET", std::string(kWebAssetRoute),
      [site](const HttpRequest& request) { return site->ServeAsset(request); }, options));
  return site;
}

}  // namespace sg::plugins::gateway
