#include "plugins/worker/worker_plugin.h"

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <system_error>
#include <thread>

#include "core/api/context.h"
#include "core/api/services/event_bus.h"
#include "core/api/services/http.h"
#include "core/api/services/job_queue.h"
#include "plugins/worker/jobs_api.h"
#include "plugins/worker/sqlite_job_queue.h"
#include "plugins/worker/worker_config.h"
#include "plugins/worker/worker_plugin_internal.h"
#include "plugins/worker/worker_pool.h"

namespace sg::plugins::worker {
namespace {

// Deletes succeeded jobs past the retention, so that periodic slots do not pile up.
constexpr std::string_view kPurgeType = "worker.purge";
constexpr auto kPurgeInterval = std::chrono::hours(1);

class PurgeHandler final : public JobHandler {
 public:
  PurgeHandler(std::shared_ptr<SqliteJobQueue> queue, const Clock& clock, Duration retention)
      : queue_(std::move(queue)), clock_(clock), retention_(retention) {}

  Result<std::string> Run(JobContext&) override {
    const auto cutoff =
        clock_.WallNow() - std::chrono::duration_cast<WallTime::duration>(retention_);
    SG_ASSIGN_OR_RETURN(auto deleted, queue_->PurgeSucceeded(cutoff));
    return fmt::format(R"({{"deleted":{}}})", deleted);
  }

 private:
  std::shared_ptr<SqliteJobQueue> queue_;
  const Clock& clock_;
  Duration retention_;
};

std::string NodeId() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
    return fmt::format("pid{}", ::getpid());
  }
  return fmt::format("{}:{}", host, ::getpid());
}

class WorkerPlugin final : public Plugin {
 public:
  const PluginInfo& Info() const override {
    static const PluginInfo info{
        .name = "worker",
        .version = "0.1.0",
        .description =
            "durable job queue (SQLite), autoscaling worker pool, periodic jobs, "
            "/api/v1/jobs",
        .dependencies = {"gateway"},
    };
    return info;
  }

  std::unique_ptr<PluginConfig> NewConfig() const override {
    return std::make_unique<TypedPluginConfig<WorkerConfig>>();
  }

  Result<> Init(PluginContext& context) override {
    const auto& config = context.Config<WorkerConfig>();
    logger_ = context.logger();
    SG_ASSIGN_OR_RETURN(auto bus, context.Require<EventBus>());
    SG_ASSIGN_OR_RETURN(auto router, context.Require<HttpRouter>());

    SqliteJobQueue::Options options;
    options.path = config.database.empty() ? context.server().data_dir / "jobs.sqlite3"
                                           : std::filesystem::path(config.database);
    options.default_max_attempts = static_cast<int>(config.max_attempts);
    options.backoff = {.initial = config.backoff_initial,
                       .max = config.backoff_max,
                       .multiplier = 2.0,
                       .jitter = 0.2};
    if (options.path.has_parent_path()) {
      std::error_code ec;
      std::filesystem::create_directories(options.path.parent_path(), ec);
      if (ec) {
        return MakeError(ErrorCode::kUnavailable, "worker: cannot create directory {}: {}",
                         options.path.parent_path().string(), ec.message());
      }
    }
    SG_ASSIGN_OR_RETURN(queue_, SqliteJobQueue::Open(options, context.clock(), context.random()));

    WorkerPoolOptions pool_options;
    const auto cores = static_cast<std::size_t>(std::thread::hardware_concurrency());
    const std::size_t max_workers = config.max_workers > 0
                                        ? static_cast<std::size_t>(config.max_workers)
                                        : std::max<std::size_t>(1, cores / 2);
    pool_options.max_workers = max_workers;
    pool_options.min_workers = static_cast<std::size_t>(config.min_workers);
    pool_options.visibility_timeout = config.visibility_timeout;
    pool_options.heartbeat_interval = config.heartbeat_interval;
    pool_options.idle_poll_interval = config.idle_poll_interval;
    pool_options.idle_worker_timeout = config.idle_worker_timeout;
    // A gauge read every few polls: cheap (one indexed COUNT), fresh enough for scrapes.
    pool_options.metrics_refresh_interval = 5 * config.idle_poll_interval;
    pool_options.node_id = NodeId();
    pool_options.release = [queue = queue_](const JobLease& lease, std::string_view reason) {
      return queue->Release(lease, reason);
    };
    pool_ = std::make_shared<WorkerPool>(queue_, context.clock(), bus, logger_, &context.metrics(),
                                         std::move(pool_options));
    std::weak_ptr<WorkerPool> weak = pool_;
    queue_->SetListener({
        .on_ready =
            [weak](const Job&) {
              if (auto pool = weak.lock()) {
                pool->Wake();
              }
            },
        .on_dead_lettered =
            [weak](const Job& job) {
              if (auto pool = weak.lock()) {
                pool->NotifyDeadLettered(job);
              }
            },
    });

    SG_RETURN_IF_ERROR(pool_->RegisterHandler(
        std::string(kPurgeType),
        std::make_shared<PurgeHandler>(queue_, context.clock(), config.retention),
        {.timeout = std::chrono::minutes(10)}));
    SG_RETURN_IF_ERROR(pool_->SchedulePeriodic(std::string(kPurgeType), kPurgeInterval));
    SG_RETURN_IF_ERROR(RegisterJobRoutes(*router, queue_));
    SG_RETURN_IF_ERROR(context.Provide<JobQueue>(queue_));
    SG_RETURN_IF_ERROR(context.Provide<JobRunner>(pool_));
    logger_->info("job queue {}, up to {} worker(s)", options.path.string(), max_workers);
    return {};
  }

  Result<> Start() override { return pool_->Start(); }

  // Stops pulling jobs and cancels running attempts first, while the plugins whose
  // handlers run here are still up; each attempt is given back uncounted.
  void Drain(Deadline deadline) noexcept override {
    if (pool_) {
      pool_->Stop(deadline);
    }
  }

  // Dependents stopped already: nobody enqueues any more.
  void Stop(Deadline deadline) noexcept override {
    if (pool_) {
      pool_->Stop(deadline);
    }
    if (queue_) {
      queue_->SetListener({});
      queue_->Close();
    }
  }

  Health CheckHealth() const override {
    if (!queue_) {
      return {HealthStatus::kDown, "job queue not open"};
    }
    auto ping = queue_->Ping();
    if (!ping) {
      return {HealthStatus::kDegraded, ping.error().message};
    }
    return {HealthStatus::kOk, ""};
  }

 private:
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<SqliteJobQueue> queue_;
  std::shared_ptr<WorkerPool> pool_;
};

}  // namespace

std::unique_ptr<Plugin> MakeWorkerPlugin() { return std::make_unique<WorkerPlugin>(); }

}  // namespace sg::plugins::worker

namespace sg {

Result<> RegisterWorkerPlugin(PluginRegistrar& registrar) {
  return registrar.Register(&plugins::worker::MakeWorkerPlugin);
}

}  // namespace sg
