#include "core/config_loader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>
#include <sstream>
#include <string_view>

extern char** environ;  // POSIX: the process environment.

namespace sg::core {
namespace {

constexpr std::string_view kEnvPrefix = "STREAMGATE_";
constexpr std::string_view kEnvSeparator = "__";

std::string ToLower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return lower;
}

std::string ToUpper(std::string_view text) {
  std::string upper(text);
  for (char& c : upper) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  return upper;
}

std::string JoinPath(std::string_view prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : fmt::format("{}.{}", prefix, key);
}

std::string IndexPath(std::string_view prefix, std::size_t index) {
  return fmt::format("{}[{}]", prefix, index);
}

// A path segment that indexes a list: decimal digits only ("0", "12"). Nine digits at
// most, so it always fits and no config list comes close.
bool IsListIndex(std::string_view part) {
  return !part.empty() && part.size() <= 9 &&
         std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::size_t ParseIndex(std::string_view part) {
  std::size_t index = 0;
  for (char c : part) {
    index = index * 10 + static_cast<std::size_t>(c - '0');
  }
  return index;
}

// Records `origin` for `path` and every path below it (so errors deep inside a value that
// came from one source still name that source). List elements are `path[i]`, as the
// config reader names them.
void RecordOrigins(const YAML::Node& node, const std::string& path, const std::string& origin,
                   ConfigOrigins& origins) {
  if (!path.empty()) {
    origins[path] = origin;
  }
  if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      RecordOrigins(node[i], IndexPath(path, i), origin, origins);
    }
    return;
  }
  if (!node.IsMap()) {
    return;
  }
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) {
      continue;
    }
    RecordOrigins(entry.second, JoinPath(path, entry.first.Scalar()), origin, origins);
  }
}

// Forgets what an overridden value said about itself and everything below it.
void EraseOrigins(const std::string& path, ConfigOrigins& origins) {
  origins.erase(path);
  for (const std::string& prefix : {path + ".", path + "["}) {
    for (auto it = origins.lower_bound(prefix);
         it != origins.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
      it = origins.erase(it);
    }
  }
}

// Sets `value` at `parts` below `root`, creating (or replacing) parents: a parent followed
// by a number segment must be a list (the number indexes it: an existing element, or the
// next one to append), any other parent a mapping. `source` names the variable or flag in
// errors.
Result<> SetPath(YAML::Node& root, const std::vector<std::string>& parts, const YAML::Node& value,
                 const std::string& origin, std::string_view source, ConfigOrigins& origins) {
  // yaml-cpp assignment writes through to the referenced node, so walking must use reset()
  // to move the cursor without overwriting what it points at.
  YAML::Node cursor;
  cursor.reset(root);
  std::string path;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    YAML::Node child;
    if (cursor.IsSequence() && IsListIndex(part)) {
      std::size_t index = ParseIndex(part);
      if (index > cursor.size()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "{}: index {} skips elements: {} has {} (indexes start at 0 and "
                         "must be consecutive)",
                         source, index, path, cursor.size());
      }
      if (index == cursor.size()) {
        cursor.push_back(YAML::Node(YAML::NodeType::Null));
      }
      path = IndexPath(path, index);
      child.reset(cursor[index]);
    } else {
      path = JoinPath(path, part);
      child.reset(cursor[part]);
    }
    if (i + 1 == parts.size()) {
      child = value;
      EraseOrigins(path, origins);
      RecordOrigins(value, path, origin, origins);
      return {};
    }
    bool next_is_index = IsListIndex(parts[i + 1]);
    bool fits = next_is_index ? child.IsSequence() : child.IsMap();
    if (!fits) {
      child = YAML::Node(next_is_index ? YAML::NodeType::Sequence : YAML::NodeType::Map);
      EraseOrigins(path, origins);
      origins[path] = origin;
    }
    cursor.reset(child);
  }
  return {};
}

// Orders override paths so that list indexes apply in numeric order (`__2__` before
// `__10__`, so appending element by element works) and a parent before its children.
bool OverridePathLess(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::size_t common = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < common; ++i) {
    if (a[i] == b[i]) {
      continue;
    }
    if (IsListIndex(a[i]) && IsListIndex(b[i])) {
      return ParseIndex(a[i]) < ParseIndex(b[i]);
    }
    return a[i] < b[i];
  }
  return a.size() < b.size();
}

Result<YAML::Node> LoadFile(const std::filesystem::path& file) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) {
    return MakeError(ErrorCode::kInvalidArgument, "config file {}: is a directory", file.string());
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return MakeError(ErrorCode::kInvalidArgument, "config file {}: cannot read: {}", file.string(),
                     std::strerror(errno));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) {
    return MakeError(ErrorCode::kInvalidArgument, "config file {}: cannot read", file.string());
  }
  YAML::Node root;
  try {
    root = YAML::Load(contents.str());
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) {
      return MakeError(ErrorCode::kInvalidArgument, "config file {}: {}", file.string(), e.msg);
    }
    return MakeError(ErrorCode::kInvalidArgument, "config file {}: line {} column {}: {}",
                     file.string(), e.mark.line + 1, e.mark.column + 1, e.msg);
  }
  if (!root.IsDefined() || root.IsNull()) {
    return YAML::Node(YAML::NodeType::Map);
  }
  if (!root.IsMap()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "config file {}: line {}: the top level must be a mapping of sections "
                     "(such as `gateway:`), got {}",
                     file.string(), root.Mark().line + 1,
                     root.IsSequence() ? "a list" : "a single value");
  }
  return root;
}

// Splits `STREAMGATE_A__B__C` into {"a", "b", "c"}; empty when the name is not an override.
Result<std::vector<std::string>> EnvPath(const std::string& name) {
  std::string upper = ToUpper(name);
  if (upper.compare(0, kEnvPrefix.size(), kEnvPrefix) != 0) {
    return std::vector<std::string>{};
  }
  std::string_view rest = std::string_view(name).substr(kEnvPrefix.size());
  if (rest.find(kEnvSeparator) == std::string_view::npos) {
    return std::vector<std::string>{};
  }
  std::vector<std::string> parts;
  while (true) {
    std::size_t pos = rest.find(kEnvSeparator);
    std::string_view part = rest.substr(0, pos);
    if (part.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "env {}: empty path segment (use STREAMGATE_<SECTION>__<KEY>)", name);
    }
    parts.push_back(ToLower(part));
    if (pos == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(pos + kEnvSeparator.size());
  }
  return parts;
}

}  // namespace

Result<ConfigTree> LoadConfigTree(const ConfigSources& sources) {
  ConfigTree tree;
  tree.root = YAML::Node(YAML::NodeType::Map);
  if (sources.file) {
    SG_ASSIGN_OR_RETURN(tree.root, LoadFile(*sources.file));
    RecordOrigins(tree.root, "", fmt::format("file {}", sources.file->string()), tree.origins);
  }

  struct Override {
    std::vector<std::string> parts;
    const std::string* name;
    const std::string* value;
  };
  std::vector<Override> overrides;
  for (const auto& [name, value] : sources.environment) {
    SG_ASSIGN_OR_RETURN(std::vector<std::string> parts, EnvPath(name));
    if (!parts.empty()) {
      overrides.push_back(Override{std::move(parts), &name, &value});
    }
  }
  // Stable: variables that name the same path (different case) keep the map's order.
  std::stable_sort(overrides.begin(), overrides.end(), [](const Override& a, const Override& b) {
    return OverridePathLess(a.parts, b.parts);
  });
  for (const Override& entry : overrides) {
    YAML::Node parsed;
    try {
      parsed = YAML::Load(*entry.value);
    } catch (const YAML::Exception& e) {
      return MakeError(ErrorCode::kInvalidArgument, "env {}: not a valid YAML value: {}",
                       *entry.name, e.msg);
    }
    std::string source = fmt::format("env {}", *entry.name);
    SG_RETURN_IF_ERROR(SetPath(tree.root, entry.parts, parsed, source, source, tree.origins));
  }

  for (const auto& [path, value] : sources.flags) {
    std::vector<std::string> parts;
    std::string_view rest = path;
    while (true) {
      std::size_t pos = rest.find('.');
      std::string_view part = rest.substr(0, pos);
      if (part.empty()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "flag {}: malformed config path (use section.key)", path);
      }
      parts.emplace_back(part);
      if (pos == std::string_view::npos) {
        break;
      }
      rest.remove_prefix(pos + 1);
    }
    SG_RETURN_IF_ERROR(SetPath(tree.root, parts, YAML::Node(value), "flag",
                               fmt::format("flag {}", path), tree.origins));
  }
  return tree;
}

std::map<std::string, std::string> CurrentEnvironment() {
  std::map<std::string, std::string> environment;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    std::size_t eq = text.find('=');
    if (eq == std::string_view::npos) {
      continue;
    }
    environment.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
  return environment;
}

}  // namespace sg::core
