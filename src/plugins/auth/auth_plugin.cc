#include "plugins/auth/auth_plugin.h"

#include <memory>

#include "core/api/context.h"
#include "core/api/services/http.h"
#include "plugins/auth/api_key.h"
#include "plugins/auth/auth_config.h"
#include "plugins/auth/auth_plugin_internal.h"

namespace sg::plugins::auth {
namespace {

class AuthPlugin final : public Plugin {
 public:
  const PluginInfo& Info() const override {
    static const PluginInfo info{
        .name = "auth",
        .version = "0.1.0",
        .description = "Authenticator service: the admin API key (Authorization: Bearer)",
        .dependencies = {},
        .enabled_by_default = true,
    };
    return info;
  }

  std::unique_ptr<PluginConfig> NewConfig() const override {
    return std::make_unique<TypedPluginConfig<AuthConfig>>();
  }

  Result<> Init(PluginContext& context) override {
    const AuthConfig& config = context.Config<AuthConfig>();
    SG_RETURN_IF_ERROR(config.Validate());
    auto logger = context.logger();
    std::string key = config.api_key;
    if (key.empty()) {
      std::filesystem::path path = config.api_key_file.empty()
                                       ? context.server().data_dir / "api_key"
                                       : std::filesystem::path(config.api_key_file);
      SG_ASSIGN_OR_RETURN(key, LoadOrCreateApiKey(path, *logger));
    } else {
      logger->info("admin API key is set in the config (auth.api_key); api_key_file is unused");
    }
    return context.Provide<Authenticator>(std::make_shared<ApiKeyAuthenticator>(key));
  }

  Result<> Start() override { return {}; }
  void Stop(Deadline) noexcept override {}
  Health CheckHealth() const override { return {HealthStatus::kOk, "admin API key loaded"}; }
};

}  // namespace

std::unique_ptr<Plugin> MakeAuthPlugin() { return std::make_unique<AuthPlugin>(); }

}  // namespace sg::plugins::auth

namespace sg {

Result<> RegisterAuthPlugin(PluginRegistrar& registrar) {
  return registrar.Register([] { return plugins::auth::MakeAuthPlugin(); });
}

}  // namespace sg
