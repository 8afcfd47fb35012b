#pragma once
/// The kernel's ConfigVisitor implementations (core/api/config.h): a reader that fills a
/// config struct from a YAML section and reports every problem with its dotted path and
/// origin, a printer for `streamgate config print`, a flattener for diffing configs on
/// reload, and a copier that keeps the running value of keys that need a restart.
///
/// None of these is thread-safe; each is used by one thread for one walk.

#include <yaml-cpp/yaml.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/config.h"
#include "core/api/result.h"
#include "core/config_loader.h"

namespace sg::core {

/// Parses `8MiB`, `8 MiB`, `1GB` (10^9), `1KB` (1000), `10B`, `1.5KiB` or a plain integer
/// (bytes). Units are case-insensitive. kInvalidArgument for anything else, negatives and
/// values beyond 2^64-1.
Result<ByteSize> ParseByteSize(std::string_view text);
/// Parses `500ms`, `30s`, `1.5s`, `5m`, `2h`, `1d` or a plain number (seconds), rounded to
/// milliseconds. kInvalidArgument for anything else and negatives.
Result<ConfigDuration> ParseConfigDuration(std::string_view text);
/// Exact and re-parsable: the largest unit that divides the size ("16KiB", "1GB", "1500B").
/// `spaced` puts a space before the unit ("16 KiB"), for messages.
std::string FormatByteSize(ByteSize size, bool spaced = false);
/// Exact and re-parsable: the largest unit that divides the duration ("30s", "5m", "500ms").
std::string FormatConfigDuration(ConfigDuration duration);

/// Reads a YAML mapping into a config struct. Every problem is collected (not only the
/// first) as "<dotted path>[ (from <origin>)]: <problem>"; list elements are named
/// `chains[1].rpc_urls`. Keys of the mapping that no field names are errors listing the
/// known keys. Fields absent from the mapping keep their defaults; a list that is present
/// replaces the default list.
class ConfigReader final : public ConfigVisitor {
 public:
  /// `section` is the mapping to read (null or undefined: nothing set, all defaults);
  /// `path` its dotted path ("gateway"; empty for a root without prefix). `origins` may be
  /// null and must outlive the reader.
  ConfigReader(const YAML::Node& section, std::string path, const ConfigOrigins* origins);

  void Field(std::string_view key, bool& value, const FieldOptions& options) override;
  void Field(std::string_view key, std::int64_t& value, const FieldOptions& options) override;
  void Field(std::string_view key, double& value, const FieldOptions& options) override;
  void Field(std::string_view key, std::string& value, const FieldOptions& options) override;
  void Field(std::string_view key, std::vector<std::string>& value,
             const FieldOptions& options) override;
  void Field(std::string_view key, ByteSize& value, const FieldOptions& options) override;
  void Field(std::string_view key, ConfigDuration& value, const FieldOptions& options) override;
  void Section(std::string_view key, std::string_view doc,
               const std::function<void(ConfigVisitor&)>& body) override;
  using ConfigVisitor::List;
  void List(std::string_view key, std::string_view doc, ConfigList& list) override;

  /// Checks the top-level mapping for unknown keys and returns every problem found. Call
  /// once, after the walk.
  std::vector<std::string> Finish();

 private:
  struct Frame {
    YAML::Node node;  // a mapping, a list (see `is_list`), or undefined when nothing is set
    std::string path;
    bool readable = true;  // false when the node was not a mapping (already reported)
    // The node is a list: fine when the section is itself a List (`List("")` reads it and
    // sets `list_read`); otherwise reported as "expected a mapping" when the frame closes.
    bool is_list = false;
    bool list_read = false;
    std::vector<std::string> known;
  };

  Frame MakeFrame(const YAML::Node& node, std::string path);
  void CheckUnknownKeys(const Frame& frame);
  // Records `key` as known in the current frame and sets `path`. True with `node` set when
  // the key holds a value; false when absent or null (reported when `null_is_error`).
  bool Lookup(std::string_view key, YAML::Node& node, std::string& path, bool null_is_error = true);
  /// Lookup, then requires a scalar; otherwise records "<expected>, got <what it is>".
  bool LookupScalar(std::string_view key, std::string_view expected, YAML::Node& node,
                    std::string& path);
  void Fail(const std::string& path, std::string_view problem);
  std::string Origin(const std::string& path) const;

  const ConfigOrigins* origins_;
  std::vector<Frame> frames_;
  std::vector<std::string> errors_;
};

/// Reads `section` into `config` (anything with `Visit(ConfigVisitor&)`); returns every
/// problem, empty on success.
template <class Config>
std::vector<std::string> ReadConfig(Config& config, const YAML::Node& section, std::string path,
                                    const ConfigOrigins* origins) {
  ConfigReader reader(section, std::move(path), origins);
  config.Visit(reader);
  return reader.Finish();
}

/// Emits the effective values as YAML key/value pairs into an emitter positioned inside a
/// mapping: every key, secrets as "<redacted>", sizes and durations in their config syntax,
/// each field's doc as a trailing comment. Lists of structs are block lists of mappings; a
/// Section whose body is `List("")` prints as that list.
class ConfigPrinter final : public ConfigVisitor {
 public:
  explicit ConfigPrinter(YAML::Emitter& out, bool with_docs = true);

  void Field(std::string_view key, bool& value, const FieldOptions& options) override;
  void Field(std::string_view key, std::int64_t& value, const FieldOptions& options) override;
  void Field(std::string_view key, double& value, const FieldOptions& options) override;
  void Field(std::string_view key, std::string& value, const FieldOptions& options) override;
  void Field(std::string_view key, std::vector<std::string>& value,
             const FieldOptions& options) override;
  void Field(std::string_view key, ByteSize& value, const FieldOptions& options) override;
  void Field(std::string_view key, ConfigDuration& value, const FieldOptions& options) override;
  void Section(std::string_view key, std::string_view doc,
               const std::function<void(ConfigVisitor&)>& body) override;
  using ConfigVisitor::List;
  void List(std::string_view key, std::string_view doc, ConfigList& list) override;

 private:
  // One open Section or list element. Its mapping is begun lazily, at the first key, so
  // that a section whose body is `List("")` can print as a list instead.
  struct Level {
    bool map_begun = false;
    bool is_list = false;
  };

  void Doc(const FieldOptions& options);
  void Key(std::string_view key);
  void EmitElements(ConfigList& list);
  void CloseLevel();

  YAML::Emitter& out_;
  bool with_docs_;
  std::vector<Level> levels_;
};

/// One field of a flattened config.
struct FlatField {
  std::string path;   ///< dotted, including the section prefix
  std::string value;  ///< printed form (the real value even for secrets: never log it)
  bool reloadable = false;
  bool secret = false;
};

/// Lists every field as {dotted path, printed value, reloadable, secret}, in visit order.
/// A list of structs adds one entry for itself (path `chains`, value "[N items]", not
/// reloadable: a changed length needs a restart) followed by its elements' fields
/// (`chains[0].id`, ...).
class ConfigFlattener final : public ConfigVisitor {
 public:
  explicit ConfigFlattener(std::string path);

  void Field(std::string_view key, bool& value, const FieldOptions& options) override;
  void Field(std::string_view key, std::int64_t& value, const FieldOptions& options) override;
  void Field(std::string_view key, double& value, const FieldOptions& options) override;
  void Field(std::string_view key, std::string& value, const FieldOptions& options) override;
  void Field(std::string_view key, std::vector<std::string>& value,
             const FieldOptions& options) override;
  void Field(std::string_view key, ByteSize& value, const FieldOptions& options) override;
  void Field(std::string_view key, ConfigDuration& value, const FieldOptions& options) override;
  void Section(std::string_view key, std::string_view doc,
               const std::function<void(ConfigVisitor&)>& body) override;
  using ConfigVisitor::List;
  void List(std::string_view key, std::string_view doc, ConfigList& list) override;

  const std::vector<FlatField>& fields() const { return fields_; }

 private:
  void Add(std::string_view key, std::string value, const FieldOptions& options);

  std::string prefix_;
  std::vector<FlatField> fields_;
};

template <class Config>
std::vector<FlatField> FlattenConfig(Config& config, std::string path) {
  ConfigFlattener flattener(std::move(path));
  config.Visit(flattener);
  return flattener.fields();
}

/// Copies every non-reloadable field of the config walked by `visit_from` into the one
/// walked by `visit_to` (both of the same type, so both walks name the same fields in the
/// same order). Reloadable fields of the target are left alone. Lists get the running
/// length first (elements added by the resize hold defaults), then element fields follow
/// their own flags.
void CopyNonReloadable(const std::function<void(ConfigVisitor&)>& visit_from,
                       const std::function<void(ConfigVisitor&)>& visit_to);

template <class Config>
void CopyNonReloadable(Config& from, Config& to) {
  CopyNonReloadable([&from](ConfigVisitor& v) { from.Visit(v); },
                    [&to](ConfigVisitor& v) { to.Visit(v); });
}

}  // namespace sg::core
