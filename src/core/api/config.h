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
///
/// Lists of structs (`chains: [{id: ..., rpc_urls: [...]}, ...]`) are visited with
/// `v.List("chains", "doc", chains)` over a `std::vector<T>` of such structs; an empty key
/// makes the enclosing section itself the list (a plugin whose whole section is a list).
/// Element paths read `chains[1].rpc_urls`; environment overrides index elements with a
/// number segment (`STREAMGATE_CHAINS__1__RPC_URLS`, see core/config_loader.h).

#include <chrono>
#include <cstddef>
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

class ConfigVisitor;

/// A list of config structs, type-erased so that every visitor can size it and walk its
/// elements. `VectorConfigList` adapts a `std::vector<T>`; `ConfigVisitor::List` makes one.
class ConfigList {
 public:
  virtual ~ConfigList() = default;
  virtual std::size_t Size() const = 0;
  /// Makes the list `size` long, keeping the first elements; new ones hold their defaults.
  virtual void Resize(std::size_t size) = 0;
  /// Walks the fields of element `index` (< Size()) with `visitor`.
  virtual void VisitElement(std::size_t index, ConfigVisitor& visitor) = 0;
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
  /// A list of mappings, each walked by `list.VisitElement`. A value read from config
  /// replaces the whole list (elements start from their defaults). An empty `key` means the
  /// enclosing section (or the plugin's whole section) is itself the list; nothing else
  /// may then be visited in that section. The number of elements is not reloadable: on
  /// reload the running list keeps its length (element fields follow their own flags).
  virtual void List(std::string_view key, std::string_view doc, ConfigList& list) = 0;

  /// `v.List("chains", "doc", chains)` for a `std::vector<T>` where T has
  /// `void Visit(ConfigVisitor&)`. (Visitors that override List add
  /// `using ConfigVisitor::List;` to keep this overload visible.)
  template <class T>
  void List(std::string_view key, std::string_view doc, std::vector<T>& items);
};

/// Adapts `std::vector<T>` (T with `void Visit(ConfigVisitor&)`) to ConfigList.
template <class T>
class VectorConfigList final : public ConfigList {
 public:
  explicit VectorConfigList(std::vector<T>& items) : items_(items) {}
  std::size_t Size() const override { return items_.size(); }
  void Resize(std::size_t size) override { items_.resize(size); }
  void VisitElement(std::size_t index, ConfigVisitor& visitor) override {
    items_.at(index).Visit(visitor);
  }

 private:
  std::vector<T>& items_;
};

template <class T>
void ConfigVisitor::List(std::string_view key, std::string_view doc, std::vector<T>& items) {
  VectorConfigList<T> list(items);
  List(key, doc, static_cast<ConfigList&>(list));
}

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
