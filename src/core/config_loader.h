#pragma once
/// Builds the raw config tree from its sources, lowest precedence first:
/// built-in defaults (in the typed structs) < YAML file < STREAMGATE_* environment
/// variables < command-line flags.
///
/// Environment overrides: `STREAMGATE_<SECTION>__<KEY>[__<SUBKEY>...]=<YAML scalar or flow>`,
/// e.g. `STREAMGATE_GATEWAY__LISTEN=0.0.0.0:8080`, `STREAMGATE_LOG__LEVEL=debug`,
/// `STREAMGATE_GATEWAY__CORS__ALLOWED_ORIGINS='["https://a.example"]'`. Names are
/// case-insensitive; variables without `__` are not overrides and are ignored.

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/api/result.h"

namespace sg::core {

struct ConfigSources {
  std::optional<std::filesystem::path> file;
  /// The process environment (name -> value); only STREAMGATE_*__* entries are used.
  std::map<std::string, std::string> environment;
  /// Dotted path -> YAML scalar, from command-line flags (`gateway.listen` -> `0.0.0.0:9`).
  std::vector<std::pair<std::string, std::string>> flags;
};

/// Where each value came from, for error messages ("gateway.listen (from env
/// STREAMGATE_GATEWAY__LISTEN)"). Keyed by dotted path.
using ConfigOrigins = std::map<std::string, std::string>;

struct ConfigTree {
  YAML::Node root;  ///< a mapping (possibly empty)
  ConfigOrigins origins;
};

/// kInvalidArgument when the file cannot be read or parsed (message names the file and
/// line), or an environment value is not valid YAML (message names the variable).
Result<ConfigTree> LoadConfigTree(const ConfigSources& sources);

/// The current process environment as a map.
std::map<std::string, std::string> CurrentEnvironment();

}  // namespace sg::core
