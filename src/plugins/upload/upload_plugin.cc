#include "plugins/upload/upload_plugin.h"

#include <memory>

#include "core/api/context.h"
#include "core/api/services/job_queue.h"
#include "plugins/upload/upload_config.h"
#include "plugins/upload/upload_plugin_internal.h"
#include "plugins/upload/upload_service.h"

namespace sg::plugins::upload {
namespace {

// Expired sessions are removed by a periodic job of the worker plugin, so that with several
// nodes sharing the stores one of them runs it per interval, and a restart catches up at
// once (the current slot is enqueued when the worker starts).
inline constexpr std::string_view kCleanupJobType = "upload.cleanup";

class CleanupHandler final : public JobHandler {
 public:
  explicit CleanupHandler(UploadService& service) : service_(service) {}
  Result<std::string> Run(JobContext&) override {
    SG_ASSIGN_OR_RETURN(auto removed, service_.CleanupExpired());
    return fmt::format(R"({{"removed":{}}})", removed);
  }

 private:
  UploadService& service_;
};

class UploadPlugin final : public Plugin {
 public:
  const PluginInfo& Info() const override {
    static const PluginInfo info{
        .name = "upload",
        .version = "0.1.0",
        .description = "resumable uploads: chunked API and tus 1.0, probe, content record",
        .dependencies = {"gateway", "storage", "metadata", "worker"},
    };
    return info;
  }

  std::unique_ptr<PluginConfig> NewConfig() const override {
    return std::make_unique<TypedPluginConfig<UploadConfig>>();
  }

  Result<> Init(PluginContext& context) override {
    const auto& config = context.Config<UploadConfig>();
    logger_ = context.logger();
    UploadDependencies deps;
    SG_ASSIGN_OR_RETURN(deps.objects, context.Require<ObjectStore>());
    SG_ASSIGN_OR_RETURN(deps.metadata, context.Require<MetadataStore>());
    SG_ASSIGN_OR_RETURN(deps.bus, context.Require<EventBus>());
    SG_ASSIGN_OR_RETURN(auto router, context.Require<HttpRouter>());
    SG_ASSIGN_OR_RETURN(auto runner, context.Require<JobRunner>());
    deps.clock = &context.clock();
    deps.logger = logger_;
    deps.temp_dir = context.server().data_dir / "tmp";
    std::error_code ignored;
    std::filesystem::create_directories(deps.temp_dir, ignored);
    service_ = std::make_unique<UploadService>(config, std::move(deps));
    SG_RETURN_IF_ERROR(service_->RegisterRoutes(*router));
    // The worker drains (joining its handlers) before this plugin stops, so the handler
    // never outlives service_.
    SG_RETURN_IF_ERROR(runner->RegisterHandler(std::string(kCleanupJobType),
                                               std::make_shared<CleanupHandler>(*service_)));
    return runner->SchedulePeriodic(std::string(kCleanupJobType), config.cleanup_interval);
  }

  Result<> Start() override { return {}; }

  void Stop(Deadline) noexcept override {}

  Health CheckHealth() const override { return {HealthStatus::kOk, ""}; }

 private:
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<UploadService> service_;
};

}  // namespace

std::unique_ptr<Plugin> MakeUploadPlugin() { return std::make_unique<UploadPlugin>(); }

}  // namespace sg::plugins::upload

namespace sg {

Result<> RegisterUploadPlugin(PluginRegistrar& registrar) {
  return registrar.Register(&plugins::upload::MakeUploadPlugin);
}

}  // namespace sg
