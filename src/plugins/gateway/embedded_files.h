#pragma once
/// Files embedded into the binary at build time (embed_file.cmake generates the arrays).

#include <cstddef>
#include <string_view>

namespace sg::plugins::gateway {

/// docs/openapi.yaml; a NUL follows the last byte but is not counted in the size.
extern const unsigned char kOpenApiYaml[];
extern const std::size_t kOpenApiYamlSize;

inline std::string_view OpenApiYaml() noexcept {
  return {reinterpret_cast<const char*>(kOpenApiYaml), kOpenApiYamlSize};
}

}  // namespace sg::plugins::gateway
