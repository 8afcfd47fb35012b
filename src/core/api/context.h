#pragma once
/// What a plugin sees of the kernel: its config, the service registry, logging, metrics,
/// time and randomness. Valid from Init until after Stop returns.

#include <spdlog/logger.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <typeindex>

#include "core/api/clock.h"
#include "core/api/config.h"
#include "core/api/metrics.h"
#include "core/api/plugin.h"
#include "core/api/random.h"
#include "core/api/result.h"

namespace sg {

/// Settings of the process as a whole (the `server` config section).
struct ServerSettings {
  std::filesystem::path data_dir;
  std::string public_url;  ///< e.g. http://127.0.0.1:8080, for links in responses
};

class PluginContext {
 public:
  virtual ~PluginContext() = default;

  /// This plugin's validated config; SG_CHECKs that the plugin has one.
  virtual const PluginConfig& config() const = 0;
  template <class T>
  const T& Config() const {
    return ConfigAs<T>(config());
  }

  /// A logger named after the plugin (the `plugin` field of every JSON log line).
  virtual std::shared_ptr<spdlog::logger> logger() const = 0;
  virtual MetricsRegistry& metrics() = 0;
  virtual const Clock& clock() const = 0;
  virtual Random& random() = 0;
  virtual const ServerSettings& server() const = 0;

  /// Registers a service implementation. kAlreadyExists when another plugin already
  /// provides `Service` (the error names both).
  template <class Service>
  Result<> Provide(std::shared_ptr<Service> service) {
    return ProvideErased(std::type_index(typeid(Service)), Service::kServiceName,
                         std::static_pointer_cast<void>(std::move(service)));
  }

  /// The provider of `Service`, or kNotFound naming the service and this plugin (a
  /// start-up error: list the providing plugin in your dependencies).
  template <class Service>
  Result<std::shared_ptr<Service>> Require() {
    auto found = FindErased(std::type_index(typeid(Service)), Service::kServiceName, true);
    if (!found) {
      return MakeError(std::move(found).error());
    }
    return std::static_pointer_cast<Service>(*found);
  }

  /// The provider of `Service`, or nullptr (for optional services).
  template <class Service>
  std::shared_ptr<Service> Find() {
    auto found = FindErased(std::type_index(typeid(Service)), Service::kServiceName, false);
    return found ? std::static_pointer_cast<Service>(*found) : nullptr;
  }

 protected:
  virtual Result<> ProvideErased(std::type_index type, std::string_view name,
                                 std::shared_ptr<void> service) = 0;
  virtual Result<std::shared_ptr<void>> FindErased(std::type_index type, std::string_view name,
                                                   bool required) = 0;
};

}  // namespace sg
