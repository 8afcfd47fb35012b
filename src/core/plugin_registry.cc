#include "core/plugin_registry.h"

#include <fmt/format.h>

#include <array>
#include <exception>

namespace sg::core {
namespace {

// The kernel's own config sections; a plugin of the same name would share its section.
constexpr std::array<std::string_view, 3> kReservedNames = {"server", "log", "bus"};

bool IsValidName(std::string_view name) {
  if (name.empty() || name.front() < 'a' || name.front() > 'z') {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<> PluginRegistry::Register(PluginFactory factory) {
  if (!factory) {
    return MakeError(ErrorCode::kInvalidArgument, "plugin factory is empty");
  }
  // The factory is called once here so that listing plugins and ordering them never needs
  // an instance; factories are cheap by contract.
  std::unique_ptr<Plugin> sample;
  try {
    sample = factory();
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInvalidArgument, "plugin factory threw: {}", e.what());
  } catch (...) {
    return MakeError(ErrorCode::kInvalidArgument, "plugin factory threw an unknown exception");
  }
  if (sample == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument, "plugin factory returned no plugin");
  }
  PluginInfo info = sample->Info();
  if (!IsValidName(info.name)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "plugin name \"{}\" is invalid: use lower-case letters, digits and _, "
                     "starting with a letter",
                     info.name);
  }
  for (std::string_view reserved : kReservedNames) {
    if (info.name == reserved) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "plugin name \"{}\" is reserved for the kernel's config section", info.name);
    }
  }
  if (info.version.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "plugin {} has an empty version", info.name);
  }
  if (entries_.count(info.name) != 0) {
    return MakeError(ErrorCode::kAlreadyExists, "plugin {} is already registered", info.name);
  }
  std::string name = info.name;
  entries_.emplace(std::move(name), Entry{std::move(info), std::move(factory)});
  return {};
}

std::vector<PluginInfo> PluginRegistry::List() const {
  std::vector<PluginInfo> infos;
  infos.reserve(entries_.size());
  for (const auto& [name, entry] : entries_) {
    infos.push_back(entry.info);
  }
  return infos;
}

bool PluginRegistry::Contains(std::string_view name) const {
  return entries_.find(name) != entries_.end();
}

Result<std::unique_ptr<Plugin>> PluginRegistry::Create(std::string_view name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    std::vector<std::string_view> known;
    for (const auto& [known_name, entry] : entries_) {
      known.push_back(known_name);
    }
    return MakeError(
        ErrorCode::kNotFound, "unknown plugin {} (known: {})", name,
        known.empty() ? std::string("none") : fmt::format("{}", fmt::join(known, ", ")));
  }
  std::unique_ptr<Plugin> plugin;
  try {
    plugin = it->second.factory();
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, "plugin {} factory threw: {}", name, e.what());
  } catch (...) {
    return MakeError(ErrorCode::kInternal, "plugin {} factory threw an unknown exception", name);
  }
  if (plugin == nullptr) {
    return MakeError(ErrorCode::kInternal, "plugin {} factory returned no plugin", name);
  }
  return plugin;
}

}  // namespace sg::core
