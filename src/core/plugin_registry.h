#pragma once
/// The table of every plugin compiled into the binary, filled explicitly by
/// app/builtin_plugins.cc (no self-registering statics: the linker drops them).

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/plugin.h"

namespace sg::core {

class PluginRegistry final : public PluginRegistrar {
 public:
  Result<> Register(PluginFactory factory) override;
  /// Every registered plugin's info, sorted by name.
  std::vector<PluginInfo> List() const;
  bool Contains(std::string_view name) const;
  /// A fresh instance; kNotFound naming the plugin and the known names.
  Result<std::unique_ptr<Plugin>> Create(std::string_view name) const;

 private:
  struct Entry {
    PluginInfo info;
    PluginFactory factory;
  };
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace sg::core
