#pragma once
/// Typed configuration. Each plugin declares a plain struct with defaults and a `Visit`
/// method that names every field once; the kernel walks it with different visitors to read
/// YAML and environment overrides (with errors that name the path), to print the effective
/// config (secrets redacted) and to diff configs on reload (SIGHUP).
///
/// ```cpp
/// struct GatewayConfig {
///   std::string listen = "127.0.0.1:8080";
///   sg::ByteSize max_header_bytes{16 * 1024};
///   void Visit(sg::ConfigVisitor& v) {
///     v.Field("listen", listen, {.doc = "address:port to accept HTTP on"});
///     v.Field("max_header_bytes", max_header_bytes,
///             {.doc = "largest request head", .min = 1024, .max = 1 << 20});
///   }
///   sg::Result<> Validate() const { return {}; }   // cross-field checks
/// };
/// ```

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/result.h"

namespace sg {

/// A size in bytes, written in config as `8MiB`, `512 KiB`, `1GB` or a plain integer.
struct ByteSize {
  std::uint64_t bytes = 0;
  friend bool operator==(ByteSize, ByteSize) = default;
};

/// Config durations are written as `30s`, `500ms`, `5m`, `2h`, `1d` (a plain number = seconds).
using ConfigDuration = std::chrono::milliseconds;

struct FieldOptions {
  /// One line shown by `streamgate config print` and in the README reference.
  std::string_view doc;
  /// Applied on SIGHUP without a restart. Other keys changed on reload are logged as
  /// needing a restart and keep their running value.
  bool reloadable = false;
  /// Never printed nor logged (shown as "<redacted>").
  bool secret = false;
  /// Inclusive bounds for numbers; for ByteSize in bytes, for durations in milliseconds.
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  /// For strings: the accepted values (empty = any).
  std::vector<std::string_view> choices = {};
};

/// Walks the fields of a config struct. Implemented by the kernel (reader, printer, differ).
class ConfigVisitor {
 public:
  virtual ~ConfigVisitor() = default;
  virtual void Field(std::string_view key, bool& value, const FieldOptions& options) = 0;
  virtual void Field(std::string_view key, std::int64_t& value, const FieldOptions& options) = 0;
  virtual void Field(std::string_view key, double& value, const FieldOptions& options) = 0;
  virtual void Field(std::string_view key, std::string& value, const FieldOptions& options) = 0;
  virtual void Field(std::string_view key, std::vector<std::string>& value,
                     const FieldOptions& options) = 0;
  virtual void Field(std::string_view key, ByteSize& value, const FieldOptions& options) = 0;
  virtual void Field(std::string_view key, ConfigDuration& value, const FieldOptions& options) = 0;
  /// A nested mapping; `body` visits its fields with the same visitor.
  virtual void Section(std::string_view key, std::string_view doc,
                       const std::function<void(ConfigVisitor&)>& body) = 0;
};

/// Type-erased config of one plugin, owned by the kernel.
class PluginConfig {
 public:
  virtual ~PluginConfig() = default;
  virtual void Visit(ConfigVisitor& visitor) = 0;
  /// Cross-field validation after every field was read. Messages name the key relative to
  /// the section ("rate_limit.write.burst: must be >= 1"); the kernel prefixes the section.
  virtual Result<> Validate() const = 0;
};

/// Adapts a plain struct with `Visit(ConfigVisitor&)` and `Result<> Validate() const`.
template <class T>
class TypedPluginConfig final : public PluginConfig {
 public:
  TypedPluginConfig() = default;
  explicit TypedPluginConfig(T value) : value_(std::move(value)) {}
  void Visit(ConfigVisitor& visitor) override { value_.Visit(visitor); }
  Result<> Validate() const override { return value_.Validate(); }
  const T& value() const { return value_; }
  T& value() { return value_; }

 private:
  T value_{};
};

/// Returns the typed struct behind a PluginConfig made by `TypedPluginConfig<T>`.
template <class T>
const T& ConfigAs(const PluginConfig& config) {
  return static_cast<const TypedPluginConfig<T>&>(config).value();
}

}  // namespace sg
