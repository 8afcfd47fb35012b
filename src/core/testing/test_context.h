#pragma once
/// A PluginContext for unit tests of a single plugin: real metrics registry, a fake or
/// system clock, a logger, and a service map the test fills.

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <map>
#include <memory>
#include <typeindex>

#include "core/api/context.h"
#include "core/metrics_registry.h"
#include "core/testing/fake_clock.h"

namespace sg::testing {

class TestPluginContext final : public PluginContext {
 public:
  explicit TestPluginContext(std::unique_ptr<PluginConfig> config = nullptr,
                             std::shared_ptr<Clock> clock = std::make_shared<SystemClock>())
      : config_(std::move(config)), clock_(std::move(clock)) {
    logger_ =
        std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
    server_.data_dir = std::filesystem::temp_directory_path();
  }

  template <class T>
  static std::unique_ptr<PluginConfig> MakeConfig(T value) {
    return std::make_unique<TypedPluginConfig<T>>(std::move(value));
  }

  const PluginConfig& config() const override {
    SG_CHECK(config_ != nullptr, "test context has no config");
    return *config_;
  }
  std::shared_ptr<spdlog::logger> logger() const override { return logger_; }
  MetricsRegistry& metrics() override { return metrics_; }
  const Clock& clock() const override { return *clock_; }
  Random& random() override { return random_; }
  const ServerSettings& server() const override { return server_; }
  ServerSettings& mutable_server() { return server_; }
  core::PrometheusMetricsRegistry& registry() { return metrics_; }

 protected:
  Result<> ProvideErased(std::type_index type, std::string_view name,
                         std::shared_ptr<void> service) override {
    if (services_.count(type) != 0) {
      return MakeError(ErrorCode::kAlreadyExists, "service {} already provided", name);
    }
    services_[type] = std::move(service);
    return {};
  }
  Result<std::shared_ptr<void>> FindErased(std::type_index type, std::string_view name,
                                           bool required) override {
    auto it = services_.find(type);
    if (it == services_.end()) {
      return MakeError(ErrorCode::kNotFound, "service {} is not provided", name);
    }
    return it->second;
  }

 private:
  std::unique_ptr<PluginConfig> config_;
  std::shared_ptr<Clock> clock_;
  std::shared_ptr<spdlog::logger> logger_;
  core::PrometheusMetricsRegistry metrics_;
  SystemRandom random_;
  ServerSettings server_;
  std::map<std::type_index, std::shared_ptr<void>> services_;
};

}  // namespace sg::testing
