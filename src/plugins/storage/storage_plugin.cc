#include "plugins/storage/storage_plugin.h"

#include <memory>

#include "core/api/context.h"
#include "plugins/storage/local_object_store.h"
#include "plugins/storage/storage_config.h"
#include "plugins/storage/storage_plugin_internal.h"

namespace sg::plugins::storage {
namespace {

// Temporary files this old are crash leftovers, never a Put in flight (even one streaming
// a large file over a slow link), so clean-up at start cannot break a concurrent writer.
constexpr std::chrono::seconds kStaleTemporaryAge = std::chrono::hours(1);

class StoragePlugin final : public Plugin {
 public:
  const PluginInfo& Info() const override {
    static const PluginInfo info{
        .name = "storage",
        .version = "0.1.0",
        .description = "ObjectStore service on a local folder (atomic writes, multipart in place)",
    };
    return info;
  }

  std::unique_ptr<PluginConfig> NewConfig() const override {
    return std::make_unique<TypedPluginConfig<StorageConfig>>();
  }

  Result<> Init(PluginContext& context) override {
    logger_ = context.logger();
    const auto& config = context.Config<StorageConfig>();
    const auto& data_dir = context.server().data_dir;
    std::filesystem::path root =
        config.root.empty() ? data_dir / "objects" : data_dir / config.root;  // abs wins
    LocalObjectStore::Options options{
        .root = root.lexically_normal(),
        .fsync = config.fsync,
        .io_buffer = static_cast<std::size_t>(config.io_buffer.bytes),
        .open_files = {.max_files = static_cast<std::size_t>(config.open_file_cache.max_files),
                       .valid = config.open_file_cache.valid},
    };
    SG_ASSIGN_OR_RETURN(store_, LocalObjectStore::Open(std::move(options), context.clock()));
    SG_RETURN_IF_ERROR(context.Provide<ObjectStore>(store_));
    logger_->info("objects in {} (fsync {})", store_->root().string(), config.fsync ? "on" : "off");
    return {};
  }

  Result<> Start() override {
    auto removed = store_->RemoveStaleTemporaryFiles(kStaleTemporaryAge);
    if (!removed) {
      // Leftovers only cost disk space; the store works, so this must not stop the server.
      logger_->warn("could not remove stale temporary files: {}", removed.error().ToString());
    } else if (*removed > 0) {
      logger_->info("removed {} temporary files left by an interrupted write", *removed);
    }
    return {};
  }

  void Stop(Deadline) noexcept override {}

  Health CheckHealth() const override {
    if (!store_) {
      return {HealthStatus::kDown, "not initialised"};
    }
    return EvaluateDiskHealth(store_->ProbeDisk());
  }

 private:
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<LocalObjectStore> store_;
};

}  // namespace

std::unique_ptr<Plugin> MakeStoragePlugin() { return std::make_unique<StoragePlugin>(); }

}  // namespace sg::plugins::storage

namespace sg {

Result<> RegisterStoragePlugin(PluginRegistrar& registrar) {
  return registrar.Register(&plugins::storage::MakeStoragePlugin);
}

}  // namespace sg
