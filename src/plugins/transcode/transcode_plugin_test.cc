// The plugin's wiring: handler registration, file.uploaded -> one idempotent job, and the
// start-up scan that recovers uploads whose event was lost.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <mutex>

#include "core/memory_event_bus.h"
#include "core/metrics_registry.h"
#include "core/testing/test_context.h"
#include "plugins/metadata/sqlite_metadata_store.h"
#include "plugins/storage/local_object_store.h"
#include "plugins/transcode/test_media.h"
#include "plugins/transcode/transcode_config.h"
#include "plugins/transcode/transcode_job.h"
#include "plugins/transcode/transcode_plugin_internal.h"

namespace sg::plugins::transcode {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// Records enqueues; idempotency keys behave as the contract says.
class FakeJobQueue final : public JobQueue {
 public:
  Result<Job> Enqueue(const JobSpec& spec) override {
    std::lock_guard lock(mutex);
    specs.push_back(spec);
    if (!spec.idempotency_key.empty()) {
      if (auto it = by_key.find(spec.idempotency_key); it != by_key.end()) {
        return it->second;
      }
    }
    Job job;
    job.id = "job" + std::to_string(specs.size());
    job.type = spec.type;
    job.payload = spec.payload;
    job.content_id = spec.content_id;
    job.owner = spec.owner;
    job.state = "queued";
    by_key[spec.idempotency_key] = job;
    return job;
  }
  Result<std::optional<JobLease>> Lease(const std::vector<std::string>&, std::string_view,
                                        Duration) override {
    return std::optional<JobLease>();
  }
  Result<> Heartbeat(JobLease&, Duration, std::optional<JobProgress>) override { return {}; }
  Result<Job> Ack(const JobLease& lease, std::string) override { return lease.job; }
  Result<Job> Nack(const JobLease& lease, std::string_view, std::optional<Duration>,
                   bool) override {
    return lease.job;
  }
  Result<Job> Get(std::string_view) override { return MakeError(ErrorCode::kNotFound, "no job"); }
  Result<JobPage> List(const JobQuery&) override { return JobPage{}; }
  Result<Job> Retry(std::string_view) override { return MakeError(ErrorCode::kNotFound, "no job"); }
  Result<JobCounts> Counts(const std::vector<std::string>&) override { return JobCounts{}; }

  std::size_t Count() {
    std::lock_guard lock(mutex);
    return specs.size();
  }
  std::mutex mutex;
  std::vector<JobSpec> specs;
  std::map<std::string, Job> by_key;
};

class FakeJobRunner final : public JobRunner {
 public:
  Result<> RegisterHandler(std::string type, std::shared_ptr<JobHandler> handler,
                           JobTypeOptions options) override {
    if (handlers.count(type) != 0) {
      return MakeError(ErrorCode::kAlreadyExists, "{} registered twice", type);
    }
    handlers[type] = {std::move(handler), options};
    return {};
  }
  Result<> SchedulePeriodic(std::string, Duration, std::string) override { return {}; }
  std::map<std::string, std::pair<std::shared_ptr<JobHandler>, JobTypeOptions>> handlers;
};

class TranscodePluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    auto objects = storage::LocalObjectStore::Open({.root = dir_.path() / "objects"}, clock_);
    ASSERT_TRUE(objects);
    auto metadata = metadata::SqliteMetadataStore::Open({.path = dir_.path() / "meta.db"}, clock_);
    ASSERT_TRUE(metadata);
    metadata_ = *metadata;
    logger_ = std::make_shared<spdlog::logger>("test");
    bus_ = std::make_shared<core::InMemoryEventBus>(core::InMemoryEventBus::Options{}, logger_,
                                                    metrics_);
    TranscodeConfig config;
    config.max_attempts = 5;
    config.timeout = 600'000ms;
    context_ = std::make_unique<sg::testing::TestPluginContext>(
        sg::testing::TestPluginContext::MakeConfig(config));
    context_->mutable_server().data_dir = dir_.path();
    ASSERT_TRUE(context_->Provide<ObjectStore>(*objects));
    ASSERT_TRUE(context_->Provide<MetadataStore>(metadata_));
    ASSERT_TRUE(context_->Provide<EventBus>(bus_));
    ASSERT_TRUE(context_->Provide<JobQueue>(queue_));
    ASSERT_TRUE(context_->Provide<JobRunner>(runner_));
    plugin_ = MakeTranscodePlugin();
  }

  void TearDown() override {
    plugin_->Stop(std::chrono::steady_clock::now() + 5s);
    bus_->Close(std::chrono::steady_clock::now() + 5s);
  }

  void AddContent(const std::string& id, const std::string& status) {
    ContentRecord content;
    content.id = id;
    content.owner = "alice";
    content.status = status;
    content.object_key = "uploads/" + id + "/source";
    content.created_at = clock_.WallNow();
    content.updated_at = content.created_at;
    ASSERT_TRUE(metadata_->CreateContent(content));
  }

  bool WaitForEnqueues(std::size_t count) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (queue_->Count() < count) {
      if (std::chrono::steady_clock::now() > deadline) {
        return false;
      }
      std::this_thread::yield();
    }
    return true;
  }

  testing::TempDir dir_;
  SystemClock clock_;
  core::PrometheusMetricsRegistry metrics_;
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<metadata::SqliteMetadataStore> metadata_;
  std::shared_ptr<core::InMemoryEventBus> bus_;
  std::shared_ptr<FakeJobQueue> queue_ = std::make_shared<FakeJobQueue>();
  std::shared_ptr<FakeJobRunner> runner_ = std::make_shared<FakeJobRunner>();
  std::unique_ptr<sg::testing::TestPluginContext> context_;
  std::unique_ptr<Plugin> plugin_;
};

TEST_F(TranscodePluginTest, InfoNamesItsDependencies) {
  EXPECT_EQ(plugin_->Info().name, "transcode");
  EXPECT_EQ(plugin_->Info().dependencies,
            (std::vector<std::string>{"worker", "storage", "metadata"}));
}

TEST_F(TranscodePluginTest, InitRegistersTheTranscodeHandlerWithConfiguredOptions) {
  ASSERT_TRUE(plugin_->Init(*context_));
  ASSERT_EQ(runner_->handlers.count("transcode"), 1u);
  const auto& options = runner_->handlers["transcode"].second;
  EXPECT_EQ(options.timeout, std::chrono::milliseconds(600'000));
  EXPECT_EQ(options.max_attempts, 5);
  EXPECT_TRUE(std::filesystem::is_directory(dir_.path() / "work" / "transcode"));
}

TEST_F(TranscodePluginTest, InitFailsWithoutAJobRunner) {
  sg::testing::TestPluginContext bare(
      sg::testing::TestPluginContext::MakeConfig(TranscodeConfig{}));
  auto plugin = MakeTranscodePlugin();
  EXPECT_FALSE(plugin->Init(bare));
}

TEST_F(TranscodePluginTest, FileUploadedEnqueuesOneIdempotentJob) {
  ASSERT_TRUE(plugin_->Init(*context_));
  ASSERT_TRUE(plugin_->Start());
  std::string event = R"({"content_id":"content00000000001","owner":"alice","size":10})";
  ASSERT_TRUE(bus_->Publish({.subject = "streamgate.file.uploaded", .data = event}));
  ASSERT_TRUE(bus_->Publish({.subject = "streamgate.file.uploaded", .data = event}));
  ASSERT_TRUE(WaitForEnqueues(2));
  std::lock_guard lock(queue_->mutex);
  const auto& spec = queue_->specs[0];
  EXPECT_EQ(spec.type, "transcode");
  EXPECT_EQ(json::parse(spec.payload), json::parse(R"({"content_id":"content00000000001"})"));
  EXPECT_EQ(spec.idempotency_key, "transcode:content00000000001");
  EXPECT_EQ(spec.content_id, "content00000000001");
  EXPECT_EQ(spec.owner, "alice");
  EXPECT_EQ(spec.max_attempts, 5);
  EXPECT_EQ(queue_->by_key.size(), 1u);  // the second enqueue found the first job
}

TEST_F(TranscodePluginTest, MalformedEventsAreIgnored) {
  ASSERT_TRUE(plugin_->Init(*context_));
  ASSERT_TRUE(plugin_->Start());
  ASSERT_TRUE(bus_->Publish({.subject = "streamgate.file.uploaded", .data = "not json"}));
  ASSERT_TRUE(bus_->Publish({.subject = "streamgate.file.uploaded", .data = R"({"x":1})"}));
  ASSERT_TRUE(bus_->Publish(
      {.subject = "streamgate.file.uploaded", .data = R"({"content_id":"../../etc"})"}));
  ASSERT_TRUE(bus_->Publish(
      {.subject = "streamgate.file.uploaded", .data = R"({"content_id":"content00000000009"})"}));
  ASSERT_TRUE(WaitForEnqueues(1));
  std::lock_guard lock(queue_->mutex);
  ASSERT_EQ(queue_->specs.size(), 1u);
  EXPECT_EQ(queue_->specs[0].content_id, "content00000000009");
}

TEST_F(TranscodePluginTest, StartEnqueuesEveryContentStillUploaded) {
  for (int i = 0; i < 105; ++i) {  // more than one page
    AddContent(fmt::format("uploaded{:010d}", i), "uploaded");
  }
  AddContent("readycontent000001", "ready");
  AddContent("processing00000001", "processing");
  ASSERT_TRUE(plugin_->Init(*context_));
  ASSERT_TRUE(plugin_->Start());
  std::lock_guard lock(queue_->mutex);
  EXPECT_EQ(queue_->specs.size(), 105u);
  for (const auto& spec : queue_->specs) {
    EXPECT_EQ(spec.idempotency_key.rfind("transcode:uploaded", 0), 0u) << spec.idempotency_key;
    EXPECT_EQ(spec.owner, "alice");
  }
}

TEST(TranscodeConfigTest, DefaultsValidate) {
  TranscodeConfig config;
  EXPECT_TRUE(config.Validate());
  EXPECT_EQ(config.ladder.size(), 4u);
}

TEST(TranscodeConfigTest, BadValuesAreErrorsNamingTheKey) {
  TranscodeConfig config;
  config.ladder = {"360p=abc"};
  auto bad_ladder = config.Validate();
  ASSERT_FALSE(bad_ladder);
  EXPECT_NE(bad_ladder.error().message.find("ladder"), std::string::npos);
  config = {};
  config.segment_seconds = 5;
  auto bad_segment = config.Validate();
  ASSERT_FALSE(bad_segment);
  EXPECT_NE(bad_segment.error().message.find("segment_seconds"), std::string::npos);
  config = {};
  config.audio_bitrate = "lots";
  EXPECT_FALSE(config.Validate());
  config = {};
  config.ffmpeg = "";
  EXPECT_FALSE(config.Validate());
}

}  // namespace
}  // namespace sg::plugins::transcode
