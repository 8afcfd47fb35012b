#include "plugins/gateway/gateway_plugin.h"

#include <spdlog/logger.h>

#include "core/api/context.h"
#include "core/api/services/http.h"
#include "core/api/services/rate_limiter.h"
#include "plugins/gateway/embedded_files.h"
#include "plugins/gateway/gateway_config.h"
#include "plugins/gateway/http_server.h"
#include "plugins/gateway/pipeline.h"
#include "plugins/gateway/router.h"
#include "plugins/gateway/static_site.h"
#include "plugins/gateway/token_bucket_limiter.h"

namespace sg::plugins::gateway {

struct GatewayPlugin::State {
  GatewayConfig config;
  std::shared_ptr<spdlog::logger> logger;
  std::shared_ptr<Router> router;
  std::shared_ptr<RateLimiter> limiter;
  std::unique_ptr<GatewayMetrics> metrics;
  std::shared_ptr<RequestPipeline> pipeline;
  std::unique_ptr<HttpServer> server;
  const Clock* clock = nullptr;
  /// Valid from Init until after Stop (context.h). Kept for the Authenticator lookup in
  /// Start: its provider may be initialised after the gateway (no ordering between them).
  PluginContext* context = nullptr;
  bool initialized = false;
};

namespace {

const PluginInfo& GatewayInfo() {
  static const PluginInfo info{
      .name = "gateway",
      .version = "0.1.0",
      .description = "HTTP server, router, CORS, rate limits, request ids, access log",
      .dependencies = {},
      .enabled_by_default = true,
  };
  return info;
}

}  // namespace

Result<> RegisterGatewayPlugin(PluginRegistrar& registrar) {
  return registrar.Register([] { return std::make_unique<GatewayPlugin>(); });
}

GatewayPlugin::GatewayPlugin() : state_(std::make_unique<State>()) {}

GatewayPlugin::~GatewayPlugin() {
  // The kernel always stops plugins; this covers tests and failed start-ups.
  if (state_->server) {
    state_->server->Stop(std::chrono::steady_clock::now());
  }
}

const PluginInfo& GatewayPlugin::Info() const { return GatewayInfo(); }

std::unique_ptr<PluginConfig> GatewayPlugin::NewConfig() const {
  return std::make_unique<TypedPluginConfig<GatewayConfig>>();
}

Result<> GatewayPlugin::Init(PluginContext& context) {
  State& state = *state_;
  state.config = context.Config<GatewayConfig>();
  SG_RETURN_IF_ERROR(state.config.Validate());
  state.logger = context.logger();
  state.clock = &context.clock();
  state.context = &context;

  state.router = std::make_shared<Router>();
  SG_RETURN_IF_ERROR(context.Provide<HttpRouter>(state.router));

  // A distributed limiter (Redis) provided earlier wins; otherwise buckets in memory.
  state.limiter = context.Find<RateLimiter>();
  if (!state.limiter) {
    state.limiter = std::make_shared<TokenBucketLimiter>(context.clock());
    SG_RETURN_IF_ERROR(context.Provide<RateLimiter>(state.limiter));
  }

  state.metrics = std::make_unique<GatewayMetrics>(context.metrics());
  state.pipeline = std::make_shared<RequestPipeline>(
      state.router, state.limiter, *state.metrics, state.logger, context.clock(),
      static_cast<std::size_t>(state.config.max_body_bytes.bytes), MakeSettings(state.config));

  RouteOptions openapi_options;
  openapi_options.blocking = false;  // served from memory
  SG_RETURN_IF_ERROR(state.router->AddRoute(
      "GET", "/api/v1/openapi.yaml",
      [](const HttpRequest&) -> Result<HttpResponse> {
        return HttpResponse::Text(200, std::string(OpenApiYaml()), "application/yaml");
      },
      openapi_options));

  // The web app: read (web_root) or indexed (embedded) here, so a bad directory fails the
  // start-up before anything listens.
  SG_ASSIGN_OR_RETURN(auto site, AddWebUiRoutes(state.config, *state.router));
  if (site) {
    state.logger->info("web app: {} files ({})", site->size(), site->origin());
  } else {
    state.logger->info("web app disabled (gateway.web_ui: false)");
  }
  state.initialized = true;
  return {};
}

Result<> GatewayPlugin::Start() {
  State& state = *state_;
  if (!state.initialized) {
    return MakeError(ErrorCode::kInternal, "gateway started before Init");
  }
  if (state.server) {
    return MakeError(ErrorCode::kInternal, "gateway started twice");
  }
  state.router->Freeze();
  // Every Init ran before any Start, so a provider initialised after us is visible now.
  auto authenticator = state.context->Find<Authenticator>();
  if (!authenticator) {
    state.logger->info("no Authenticator service: every request is anonymous");
  }
  state.pipeline->SetAuthenticator(std::move(authenticator));
  state.server = std::make_unique<HttpServer>(MakeServerOptions(state.config), state.pipeline);
  auto started = state.server->Start();
  if (!started) {
    state.server.reset();
    return started;
  }
  state.logger->info("listening on {}", state.server->address());
  return {};
}

void GatewayPlugin::Drain(Deadline deadline) noexcept { Stop(deadline); }

void GatewayPlugin::Stop(Deadline deadline) noexcept {
  State& state = *state_;
  if (!state.server || state.server->state() == ServerState::kStopped) {
    return;
  }
  try {
    state.logger->info("draining HTTP connections");
  } catch (...) {
    // Logging must not stop the drain.
  }
  state.server->Stop(deadline);
  try {
    state.logger->info("HTTP server stopped");
  } catch (...) {
  }
}

Health GatewayPlugin::CheckHealth() const {
  const State& state = *state_;
  if (!state.server) {
    return {HealthStatus::kDown, "not started"};
  }
  switch (state.server->state()) {
    case ServerState::kListening:
      return {HealthStatus::kOk, fmt::format("listening on {}", state.server->address())};
    case ServerState::kDraining:
      return {HealthStatus::kDegraded, "draining connections"};
    case ServerState::kStopped:
      break;
  }
  return {HealthStatus::kDown, "stopped"};
}

Result<> GatewayPlugin::Reload(const PluginConfig& fresh) {
  State& state = *state_;
  if (!state.pipeline) {
    return MakeError(ErrorCode::kInternal, "gateway reloaded before Init");
  }
  const GatewayConfig& config = ConfigAs<GatewayConfig>(fresh);
  SG_RETURN_IF_ERROR(config.Validate());
  // Only the reloadable keys take effect; the kernel logs the others as needing a restart.
  state.config.access_log = config.access_log;
  state.config.cors = config.cors;
  state.config.rate_limit = config.rate_limit;
  state.pipeline->SetSettings(MakeSettings(state.config));
  state.logger->info("reloaded access_log, cors and rate_limit settings");
  return {};
}

std::uint16_t GatewayPlugin::port() const noexcept {
  return state_->server ? state_->server->port() : 0;
}

}  // namespace sg::plugins::gateway
