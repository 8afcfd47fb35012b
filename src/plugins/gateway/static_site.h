#pragma once
/// The web app's static files (issue 7), served from memory: the files embedded in the
/// binary (embed_web.cmake) or a `gateway.web_root` directory read at start. No Beast here:
/// plain HttpRequest in, HttpResponse out, so it is tested without sockets.
///
/// Lookup is an exact match of the URL path against the loaded table; no filesystem path is
/// ever built from a request, so no request can reach a file outside it.

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/result.h"
#include "core/api/services/http.h"

namespace sg::plugins::gateway {

struct GatewayConfig;

/// The app's client-side pages (history-API routing): each answers index.html, and the
/// app's router picks the view from location.pathname. The one list of them.
inline constexpr std::array<std::string_view, 4> kWebAppPages = {"/", "/upload", "/watch/{id}",
                                                                 "/account"};

/// The route serving `/assets/<file>`.
inline constexpr std::string_view kWebAssetRoute = "/assets/{file}";

/// Sent with every static response. The app loads only its own scripts (ES modules, hls.js
/// and its worker from /assets/), media from the API or blob: URLs (MSE), and talks only to
/// its own origin.
inline constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// One servable file. The byte views point into static storage (embedded) or into the
/// owning StaticSite (directory).
struct StaticFile {
  std::string path;  ///< URL path: "/index.html", "/assets/app.js"
  std::string_view bytes;
  std::string_view gzip;  ///< the gzip representation; empty = none (not smaller, or absent)
  std::string content_type;
  std::string etag;       ///< strong, quoted: "\"<32 hex of the SHA-256>\""
  std::string gzip_etag;  ///< the gzip representation's own tag ("\"...-gz\"")
};

class StaticSite : public std::enable_shared_from_this<StaticSite> {
 public:
  struct Limits {
    std::uint64_t max_file_bytes = 16ull << 20;   ///< per file (a .gz variant counts alone)
    std::uint64_t max_total_bytes = 64ull << 20;  ///< all files and variants together
  };

  /// The files embedded at build time. Never fails on a correct build.
  static Result<std::shared_ptr<const StaticSite>> Embedded();

  /// Reads `root`/index.html and every regular file directly under `root`/assets/ into
  /// memory; `<name>.gz` next to `<name>` is its gzip variant (like nginx gzip_static), used
  /// when smaller. kInvalidArgument naming the path when `root` is not a readable directory,
  /// index.html is missing, a file cannot be read, or a limit is exceeded.
  static Result<std::shared_ptr<const StaticSite>> FromDirectory(const std::filesystem::path& root,
                                                                 Limits limits);
  static Result<std::shared_ptr<const StaticSite>> FromDirectory(
      const std::filesystem::path& root) {
    return FromDirectory(root, Limits{});
  }

  StaticSite(const StaticSite&) = delete;
  StaticSite& operator=(const StaticSite&) = delete;

  /// The file at URL path `path` ("/index.html", "/assets/app.js"), or nullptr.
  const StaticFile* Find(std::string_view path) const;
  /// Every URL path, sorted.
  std::vector<std::string> Paths() const;
  std::size_t size() const noexcept { return files_.size(); }
  /// Where the files came from, for the start-up log ("embedded" or the directory).
  const std::string& origin() const noexcept { return origin_; }

  /// Answers GET or HEAD with the file at `path`: 200 (HEAD: no body, Content-Length
  /// announced), 304 when If-None-Match matches, the gzip variant when the client accepts it.
  /// kNotFound when there is no such file; 405 for other methods.
  Result<HttpResponse> Serve(std::string_view path, const HttpRequest& request) const;
  /// A page route: index.html.
  Result<HttpResponse> ServePage(const HttpRequest& request) const;
  /// `/assets/{file}`. A name with `/`, `\`, `..` or NUL is kInvalidArgument (400; the
  /// lookup would miss anyway); an unknown name kNotFound.
  Result<HttpResponse> ServeAsset(const HttpRequest& request) const;

 private:
  StaticSite() = default;
  Result<> Add(std::string path, std::string_view bytes, std::string_view gzip,
               std::string_view sha256_hex);

  std::string origin_;
  /// Owns the bytes of a directory site; unique_ptr so the views survive the vector growing.
  std::vector<std::unique_ptr<const std::string>> storage_;
  std::map<std::string, StaticFile, std::less<>> files_;
};

/// Loads the site `config` asks for (web_root, else the embedded files) and adds the page
/// and asset routes (GET, answering HEAD too; rate class "read", non-blocking). Returns the
/// site, or nullptr without adding any route when `config.web_ui` is false.
Result<std::shared_ptr<const StaticSite>> AddWebUiRoutes(const GatewayConfig& config,
                                                         HttpRouter& router);

/// The Content-Type for a file name by its extension; text types carry `; charset=utf-8`;
/// unknown extensions are application/octet-stream.
std::string_view ContentTypeFor(std::string_view name) noexcept;

/// Whether an Accept-Encoding value allows gzip: `gzip`/`x-gzip`, or `*` when gzip is not
/// listed, with a q-value above 0.
bool AcceptsGzip(std::string_view accept_encoding) noexcept;

}  // namespace sg::plugins::gateway
