#include "plugins/chains/chains_plugin.h"

#include <memory>
#include <utility>

#include "core/api/context.h"
#include "plugins/chains/chain_reader.h"
#include "plugins/chains/chains_config.h"
#include "plugins/chains/chains_plugin_internal.h"

namespace sg::plugins::chains {
namespace {

class ChainsPlugin final : public Plugin {
 public:
  explicit ChainsPlugin(std::shared_ptr<RpcTransport> transport)
      : transport_(std::move(transport)) {}

  const PluginInfo& Info() const override {
    static const PluginInfo info{
        .name = "chains",
        .version = "0.1.0",
        .description =
            "ChainReader service: eth_call over JSON-RPC to EVM chains (batches, "
            "failover between URLs, retries, a circuit breaker per URL)",
    };
    return info;
  }

  std::unique_ptr<PluginConfig> NewConfig() const override {
    return std::make_unique<TypedPluginConfig<ChainsConfig>>();
  }

  Result<> Init(PluginContext& context) override {
    auto logger = context.logger();
    const auto& config = context.Config<ChainsConfig>();
    if (!transport_) {
      transport_ = MakeCurlTransport();
    }
    reader_ = std::make_shared<EvmChainReader>(config, transport_, context.clock(),
                                               context.random(), logger, context.metrics());
    SG_RETURN_IF_ERROR(context.Provide<ChainReader>(reader_));
    for (const ChainConfig& chain : config.chains) {
      logger->info("chain {}: {} RPC URL(s), block tag {}", chain.id, chain.rpc_urls.size(),
                   chain.block_tag);
    }
    if (config.chains.empty()) {
      logger->info("no chains configured: token-gated access cannot be granted");
    }
    return {};
  }

  Result<> Start() override { return {}; }
  void Stop(Deadline) noexcept override {}

  Health CheckHealth() const override {
    if (!reader_) {
      return {HealthStatus::kDown, "not initialised"};
    }
    return reader_->CheckHealth();
  }

 private:
  std::shared_ptr<RpcTransport> transport_;
  std::shared_ptr<EvmChainReader> reader_;
};

}  // namespace

std::unique_ptr<Plugin> MakeChainsPlugin(std::shared_ptr<RpcTransport> transport) {
  return std::make_unique<ChainsPlugin>(std::move(transport));
}

}  // namespace sg::plugins::chains

namespace sg {

Result<> RegisterChainsPlugin(PluginRegistrar& registrar) {
  return registrar.Register([] { return plugins::chains::MakeChainsPlugin(); });
}

}  // namespace sg
