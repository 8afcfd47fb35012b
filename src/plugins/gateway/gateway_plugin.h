#pragma once
/// The gateway plugin: HTTP server, router and request middleware (request id, trace,
/// CORS, rate limit, limits, error envelope, access log, metrics). Provides the
/// `HttpRouter` service (other plugins add routes in their Init) and, unless another
/// plugin already did, the in-memory `RateLimiter`. See README.md.
///
/// No Boost.Beast here: this header is what src/app includes.

#include <cstdint>
#include <memory>
#include <string>

#include "core/api/plugin.h"

namespace sg::plugins::gateway {

class Router;
class HttpServer;
class RequestPipeline;
struct GatewayMetrics;

/// Registers the "gateway" plugin factory.
Result<> RegisterGatewayPlugin(PluginRegistrar& registrar);

class GatewayPlugin final : public Plugin {
 public:
  GatewayPlugin();
  ~GatewayPlugin() override;

  const PluginInfo& Info() const override;
  std::unique_ptr<PluginConfig> NewConfig() const override;
  Result<> Init(PluginContext& context) override;
  Result<> Start() override;
  /// Graceful drain: closes the listener and finishes in-flight requests while the
  /// plugins their handlers call still run (the kernel drains before it stops anyone).
  void Drain(Deadline deadline) noexcept override;
  /// Whatever Drain left (or everything, when Drain was skipped after a failed start).
  void Stop(Deadline deadline) noexcept override;
  Health CheckHealth() const override;
  Result<> Reload(const PluginConfig& fresh) override;

  /// The port actually bound (useful with `listen: 127.0.0.1:0`); 0 before Start.
  std::uint16_t port() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace sg::plugins::gateway

namespace sg {
/// The name src/app/builtin_plugins.cc calls.
using plugins::gateway::RegisterGatewayPlugin;
}  // namespace sg
