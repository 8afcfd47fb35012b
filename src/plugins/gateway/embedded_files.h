#pragma once
/// Files embedded into the binary at build time: docs/openapi.yaml (embed_file.cmake) and
/// the web app (embed_web.cmake).

#include <cstddef>
#include <span>
#include <string_view>

namespace sg::plugins::gateway {

/// docs/openapi.yaml; a NUL follows the last byte but is not counted in the size.
extern const unsigned char kOpenApiYaml[];
extern const std::size_t kOpenApiYamlSize;

inline std::string_view OpenApiYaml() noexcept {
  return {reinterpret_cast<const char*>(kOpenApiYaml), kOpenApiYamlSize};
}

/// One file of the web app: web/index.html, web/assets/*, and the npm libraries copied in
/// under flat names (CMakeLists.txt). Immutable, static storage.
struct EmbeddedWebFile {
  const char* path;            ///< URL path: "/index.html", "/assets/app.js"
  const unsigned char* bytes;  ///< `size` bytes (no terminating NUL)
  std::size_t size;
  const unsigned char* gzip_bytes;  ///< `gzip -9 -n` of the bytes; nullptr unless smaller
  std::size_t gzip_size;
  const char* sha256;  ///< lower-case hex of the bytes' SHA-256, computed at build time
};

/// Every embedded web file, sorted by path within each group (index, assets, npm files).
std::span<const EmbeddedWebFile> EmbeddedWebFiles() noexcept;

}  // namespace sg::plugins::gateway
