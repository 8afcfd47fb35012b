#include "plugins/transcode/transcode_plugin.h"

#include <boost/json.hpp>

#include "core/api/context.h"
#include "core/api/services/event_bus.h"
#include "core/api/services/job_queue.h"
#include "core/api/services/media.h"
#include "core/api/services/metadata_store.h"
#include "core/api/services/object_store.h"
#include "plugins/transcode/transcode_config.h"
#include "plugins/transcode/transcode_job.h"
#include "plugins/transcode/transcode_plugin_internal.h"

namespace sg::plugins::transcode {
namespace {

namespace json = boost::json;

// Published by the upload plugin when a content's source is stored and probed.

class TranscodePlugin final : public Plugin {
 public:
  const PluginInfo& Info() const override {
    static const PluginInfo info{
        .name = "transcode",
        .version = "0.1.0",
        .description = "uploads to a CMAF ladder with one ffmpeg process per job",
        .dependencies = {"worker", "storage", "metadata"},
    };
    return info;
  }

  std::unique_ptr<PluginConfig> NewConfig() const override {
    return std::make_unique<TypedPluginConfig<TranscodeConfig>>();
  }

  Result<> Init(PluginContext& context) override {
    const auto& config = context.Config<TranscodeConfig>();
    logger_ = context.logger();
    max_attempts_ = static_cast<int>(config.max_attempts);
    SG_ASSIGN_OR_RETURN(queue_, context.Require<JobQueue>());
    SG_ASSIGN_OR_RETURN(auto runner, context.Require<JobRunner>());
    TranscodeDependencies deps;
    SG_ASSIGN_OR_RETURN(deps.objects, context.Require<ObjectStore>());
    SG_ASSIGN_OR_RETURN(metadata_, context.Require<MetadataStore>());
    deps.metadata = metadata_;
    SG_ASSIGN_OR_RETURN(bus_, context.Require<EventBus>());
    deps.bus = bus_;
    deps.clock = &context.clock();
    deps.logger = logger_;
    deps.work_root = config.work_dir.empty() ? context.server().data_dir / "work" / "transcode"
                                             : std::filesystem::path(config.work_dir);
    // ffmpeg runs inside the work directory: every path it is given must be absolute (a
    // relative --data-dir made every transcode fail with "No such file or directory").
    deps.work_root = std::filesystem::absolute(deps.work_root);
    std::error_code made;
    std::filesystem::create_directories(deps.work_root, made);
    if (made) {
      return MakeError(ErrorCode::kUnavailable, "work_dir {}: {}", deps.work_root.string(),
                       made.message());
    }
    SG_ASSIGN_OR_RETURN(auto handler, TranscodeJobHandler::Create(config, std::move(deps)));
    SG_RETURN_IF_ERROR(
        runner->RegisterHandler(std::string(kTranscodeJobType), handler,
                                {.timeout = config.timeout, .max_attempts = max_attempts_}));
    SG_ASSIGN_OR_RETURN(subscription_,
                        bus_->Subscribe(std::string(kFileUploadedSubject),
                                        [this](const BusMessage& message) { OnUploaded(message); },
                                        {.queue_group = "transcode"}));
    return {};
  }

  Result<> Start() override {
    // Bus delivery is at-most-once: an upload whose event was lost (a crash between storing
    // the content and enqueueing) is still "uploaded"; enqueueing is idempotent.
    std::size_t enqueued = 0;
    ContentQuery query;
    query.status = "uploaded";
    query.limit = 100;
    while (true) {
      auto page = metadata_->SearchContent(query);
      if (!page) {
        logger_->warn("cannot list uploaded contents: {}", page.error().ToString());
        break;
      }
      for (const auto& content : page->items) {
        if (Enqueue(content.id, content.owner)) {
          ++enqueued;
        }
      }
      if (page->next_cursor.empty()) {
        break;
      }
      query.cursor = page->next_cursor;
    }
    if (enqueued > 0) {
      logger_->info("enqueued {} uploaded contents waiting for a transcode", enqueued);
    }
    return {};
  }

  void Stop(Deadline) noexcept override {
    if (subscription_) {
      subscription_->Unsubscribe();
    }
  }

  Health CheckHealth() const override { return {HealthStatus::kOk, ""}; }

 private:
  void OnUploaded(const BusMessage& message) {
    std::string content_id;
    std::string owner;
    try {
      auto parsed = json::parse(message.data);
      const auto& event = parsed.as_object();
      content_id = std::string(event.at("content_id").as_string());
      if (const auto* who = event.if_contains("owner"); who != nullptr && who->is_string()) {
        owner = std::string(who->as_string());
      }
    } catch (const std::exception& e) {
      logger_->warn("ignoring a malformed {} event: {}", message.subject, e.what());
      return;
    }
    if (!IsValidId(content_id)) {
      logger_->warn("ignoring {} for an invalid content id", message.subject);
      return;
    }
    Enqueue(content_id, owner);
  }

  bool Enqueue(const std::string& content_id, const std::string& owner) {
    json::object payload;
    payload["content_id"] = content_id;
    JobSpec spec;
    spec.type = std::string(kTranscodeJobType);
    spec.payload = json::serialize(payload);
    spec.idempotency_key = "transcode:" + content_id;
    spec.content_id = content_id;
    spec.owner = owner;
    spec.max_attempts = max_attempts_;
    auto job = queue_->Enqueue(spec);
    if (!job) {
      logger_->error("cannot enqueue the transcode of {}: {}", content_id, job.error().ToString());
      return false;
    }
    logger_->info("transcode of {} is job {} ({})", content_id, job->id, job->state);
    return true;
  }

  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<JobQueue> queue_;
  std::shared_ptr<MetadataStore> metadata_;
  std::shared_ptr<EventBus> bus_;
  std::unique_ptr<BusSubscription> subscription_;
  int max_attempts_ = 3;
};

}  // namespace

std::unique_ptr<Plugin> MakeTranscodePlugin() { return std::make_unique<TranscodePlugin>(); }

}  // namespace sg::plugins::transcode

namespace sg {

Result<> RegisterTranscodePlugin(PluginRegistrar& registrar) {
  return registrar.Register(&plugins::transcode::MakeTranscodePlugin);
}

}  // namespace sg
