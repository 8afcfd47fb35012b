#include "plugins/metadata/metadata_plugin.h"

#include <filesystem>
#include <memory>
#include <system_error>

#include "core/api/context.h"
#include "core/api/services/metadata_store.h"
#include "plugins/metadata/metadata_config.h"
#include "plugins/metadata/metadata_plugin_internal.h"
#include "plugins/metadata/sqlite_metadata_store.h"

namespace sg::plugins::metadata {
namespace {

class MetadataPlugin final : public Plugin {
 public:
  const PluginInfo& Info() const override {
    // No dependencies: worker nodes use the store without the gateway.
    static const PluginInfo info{
        .name = "metadata",
        .version = "0.1.0",
        .description = "MetadataStore on SQLite (WAL, versioned migrations, FTS5 search)",
        .dependencies = {},
    };
    return info;
  }

  std::unique_ptr<PluginConfig> NewConfig() const override {
    return std::make_unique<TypedPluginConfig<MetadataConfig>>();
  }

  // The database is opened and migrated here, not in Start: plugins that depend on this
  // one may read it from their own Init.
  Result<> Init(PluginContext& context) override {
    const auto& config = context.Config<MetadataConfig>();
    SqliteMetadataStore::Options options;
    options.path = config.path.empty() ? context.server().data_dir / "streamgate.db"
                                       : std::filesystem::path(config.path);
    options.busy_timeout = config.busy_timeout;
    options.read_connections = static_cast<std::size_t>(config.read_connections);
    options.synchronous_full = config.synchronous == "full";
    if (options.path.has_parent_path()) {
      std::error_code ec;
      std::filesystem::create_directories(options.path.parent_path(), ec);
      if (ec) {
        return MakeError(ErrorCode::kUnavailable, "metadata: cannot create directory {}: {}",
                         options.path.parent_path().string(), ec.message());
      }
    }
    SG_ASSIGN_OR_RETURN(store_, SqliteMetadataStore::Open(options, context.clock()));
    context.logger()->info("database {} at schema version {} (synchronous={})",
                           options.path.string(), store_->schema_version(), config.synchronous);
    return context.Provide<MetadataStore>(store_);
  }

  Result<> Start() override { return {}; }

  // Dependents stop first, so nothing calls the store any more; closing checkpoints the
  // WAL into the main file.
  void Stop(Deadline) noexcept override {
    if (store_) {
      store_->Close();
    }
  }

  Health CheckHealth() const override {
    if (!store_) {
      return {HealthStatus::kDown, "database not open"};
    }
    auto ping = store_->Ping();
    if (!ping) {
      return {HealthStatus::kDown, ping.error().message};
    }
    return {HealthStatus::kOk, ""};
  }

 private:
  std::shared_ptr<SqliteMetadataStore> store_;
};

}  // namespace

std::unique_ptr<Plugin> MakeMetadataPlugin() { return std::make_unique<MetadataPlugin>(); }

}  // namespace sg::plugins::metadata

namespace sg {

Result<> RegisterMetadataPlugin(PluginRegistrar& registrar) {
  return registrar.Register(&plugins::metadata::MakeMetadataPlugin);
}

}  // namespace sg
