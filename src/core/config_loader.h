#pragma once
/// Builds the raw config tree from its sources, lowest precedence first:
/// built-in defaults (in the typed structs) < YAML file < STREAMGATE_* environment
/// variables < command-line flags.
///
/// Environment overrides: `STREAMGATE_<SECTION>__<KEY>[__<SUBKEY>...]=<YAML scalar or flow>`,
/// e.g. `STREAMGATE_GATEWAY__LISTEN=0.0.0.0:8080`, `STREAMGATE_LOG__LEVEL=debug`,
/// `STREAMGATE_GATEWAY__CORS__ALLOWED_ORIGINS='["https://a.example"]'`. Names are
/// case-insensitive; variables without `__` are not overrides and are ignored.
///
/// Lists are indexed by a number segment, from 0: `STREAMGATE_CHAINS__0__RPC_URLS='[...]'`
/// sets `chains[0].rpc_urls` (an existing element is changed in place; the index one past
/// the end appends a new element, so `STREAMGATE_CHAINS__1__ID=eip155:5` adds a second
/// chain to a file that has one; a gap is an error). `STREAMGATE_CHAINS__0='{id: ..}'`
/// replaces a whole element. Overrides apply in path order with indexes compared as
/// numbers. Flags use the same scheme with dots (`chains.0.block_tag`).

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
