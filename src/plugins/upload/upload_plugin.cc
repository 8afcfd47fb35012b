#include "plugins/upload/upload_plugin.h"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "core/api/context.h"
#include "plugins/upload/upload_config.h"
#include "plugins/upload/upload_plugin_internal.h"
#include "plugins/upload/upload_service.h"

namespace sg::plugins::upload {
namespace {

class UploadPlugin final : public Plugin {
 public:
  const PluginInfo& Info() const override {
    static const PluginInfo info{
        .name = "upload",
        .version = "0.1.0",
        .description = "resumable uploads: chunked API and tus 1.0, probe, content record",
        .dependencies = {"gateway", "storage", "metadata"},
    };
    return info;
  }

  std::unique_ptr<PluginConfig> NewConfig() const override {
    return std::make_unique<TypedPluginConfig<UploadConfig>>();
  }

  Result<> Init(PluginContext& context) override {
    const auto& config = context.Config<UploadConfig>();
    logger_ = context.logger();
    cleanup_interval_ = config.cleanup_interval;
    UploadDependencies deps;
    SG_ASSIGN_OR_RETURN(deps.objects, context.Require<ObjectStore>());
    SG_ASSIGN_OR_RETURN(deps.metadata, context.Require<MetadataStore>());
    SG_ASSIGN_OR_RETURN(deps.bus, context.Require<EventBus>());
    SG_ASSIGN_OR_RETURN(auto router, context.Require<HttpRouter>());
    deps.clock = &context.clock();
    deps.logger = logger_;
    deps.temp_dir = context.server().data_dir / "tmp";
    std::error_code ignored;
    std::filesystem::create_directories(deps.temp_dir, ignored);
    service_ = std::make_unique<UploadService>(config, std::move(deps));
    return service_->RegisterRoutes(*router);
  }

  Result<> Start() override {
    RunCleanup();  // sessions that expired while the server was down
    cleaner_ = std::thread([this] { CleanupLoop(); });
    return {};
  }

  void Stop(Deadline) noexcept override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (cleaner_.joinable()) {
      cleaner_.join();
    }
  }

  Health CheckHealth() const override { return {HealthStatus::kOk, ""}; }

 private:
  void RunCleanup() {
    auto removed = service_->CleanupExpired();
    if (!removed) {
      logger_->warn("expired upload cleanup failed: {}", removed.error().ToString());
    }
  }

  void CleanupLoop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, cleanup_interval_, [this] { return stopping_; });
      if (stopping_) {
        break;
      }
      lock.unlock();
      RunCleanup();
      lock.lock();
    }
  }

  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<UploadService> service_;
  ConfigDuration cleanup_interval_{600'000};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread cleaner_;
};

}  // namespace

std::unique_ptr<Plugin> MakeUploadPlugin() { return std::make_unique<UploadPlugin>(); }

}  // namespace sg::plugins::upload

namespace sg {

Result<> RegisterUploadPlugin(PluginRegistrar& registrar) {
  return registrar.Register(&plugins::upload::MakeUploadPlugin);
}

}  // namespace sg
