#include "plugins/monitor/monitor_plugin.h"

#include <boost/json.hpp>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "core/api/context.h"
#include "core/api/services/event_bus.h"
#include "core/api/services/http.h"
#include "core/api/services/runtime_info.h"
#include "plugins/monitor/monitor_config.h"
#include "plugins/monitor/monitor_plugin_internal.h"
#include "plugins/monitor/process_metrics.h"

namespace sg::plugins::monitor {
namespace {

namespace json = boost::json;

// Readiness as a load balancer sees it: ready unless shutting down or a plugin is down.
// Degraded plugins keep the node ready (it still serves) but are shown in the detail.
struct Readiness {
  bool ready = false;
  bool starting = true;  ///< checked before the kernel said every plugin runs
  WallTime checked_at;
  std::vector<PluginStatus> plugins;
};

class MonitorPlugin final : public Plugin {
 public:
  const PluginInfo& Info() const override {
    static const PluginInfo info{
        .name = "monitor",
        .version = "0.1.0",
        .description = "/healthz, /readyz, /metrics (Prometheus), periodic health checks",
        .dependencies = {"gateway"},
    };
    return info;
  }

  std::unique_ptr<PluginConfig> NewConfig() const override {
    return std::make_unique<TypedPluginConfig<MonitorConfig>>();
  }

  Result<> Init(PluginContext& context) override {
    context_ = &context;
    logger_ = context.logger();
    interval_ms_ = context.Config<MonitorConfig>().health_interval.count();
    SG_ASSIGN_OR_RETURN(runtime_, context.Require<RuntimeInfo>());
    SG_ASSIGN_OR_RETURN(auto router, context.Require<HttpRouter>());
    SG_ASSIGN_OR_RETURN(auto bus, context.Require<EventBus>());
    // Plugins that start after this one are only in the health report once the kernel
    // says everyone runs: check again then instead of waiting a whole interval.
    SG_ASSIGN_OR_RETURN(started_subscription_, bus->Subscribe(std::string(kKernelStartedSubject),
                                                              [this](const BusMessage&) {
                                                                all_started_.store(true);
                                                                RequestCheck();
                                                              }));

    auto& metrics = context.metrics();
    RegisterProcessMetrics(metrics);
    plugin_up_ = &metrics.GaugeFamily("streamgate_plugin_up",
                                      "1 when the plugin's last health check was ok or degraded.",
                                      {"plugin"});
    checks_ = &metrics.CounterFamily("streamgate_health_checks_total", "Health check rounds run.")
                   .WithLabels({});
    auto& build =
        metrics.GaugeFamily("streamgate_build_info", "Build information (always 1).", {"version"});
    build.WithLabels({std::string(runtime_->Version())}).Set(1);

    RouteOptions probe{.max_body_bytes = 0, .rate_class = "none", .blocking = false};
    SG_RETURN_IF_ERROR(router->AddRoute(
        "GET", "/healthz",
        [](const HttpRequest&) -> Result<HttpResponse> {
          // Liveness: the process answers HTTP. Nothing else is checked, so a slow
          // dependency never gets a healthy process restarted.
          return HttpResponse::Json(200, R"({"status":"ok"})");
        },
        probe));
    SG_RETURN_IF_ERROR(router->AddRoute(
        "GET", "/readyz", [this](const HttpRequest&) { return ServeReadyz(); }, probe));
    SG_RETURN_IF_ERROR(router->AddRoute(
        "GET", "/metrics",
        [this](const HttpRequest&) -> Result<HttpResponse> {
          return HttpResponse::Text(200, context_->metrics().RenderPrometheus(),
                                    "text/plain; version=0.0.4; charset=utf-8");
        },
        probe));
    return {};
  }

  Result<> Start() override {
    RunChecks();  // so /readyz is meaningful from the first request
    checker_ = std::thread([this] { CheckLoop(); });
    return {};
  }

  void Stop(Deadline) noexcept override {
    if (started_subscription_) {
      started_subscription_->Unsubscribe();
    }
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (checker_.joinable()) {
      checker_.join();
    }
  }

  Health CheckHealth() const override { return {HealthStatus::kOk, ""}; }

  Result<> Reload(const PluginConfig& fresh) override {
    interval_ms_ = ConfigAs<MonitorConfig>(fresh).health_interval.count();
    RequestCheck();  // restarts the wait with the new interval
    return {};
  }

 private:
  void RequestCheck() {
    {
      std::lock_guard lock(mutex_);
      check_requested_ = true;
    }
    wake_.notify_all();
  }

  void CheckLoop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, std::chrono::milliseconds(interval_ms_.load()),
                     [this] { return stopping_ || check_requested_; });
      if (stopping_) {
        break;
      }
      check_requested_ = false;
      lock.unlock();
      RunChecks();
      lock.lock();
    }
  }

  void RunChecks() {
    auto snapshot = std::make_shared<Readiness>();
    snapshot->plugins = runtime_->CheckPlugins();
    snapshot->checked_at = context_->clock().WallNow();
    // Until the kernel announces that every plugin runs, the plugins that start after this
    // one are not in the list yet: "every listed plugin is up" would be a false ready (a
    // load balancer would send uploads to a node whose worker has not started).
    snapshot->starting = !all_started_.load();
    snapshot->ready = !snapshot->starting;
    for (const auto& plugin : snapshot->plugins) {
      bool up = plugin.health.status != HealthStatus::kDown;
      plugin_up_->WithLabels({plugin.name}).Set(up ? 1 : 0);
      if (!up) {
        snapshot->ready = false;
        logger_->warn("plugin {} is down: {}", plugin.name, plugin.health.detail);
      } else if (plugin.health.status == HealthStatus::kDegraded) {
        logger_->warn("plugin {} is degraded: {}", plugin.name, plugin.health.detail);
      }
    }
    checks_->Inc();
    std::atomic_store(&readiness_, std::shared_ptr<const Readiness>(std::move(snapshot)));
  }

  Result<HttpResponse> ServeReadyz() const {
    auto snapshot = std::atomic_load(&readiness_);
    bool shutting_down = runtime_->ShuttingDown();
    bool ready = snapshot && snapshot->ready && !shutting_down;
    json::object body;
    body["status"] = ready ? "ready" : "not_ready";
    if (shutting_down) {
      body["reason"] = "shutting down";
    } else if (!snapshot || snapshot->starting) {
      body["reason"] = "starting";
    }
    json::object plugins;
    if (snapshot) {
      body["checked_at"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                               snapshot->checked_at.time_since_epoch())
                               .count();
      for (const auto& plugin : snapshot->plugins) {
        json::object entry;
        entry["status"] = std::string(HealthStatusName(plugin.health.status));
        entry["version"] = plugin.version;
        if (!plugin.health.detail.empty()) {
          entry["detail"] = plugin.health.detail;
        }
        plugins[plugin.name] = std::move(entry);
      }
    }
    body["plugins"] = std::move(plugins);
    auto response = HttpResponse::Json(ready ? 200 : 503, json::serialize(body));
    response.SetHeader("Cache-Control", "no-store");
    return response;
  }

  PluginContext* context_ = nullptr;
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<RuntimeInfo> runtime_;
  MetricFamily<Gauge>* plugin_up_ = nullptr;
  Counter* checks_ = nullptr;
  std::atomic<std::int64_t> interval_ms_{10'000};
  std::atomic<bool> all_started_{false};
  std::shared_ptr<const Readiness> readiness_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool check_requested_ = false;
  std::thread checker_;
  std::unique_ptr<BusSubscription> started_subscription_;
};

}  // namespace

std::unique_ptr<Plugin> MakeMonitorPlugin() { return std::make_unique<MonitorPlugin>(); }

}  // namespace sg::plugins::monitor

namespace sg {

Result<> RegisterMonitorPlugin(PluginRegistrar& registrar) {
  return registrar.Register(&plugins::monitor::MakeMonitorPlugin);
}

}  // namespace sg
