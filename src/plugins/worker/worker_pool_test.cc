#include "plugins/worker/worker_pool.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <boost/json.hpp>

#include <atomic>
#include <mutex>
#include <stdexcept>

#include "core/memory_event_bus.h"
#include "core/metrics_registry.h"
#include "core/testing/fake_clock.h"
#include "plugins/worker/sqlite_job_queue.h"
#include "plugins/worker/test_util.h"

namespace sg::plugins::worker {
namespace {

using namespace std::chrono_literals;
using testing::WaitFor;

class FnHandler final : public JobHandler {
 public:
  using RunFn = std::function<Result<std::string>(JobContext&)>;
  explicit FnHandler(RunFn run) : run_(std::move(run)) {}
  Result<std::string> Run(JobContext& context) override { return run_(context); }
  void OnDeadLetter(const Job& job) override {
    std::lock_guard lock(mutex_);
    dead_.push_back(job);
  }
  std::vector<Job> dead() const {
    std::lock_guard lock(mutex_);
    return dead_;
  }

 private:
  RunFn run_;
  mutable std::mutex mutex_;
  std::vector<Job> dead_;
};

// Forwards to a real queue; heartbeats can be made to report a lost lease.
class LosingQueue final : public JobQueue {
 public:
  explicit LosingQueue(std::shared_ptr<JobQueue> inner) : inner_(std::move(inner)) {}
  Result<Job> Enqueue(const JobSpec& spec) override { return inner_->Enqueue(spec); }
  Result<std::optional<JobLease>> Lease(const std::vector<std::string>& types,
                                        std::string_view worker_id,
                                        Duration visibility_timeout) override {
    return inner_->Lease(types, worker_id, visibility_timeout);
  }
  Result<> Heartbeat(JobLease& lease, Duration extension,
                     std::optional<JobProgress> progress) override {
    heartbeats.fetch_add(1);
    if (lose.load()) {
      return MakeError(ErrorCode::kAlreadyExists, "lease lost: job {} was taken over",
                       lease.job.id);
    }
    return inner_->Heartbeat(lease, extension, progress);
  }
  Result<Job> Ack(const JobLease& lease, std::string result_json) override {
    acks.fetch_add(1);
    return inner_->Ack(lease, std::move(result_json));
  }
  Result<Job> Nack(const JobLease& lease, std::string_view reason, std::optional<Duration> delay,
                   bool permanent) override {
    nacks.fetch_add(1);
    return inner_->Nack(lease, reason, delay, permanent);
  }
  Result<Job> Get(std::string_view id) override { return inner_->Get(id); }
  Result<JobPage> List(const JobQuery& query) override { return inner_->List(query); }
  Result<Job> Retry(std::string_view id) override { return inner_->Retry(id); }
  Result<JobCounts> Counts(const std::vector<std::string>& types) override {
    return inner_->Counts(types);
  }

  std::atomic<bool> lose{false};
  std::atomic<int> heartbeats{0};
  std::atomic<int> acks{0};
  std::atomic<int> nacks{0};

 private:
  std::shared_ptr<JobQueue> inner_;
};

class WorkerPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    logger_ =
        std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
    bus_ = std::make_shared<core::InMemoryEventBus>(core::InMemoryEventBus::Options{}, logger_,
                                                    metrics_);
    auto subscription = bus_->Subscribe(std::string(kJobDeadSubject), [this](const BusMessage& m) {
      std::lock_guard lock(events_mutex_);
      events_.push_back(m.data);
    });
    ASSERT_TRUE(subscription);
    subscription_ = std::move(*subscription);
    OpenQueue(system_clock_);
  }

  void TearDown() override {
    for (auto& pool : pools_) {
      pool->Stop(std::chrono::steady_clock::now() + 5s);
    }
    pools_.clear();
    subscription_.reset();
    bus_->Close(std::chrono::steady_clock::now() + 5s);
  }

  void OpenQueue(const Clock& clock) {
    SqliteJobQueue::Options options;
    options.path = dir_.path() / "jobs.sqlite3";
    options.default_max_attempts = 3;
    options.backoff = {.initial = 1ms, .max = 5ms, .multiplier = 2.0, .jitter = 0.2};
    auto opened = SqliteJobQueue::Open(options, clock, random_);
    ASSERT_TRUE(opened) << opened.error().ToString();
    queue_ = *opened;
  }

  WorkerPoolOptions FastOptions() {
    WorkerPoolOptions options;
    options.min_workers = 1;
    options.max_workers = 2;
    options.visibility_timeout = 5s;
    options.heartbeat_interval = 20ms;
    options.idle_poll_interval = 5ms;
    options.idle_worker_timeout = 50ms;
    options.release = [q = queue_](const JobLease& lease, std::string_view reason) {
      return q->Release(lease, reason);
    };
    return options;
  }

  WorkerPool& MakePool(WorkerPoolOptions options, const Clock& clock,
                       std::shared_ptr<JobQueue> queue = nullptr) {
    pools_.push_back(std::make_unique<WorkerPool>(queue ? queue : queue_, clock, bus_, logger_,
                                                  &metrics_, std::move(options)));
    return *pools_.back();
  }

  Job Add(std::string type, int max_attempts = 0) {
    auto job = queue_->Enqueue({.type = std::move(type), .max_attempts = max_attempts});
    EXPECT_TRUE(job) << job.error().ToString();
    return job ? *job : Job{};
  }

  std::string StateOf(const std::string& id) {
    auto job = queue_->Get(id);
    return job ? job->state : job.error().ToString();
  }

  double Attempts(std::string_view type, std::string_view outcome) {
    return metrics_.CounterFamily("streamgate_job_attempts_total", "", {"type", "outcome"})
        .WithLabels({type, outcome})
        .Value();
  }

  std::vector<std::string> Events() {
    std::lock_guard lock(events_mutex_);
    return events_;
  }

  testing::TempDir dir_;
  SystemClock system_clock_;
  sg::testing::FakeClock fake_clock_;
  SystemRandom random_;
  core::PrometheusMetricsRegistry metrics_;
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<core::InMemoryEventBus> bus_;
  std::unique_ptr<BusSubscription> subscription_;
  std::mutex events_mutex_;
  std::vector<std::string> events_;
  std::shared_ptr<SqliteJobQueue> queue_;
  std::vector<std::unique_ptr<WorkerPool>> pools_;
};

TEST_F(WorkerPoolTest, AJobRunsAndIsAckedWithItsResult) {
  auto& pool = MakePool(FastOptions(), system_clock_);
  auto handler = std::make_shared<FnHandler>([](JobContext& context) -> Result<std::string> {
    return fmt::format(R"({{"attempt":{}}})", context.attempt());
  });
  ASSERT_TRUE(pool.RegisterHandler("echo", handler));
  ASSERT_TRUE(pool.Start());
  Job job = Add("echo");
  ASSERT_TRUE(WaitFor([&] { return StateOf(job.id) == job_state::kSucceeded; }));
  EXPECT_EQ(queue_->Get(job.id)->result, R"({"attempt":1})");
  EXPECT_TRUE(WaitFor([&] { return Attempts("echo", "succeeded") == 1; }));
}

TEST_F(WorkerPoolTest, RegisteringATypeTwiceIsAlreadyExists) {
  auto& pool = MakePool(FastOptions(), system_clock_);
  auto handler =
      std::make_shared<FnHandler>([](JobContext&) -> Result<std::string> { return std::string(); });
  ASSERT_TRUE(pool.RegisterHandler("echo", handler));
  auto again = pool.RegisterHandler("echo", handler);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
}

TEST_F(WorkerPoolTest, WorkersLeaseOnlyRegisteredTypes) {
  auto& pool = MakePool(FastOptions(), system_clock_);
  ASSERT_TRUE(pool.RegisterHandler(
      "echo", std::make_shared<FnHandler>([](JobContext&) -> Result<std::string> { return ""; })));
  ASSERT_TRUE(pool.Start());
  Job foreign = Add("transcode");
  Job mine = Add("echo");
  ASSERT_TRUE(WaitFor([&] { return StateOf(mine.id) == job_state::kSucceeded; }));
  EXPECT_EQ(StateOf(foreign.id), job_state::kQueued);
  EXPECT_EQ(queue_->Get(foreign.id)->attempts, 0);
}

TEST_F(WorkerPoolTest, AFailingJobIsRetriedThenDeadLetteredAndAnnounced) {
  auto& pool = MakePool(FastOptions(), system_clock_);
  auto handler = std::make_shared<FnHandler>([](JobContext& context) -> Result<std::string> {
    return MakeError(ErrorCode::kInternal, "boom {}", context.attempt());
  });
  ASSERT_TRUE(pool.RegisterHandler("flaky", handler));
  ASSERT_TRUE(pool.Start());
  Job job = Add("flaky", 3);
  ASSERT_TRUE(WaitFor([&] { return handler->dead().size() == 1; }));
  Job dead = handler->dead()[0];
  EXPECT_EQ(dead.id, job.id);
  EXPECT_EQ(dead.state, job_state::kDead);
  EXPECT_EQ(dead.attempts, 3);
  EXPECT_EQ(dead.last_error, "boom 3");
  ASSERT_TRUE(WaitFor([&] { return Events().size() == 1; }));
  auto event = boost::json::parse(Events()[0]).as_object();
  EXPECT_EQ(event.at("job_id").as_string(), job.id);
  EXPECT_EQ(event.at("type").as_string(), "flaky");
  EXPECT_EQ(event.at("state").as_string(), "dead");
  EXPECT_EQ(event.at("error").as_string(), "boom 3");
  EXPECT_EQ(Attempts("flaky", "failed"), 2);
  EXPECT_EQ(Attempts("flaky", "dead"), 1);
}

TEST_F(WorkerPoolTest, AnExceptionFromAHandlerIsAFailedAttempt) {
  auto& pool = MakePool(FastOptions(), system_clock_);
  auto handler = std::make_shared<FnHandler>(
      [](JobContext&) -> Result<std::string> { throw std::runtime_error("kaboom"); });
  ASSERT_TRUE(pool.RegisterHandler("thrower", handler));
  ASSERT_TRUE(pool.Start());
  Job job = Add("thrower", 1);
  ASSERT_TRUE(WaitFor([&] { return StateOf(job.id) == job_state::kDead; }));
  EXPECT_NE(queue_->Get(job.id)->last_error.find("kaboom"), std::string::npos);
  // OnDeadLetter runs after the queue recorded the dead job, on the worker's thread.
  EXPECT_TRUE(WaitFor([&] { return handler->dead().size() == 1u; }));
}

TEST_F(WorkerPoolTest, AnAttemptPastItsTimeoutIsCancelledAndFails) {
  auto& pool = MakePool(FastOptions(), system_clock_);
  std::atomic<bool> saw_cancel{false};
  auto handler = std::make_shared<FnHandler>([&](JobContext& context) -> Result<std::string> {
    if (!WaitFor([&] { return context.cancelled(); }, 5s)) {
      return MakeError(ErrorCode::kInternal, "never cancelled");
    }
    saw_cancel = true;
    return std::string(R"({"ignored":true})");  // what a cancelled attempt returns is ignored
  });
  ASSERT_TRUE(pool.RegisterHandler("slow", handler, {.timeout = 50ms}));
  ASSERT_TRUE(pool.Start());
  Job job = Add("slow", 1);
  ASSERT_TRUE(WaitFor([&] { return StateOf(job.id) == job_state::kDead; }));
  EXPECT_TRUE(saw_cancel);
  EXPECT_EQ(queue_->Get(job.id)->last_error, "timed out after 50ms");
  EXPECT_EQ(queue_->Get(job.id)->result, "");
}

TEST_F(WorkerPoolTest, HeartbeatsKeepTheLeaseAndCarryProgress) {
  auto options = FastOptions();
  options.visibility_timeout = 200ms;
  auto& pool = MakePool(options, system_clock_);
  std::atomic<bool> finish{false};
  auto handler = std::make_shared<FnHandler>([&](JobContext& context) -> Result<std::string> {
    context.ReportProgress({.fraction = 0.25, .eta_seconds = 3});
    WaitFor([&] { return finish.load(); }, 10s);
    return std::string();
  });
  ASSERT_TRUE(pool.RegisterHandler("long", handler));
  ASSERT_TRUE(pool.Start());
  Job job = Add("long");
  ASSERT_TRUE(WaitFor([&] { return queue_->Get(job.id)->progress == 0.25; }));
  // Well past the visibility timeout the lease is still held thanks to the heartbeats.
  const auto until = std::chrono::steady_clock::now() + 600ms;
  while (std::chrono::steady_clock::now() < until) {
    auto stolen = queue_->Lease({"long"}, "intruder", 1s);
    ASSERT_TRUE(stolen);
    ASSERT_FALSE(*stolen) << "the lease expired while the job ran";
    WaitFor([] { return false; }, 20ms);
  }
  EXPECT_EQ(queue_->Get(job.id)->eta_seconds, 3.0);
  finish = true;
  ASSERT_TRUE(WaitFor([&] { return StateOf(job.id) == job_state::kSucceeded; }));
  EXPECT_EQ(queue_->Get(job.id)->attempts, 1);
}

TEST_F(WorkerPoolTest, ALostLeaseCancelsTheAttemptWithoutAckOrNack) {
  auto losing = std::make_shared<LosingQueue>(queue_);
  auto& pool = MakePool(FastOptions(), system_clock_, losing);
  std::atomic<bool> started{false};
  auto handler = std::make_shared<FnHandler>([&](JobContext& context) -> Result<std::string> {
    started = true;
    WaitFor([&] { return context.cancelled(); }, 10s);
    return MakeError(ErrorCode::kInternal, "cut short");
  });
  ASSERT_TRUE(pool.RegisterHandler("victim", handler));
  ASSERT_TRUE(pool.Start());
  Job job = Add("victim");
  ASSERT_TRUE(WaitFor([&] { return started.load(); }));
  losing->lose = true;
  ASSERT_TRUE(WaitFor([&] { return Attempts("victim", "cancelled") == 1; }));
  EXPECT_EQ(losing->acks.load(), 0);
  EXPECT_EQ(losing->nacks.load(), 0);
  EXPECT_EQ(StateOf(job.id), job_state::kRunning) << "left to whoever holds the lease now";
}

TEST_F(WorkerPoolTest, StopCancelsARunningJobAndGivesTheAttemptBack) {
  auto& pool = MakePool(FastOptions(), system_clock_);
  std::atomic<bool> started{false};
  std::atomic<bool> saw_cancel{false};
  auto handler = std::make_shared<FnHandler>([&](JobContext& context) -> Result<std::string> {
    started = true;
    saw_cancel = WaitFor([&] { return context.cancelled(); }, 10s);
    return MakeError(ErrorCode::kInternal, "cancelled");
  });
  ASSERT_TRUE(pool.RegisterHandler("long", handler));
  ASSERT_TRUE(pool.Start());
  Job job = Add("long", 1);
  ASSERT_TRUE(WaitFor([&] { return started.load(); }));
  const auto before = std::chrono::steady_clock::now();
  pool.Stop(before + 5s);
  EXPECT_LT(std::chrono::steady_clock::now() - before, 2s);
  EXPECT_TRUE(saw_cancel);
  Job stored = *queue_->Get(job.id);
  EXPECT_EQ(stored.state, job_state::kQueued) << "not a failure, not dead";
  EXPECT_EQ(stored.attempts, 0) << "the interrupted attempt is not counted";
  EXPECT_EQ(Attempts("long", "cancelled"), 1);
  EXPECT_EQ(pool.worker_count(), 0u);
}

TEST_F(WorkerPoolTest, ConcurrencyGrowsToMaxUnderLoadNeverAboveAndShrinksWhenIdle) {
  auto options = FastOptions();
  options.min_workers = 1;
  options.max_workers = 3;
  auto& pool = MakePool(options, system_clock_);
  std::mutex mutex;
  int concurrent = 0;
  int peak = 0;
  std::atomic<bool> open{false};
  auto handler = std::make_shared<FnHandler>([&](JobContext&) -> Result<std::string> {
    {
      std::lock_guard lock(mutex);
      peak = std::max(peak, ++concurrent);
    }
    WaitFor([&] { return open.load(); }, 10s);
    std::lock_guard lock(mutex);
    --concurrent;
    return std::string();
  });
  ASSERT_TRUE(pool.RegisterHandler("load", handler));
  ASSERT_TRUE(pool.Start());
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) {
    ids.push_back(Add("load").id);
  }
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(mutex);
    return concurrent == 3;
  }));
  EXPECT_EQ(pool.worker_count(), 3u);
  open = true;
  ASSERT_TRUE(WaitFor([&] {
    return std::all_of(ids.begin(), ids.end(),
                       [&](const std::string& id) { return StateOf(id) == job_state::kSucceeded; });
  }));
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(peak, 3);
  }
  EXPECT_TRUE(WaitFor([&] { return pool.worker_count() == 1; }))
      << "idle workers above min_workers exit";
}

TEST_F(WorkerPoolTest, EnqueueWakesAnIdleWorkerWithoutWaitingForThePoll) {
  auto options = FastOptions();
  options.idle_poll_interval = 30s;
  auto& pool = MakePool(options, system_clock_);
  queue_->SetListener({.on_ready = [&pool](const Job&) { pool.Wake(); }});
  ASSERT_TRUE(pool.RegisterHandler(
      "echo", std::make_shared<FnHandler>([](JobContext&) -> Result<std::string> { return ""; })));
  ASSERT_TRUE(pool.Start());
  ASSERT_TRUE(WaitFor([&] { return pool.worker_count() == 1; }));
  WaitFor([] { return false; }, 50ms);  // let the worker go idle on its 30 s poll
  Job job = Add("echo");
  EXPECT_TRUE(WaitFor([&] { return StateOf(job.id) == job_state::kSucceeded; }, 5s));
  queue_->SetListener({});
}

TEST_F(WorkerPoolTest, ALeaseThatKeepsExpiringReachesOnDeadLetterThroughTheQueue) {
  auto& pool = MakePool(FastOptions(), system_clock_);
  auto handler =
      std::make_shared<FnHandler>([](JobContext&) -> Result<std::string> { return std::string(); });
  ASSERT_TRUE(pool.RegisterHandler("ghost", handler));
  queue_->SetListener({.on_dead_lettered = [&pool](const Job& j) { pool.NotifyDeadLettered(j); }});
  Job job = Add("ghost", 1);
  // A worker that died mid-attempt: leased once with a tiny visibility timeout.
  auto lease = queue_->Lease({"ghost"}, "dead-node", 1ms);
  ASSERT_TRUE(lease && *lease);
  WaitFor([] { return false; }, 5ms);
  ASSERT_TRUE(pool.Start());
  ASSERT_TRUE(WaitFor([&] { return handler->dead().size() == 1; }));
  EXPECT_EQ(handler->dead()[0].last_error, "lease expired 1 times");
  EXPECT_TRUE(WaitFor([&] { return Events().size() == 1; }));
  queue_->SetListener({});
}

TEST_F(WorkerPoolTest, PeriodicJobsAreEnqueuedOncePerSlotAcrossNodes) {
  auto& clock = fake_clock_;
  OpenQueue(clock);
  std::atomic<int> runs{0};
  auto handler = std::make_shared<FnHandler>([&](JobContext&) -> Result<std::string> {
    ++runs;
    return std::string();
  });
  auto options = FastOptions();
  auto& node_a = MakePool(options, clock);
  ASSERT_TRUE(node_a.RegisterHandler("tick", handler));
  ASSERT_TRUE(node_a.SchedulePeriodic("tick", 1min));
  ASSERT_TRUE(node_a.Start());  // enqueues the current slot at once
  auto& node_b = MakePool(options, clock);
  ASSERT_TRUE(node_b.SchedulePeriodic("tick", 1min));
  ASSERT_TRUE(node_b.Start());  // the same slot: nothing new

  auto page = queue_->List({.type = "tick"});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->items.size(), 1u);
  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock.WallNow().time_since_epoch())
          .count();
  EXPECT_EQ(page->items[0].idempotency_key, fmt::format("tick@{}", now_ms / 60'000 * 60'000));
  ASSERT_TRUE(WaitFor([&] { return runs.load() == 1; }));

  clock.Advance(1min);
  ASSERT_TRUE(WaitFor([&] { return runs.load() == 2; }));
  page = queue_->List({.type = "tick"});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->items.size(), 2u);
  EXPECT_NE(page->items[0].idempotency_key, page->items[1].idempotency_key);
  for (auto& pool : pools_) {
    pool->Stop(std::chrono::steady_clock::now() + 5s);
  }
  EXPECT_EQ(runs.load(), 2);
}

TEST_F(WorkerPoolTest, SchedulePeriodicAfterStartIsRefused) {
  auto& pool = MakePool(FastOptions(), system_clock_);
  ASSERT_TRUE(pool.Start());
  EXPECT_FALSE(pool.SchedulePeriodic("tick", 1min));
}

}  // namespace
}  // namespace sg::plugins::worker
