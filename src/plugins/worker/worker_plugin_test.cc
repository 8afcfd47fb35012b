#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <map>

#include "core/api/services/event_bus.h"
#include "core/api/services/http.h"
#include "core/api/services/job_queue.h"
#include "core/api/services/metadata_store.h"
#include "core/memory_event_bus.h"
#include "core/testing/capturing_router.h"
#include "core/testing/test_context.h"
#include "plugins/worker/jobs_api.h"
#include "plugins/worker/test_util.h"
#include "plugins/worker/worker_config.h"
#include "plugins/worker/worker_plugin_internal.h"

namespace sg::plugins::worker {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::WaitFor;

using sg::testing::CapturingRouter;

using sg::testing::StatusOf;

const Principal kAnonymous{};
const Principal kAlice{"alice", {"creator"}};
const Principal kBob{"bob", {"creator"}};
const Principal kAdmin{"admin", {"admin"}};

class CountingHandler final : public JobHandler {
 public:
  Result<std::string> Run(JobContext& context) override {
    runs.fetch_add(1);
    return std::string(R"({"done":true})");
  }
  std::atomic<int> runs{0};
};

class WorkerPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WorkerConfig config;
    config.idle_poll_interval = 10ms;
    config.heartbeat_interval = 100ms;
    config.max_workers = 2;
    context_ = std::make_unique<sg::testing::TestPluginContext>(
        sg::testing::TestPluginContext::MakeConfig(config));
    context_->mutable_server().data_dir = dir_.path();
    bus_ = std::make_shared<core::InMemoryEventBus>(core::InMemoryEventBus::Options{},
                                                    context_->logger(), context_->metrics());
    ASSERT_TRUE(context_->Provide<HttpRouter>(router_));
    ASSERT_TRUE(context_->Provide<EventBus>(bus_));
    plugin_ = MakeWorkerPlugin();
    auto init = plugin_->Init(*context_);
    ASSERT_TRUE(init) << init.error().ToString();
    auto queue = context_->Require<JobQueue>();
    ASSERT_TRUE(queue);
    queue_ = *queue;
    auto runner = context_->Require<JobRunner>();
    ASSERT_TRUE(runner);
    runner_ = *runner;
  }

  void TearDown() override {
    if (plugin_) {
      plugin_->Drain(std::chrono::steady_clock::now() + 5s);
      plugin_->Stop(std::chrono::steady_clock::now() + 5s);
    }
    bus_->Close(std::chrono::steady_clock::now() + 5s);
  }

  Result<HttpResponse> Route(const std::string& key, const Principal& principal,
                             std::vector<std::pair<std::string, std::string>> path_params = {},
                             std::vector<std::pair<std::string, std::string>> query = {}) {
    HttpRequest request;
    request.method = key.substr(0, key.find(' '));
    request.path_params = std::move(path_params);
    request.query = std::move(query);
    request.principal = principal;
    return router_->routes.at(key).first(request);
  }

  Result<HttpResponse> List(const Principal& principal,
                            std::vector<std::pair<std::string, std::string>> query = {}) {
    return Route("GET /api/v1/jobs", principal, {}, std::move(query));
  }
  Result<HttpResponse> Get(const Principal& principal, const std::string& id) {
    return Route("GET /api/v1/jobs/{id}", principal, {{"id", id}});
  }
  Result<HttpResponse> PostRetry(const Principal& principal, const std::string& id) {
    return Route("POST /api/v1/jobs/{id}/retry", principal, {{"id", id}});
  }

  Job Add(std::string owner, std::string content_id = "", std::string type = "test.job") {
    auto job = queue_->Enqueue({.type = std::move(type),
                                .payload = R"({"secret":"s3"})",
                                .content_id = std::move(content_id),
                                .owner = std::move(owner),
                                .max_attempts = 1});
    EXPECT_TRUE(job) << job.error().ToString();
    return job ? *job : Job{};
  }

  Job AddDead(std::string owner) {
    Job job = Add(std::move(owner), "", "test.dead");
    auto lease = queue_->Lease({"test.dead"}, "test", 30s);
    EXPECT_TRUE(lease && *lease);
    auto dead = queue_->Nack(**lease, "cannot decode");
    EXPECT_TRUE(dead);
    return *dead;
  }

  std::vector<std::string> ListIds(const Principal& principal,
                                   std::vector<std::pair<std::string, std::string>> query = {}) {
    auto response = List(principal, std::move(query));
    EXPECT_EQ(StatusOf(response), 200) << (response ? response->body : response.error().ToString());
    std::vector<std::string> ids;
    if (response) {
      const json::value body = json::parse(response->body);
      for (const auto& item : body.at("items").as_array()) {
        ids.emplace_back(item.at("id").as_string());
      }
    }
    return ids;
  }

  testing::TempDir dir_;
  std::unique_ptr<sg::testing::TestPluginContext> context_;
  std::shared_ptr<CapturingRouter> router_ = std::make_shared<CapturingRouter>();
  std::shared_ptr<core::InMemoryEventBus> bus_;
  std::unique_ptr<Plugin> plugin_;
  std::shared_ptr<JobQueue> queue_;
  std::shared_ptr<JobRunner> runner_;
};

TEST_F(WorkerPluginTest, InitProvidesTheServicesAndRoutesWithTheDatabaseInTheDataDir) {
  EXPECT_EQ(plugin_->Info().name, "worker");
  EXPECT_EQ(plugin_->Info().dependencies, (std::vector<std::string>{"gateway"}));
  EXPECT_EQ(router_->routes.size(), 3u);
  EXPECT_TRUE(router_->routes.count("GET /api/v1/jobs"));
  EXPECT_TRUE(router_->routes.count("GET /api/v1/jobs/{id}"));
  EXPECT_TRUE(router_->routes.count("POST /api/v1/jobs/{id}/retry"));
  EXPECT_TRUE(std::filesystem::exists(dir_.path() / "jobs.sqlite3"));
  EXPECT_EQ(plugin_->CheckHealth().status, HealthStatus::kOk);
}

TEST_F(WorkerPluginTest, AHandlerRegisteredThroughTheRunnerRunsAfterStart) {
  auto handler = std::make_shared<CountingHandler>();
  ASSERT_TRUE(runner_->RegisterHandler("echo", handler));
  ASSERT_TRUE(plugin_->Start());
  auto job = queue_->Enqueue({.type = "echo"});
  ASSERT_TRUE(job);
  ASSERT_TRUE(WaitFor([&] { return queue_->Get(job->id)->state == job_state::kSucceeded; }));
  EXPECT_EQ(handler->runs.load(), 1);
}

TEST_F(WorkerPluginTest, MetricsShowTheQueueDepthAndAttempts) {
  auto handler = std::make_shared<CountingHandler>();
  ASSERT_TRUE(runner_->RegisterHandler("echo", handler));
  Add("alice");  // test.job: no handler here, stays ready
  ASSERT_TRUE(plugin_->Start());
  auto job = queue_->Enqueue({.type = "echo"});
  ASSERT_TRUE(job);
  ASSERT_TRUE(WaitFor([&] { return handler->runs.load() == 1; }));
  ASSERT_TRUE(WaitFor([&] {
    auto text = context_->metrics().RenderPrometheus();
    return text.find(R"(streamgate_jobs{state="ready"} 1)") != std::string::npos &&
           text.find(R"(streamgate_job_attempts_total{type="echo",outcome="succeeded"} 1)") !=
               std::string::npos &&
           text.find(R"(streamgate_job_duration_seconds_count{type="echo"} 1)") !=
               std::string::npos;
  })) << context_->metrics().RenderPrometheus();
}

TEST_F(WorkerPluginTest, AnonymousCallersGet401) {
  Job job = Add("alice");
  EXPECT_EQ(StatusOf(List(kAnonymous)), 401);
  EXPECT_EQ(StatusOf(Get(kAnonymous, job.id)), 401);
  EXPECT_EQ(StatusOf(PostRetry(kAnonymous, job.id)), 401);
}

TEST_F(WorkerPluginTest, AdminsSeeEveryJobOthersOnlyTheirOwn) {
  Job alice1 = Add("alice");
  Job bob1 = Add("bob");
  Job alice2 = Add("alice");
  EXPECT_EQ(ListIds(kAdmin).size(), 3u);
  EXPECT_EQ(ListIds(kAlice), (std::vector<std::string>{alice2.id, alice1.id}));
  EXPECT_EQ(ListIds(kBob), (std::vector<std::string>{bob1.id}));
}

TEST_F(WorkerPluginTest, ListFiltersByStateAndContent) {
  const std::string content = NewId();
  Job with_content = Add("alice", content);
  Add("alice");
  Job dead = AddDead("alice");
  EXPECT_EQ(ListIds(kAlice, {{"content_id", content}}),
            (std::vector<std::string>{with_content.id}));
  EXPECT_EQ(ListIds(kAlice, {{"state", "dead"}}), (std::vector<std::string>{dead.id}));
  EXPECT_EQ(ListIds(kAdmin, {{"type", "test.job"}, {"state", "queued"}}).size(), 2u);
  EXPECT_TRUE(ListIds(kBob, {{"content_id", content}}).empty()) << "owner filter is forced";
}

TEST_F(WorkerPluginTest, ListPagesWithTheCursor) {
  for (int i = 0; i < 5; ++i) {
    Add("alice");
  }
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    std::vector<std::pair<std::string, std::string>> query{{"limit", "2"}};
    if (!cursor.empty()) {
      query.emplace_back("cursor", cursor);
    }
    auto response = List(kAlice, query);
    ASSERT_EQ(StatusOf(response), 200);
    const json::value body = json::parse(response->body);
    for (const auto& item : body.at("items").as_array()) {
      seen.emplace_back(item.at("id").as_string());
    }
    cursor =
        body.at("next_cursor").is_null() ? "" : std::string(body.at("next_cursor").as_string());
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 5u);
}

TEST_F(WorkerPluginTest, ListRejectsBadParameters) {
  EXPECT_EQ(StatusOf(List(kAdmin, {{"state", "sleeping"}})), 400);
  EXPECT_EQ(StatusOf(List(kAdmin, {{"limit", "0"}})), 400);
  EXPECT_EQ(StatusOf(List(kAdmin, {{"limit", "201"}})), 400);
  EXPECT_EQ(StatusOf(List(kAdmin, {{"limit", "ten"}})), 400);
  EXPECT_EQ(StatusOf(List(kAdmin, {{"cursor", "not-a-cursor"}})), 400);
  EXPECT_EQ(StatusOf(List(kAdmin, {{"content_id", "../etc"}})), 400);
  EXPECT_EQ(StatusOf(List(kAdmin, {{"type", "Bad Type"}})), 400);
}

TEST_F(WorkerPluginTest, GetShowsTheJobShapeAndHidesThePayloadFromNonAdmins) {
  const std::string content = NewId();
  Job job = Add("alice", content);
  auto response = Get(kAlice, job.id);
  ASSERT_EQ(StatusOf(response), 200);
  const json::object body = json::parse(response->body).as_object();
  EXPECT_EQ(body.at("id").as_string(), job.id);
  EXPECT_EQ(body.at("type").as_string(), "test.job");
  EXPECT_EQ(body.at("state").as_string(), "queued");
  EXPECT_EQ(body.at("content_id").as_string(), content);
  EXPECT_EQ(body.at("owner").as_string(), "alice");
  EXPECT_EQ(body.at("priority").as_int64(), 0);
  EXPECT_EQ(body.at("attempts").as_int64(), 0);
  EXPECT_EQ(body.at("max_attempts").as_int64(), 1);
  EXPECT_EQ(body.at("last_error").as_string(), "");
  EXPECT_EQ(body.at("progress").as_double(), 0.0);
  EXPECT_TRUE(body.at("eta_seconds").is_null());
  EXPECT_TRUE(body.at("finished_at").is_null());
  EXPECT_TRUE(body.at("result").is_null());
  EXPECT_EQ(body.at("created_at").as_string(), FormatRfc3339(job.created_at));
  EXPECT_EQ(body.at("created_at").as_string().size(), 24u);  // 2026-01-01T00:00:00.000Z
  EXPECT_TRUE(body.contains("updated_at"));
  EXPECT_TRUE(body.contains("not_before"));
  EXPECT_FALSE(body.contains("payload"));

  auto as_admin = Get(kAdmin, job.id);
  ASSERT_EQ(StatusOf(as_admin), 200);
  EXPECT_EQ(json::parse(as_admin->body).at("payload").at("secret").as_string(), "s3");
}

TEST_F(WorkerPluginTest, GetOfAnotherPrincipalsJobIsNotFound) {
  Job job = Add("alice");
  EXPECT_EQ(StatusOf(Get(kBob, job.id)), 404);
  EXPECT_EQ(StatusOf(Get(kAlice, NewId())), 404);
  EXPECT_EQ(StatusOf(Get(kAlice, "NOT-AN-ID")), 400);
}

TEST_F(WorkerPluginTest, FormatsTimesAsRfc3339Utc) {
  const WallTime time{std::chrono::sys_days{std::chrono::year{2026} / 3 / 4} + 5h + 6min + 7s +
                      89ms};
  EXPECT_EQ(FormatRfc3339(time), "2026-03-04T05:06:07.089Z");
}

TEST_F(WorkerPluginTest, RetryIsForAdminsAndOnlyForDeadJobs) {
  Job dead = AddDead("alice");
  Job queued = Add("alice");
  EXPECT_EQ(StatusOf(PostRetry(kAlice, dead.id)), 403);
  EXPECT_EQ(StatusOf(PostRetry(kAdmin, queued.id)), 409);
  EXPECT_EQ(StatusOf(PostRetry(kAdmin, NewId())), 404);
  EXPECT_EQ(StatusOf(PostRetry(kAdmin, "x")), 400);
  auto retried = PostRetry(kAdmin, dead.id);
  ASSERT_EQ(StatusOf(retried), 200);
  const json::object body = json::parse(retried->body).as_object();
  EXPECT_EQ(body.at("state").as_string(), "queued");
  EXPECT_EQ(body.at("attempts").as_int64(), 0);
  EXPECT_EQ(body.at("last_error").as_string(), "cannot decode");
}

TEST_F(WorkerPluginTest, ADeadJobIsPublishedOnTheBus) {
  std::mutex mutex;
  std::vector<std::string> events;
  auto subscription = bus_->Subscribe(std::string(kJobDeadSubject), [&](const BusMessage& m) {
    std::lock_guard lock(mutex);
    events.push_back(m.data);
  });
  ASSERT_TRUE(subscription);
  class Failing final : public JobHandler {
   public:
    Result<std::string> Run(JobContext&) override {
      return MakeError(ErrorCode::kInvalidArgument, "not a video");
    }
  };
  ASSERT_TRUE(runner_->RegisterHandler("doomed", std::make_shared<Failing>()));
  ASSERT_TRUE(plugin_->Start());
  auto job = queue_->Enqueue({.type = "doomed", .content_id = NewId(), .max_attempts = 1});
  ASSERT_TRUE(job);
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(mutex);
    return events.size() == 1;
  }));
  std::lock_guard lock(mutex);
  const json::value event = json::parse(events[0]);
  EXPECT_EQ(event.at("job_id").as_string(), job->id);
  EXPECT_EQ(event.at("content_id").as_string(), job->content_id);
  EXPECT_EQ(event.at("error").as_string(), "not a video");
}

TEST(WorkerConfigTest, HeartbeatMustBeShorterThanTheVisibilityTimeout) {
  WorkerConfig config;
  config.heartbeat_interval = 30'000ms;
  config.visibility_timeout = 30'000ms;
  auto result = config.Validate();
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("heartbeat_interval"), std::string::npos);
  EXPECT_TRUE(WorkerConfig{}.Validate());
}

TEST(WorkerConfigTest, MinWorkersMustNotExceedMaxWorkers) {
  WorkerConfig config;
  config.min_workers = 4;
  config.max_workers = 2;
  EXPECT_FALSE(config.Validate());
}

TEST(WorkerPluginInitTest, InitFailsWithoutTheRouter) {
  auto context = std::make_unique<sg::testing::TestPluginContext>(
      sg::testing::TestPluginContext::MakeConfig(WorkerConfig{}));
  auto plugin = MakeWorkerPlugin();
  auto result = plugin->Init(*context);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kNotFound);
  plugin->Stop(SteadyTime::max());
}

}  // namespace
}  // namespace sg::plugins::worker
