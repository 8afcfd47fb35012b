#include "plugins/worker/worker_pool.h"

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

namespace sg::plugins::worker {
namespace {

namespace json = boost::json;

enum class CancelReason : int { kNone = 0, kStopping, kLeaseLost, kTimedOut };

std::int64_t ToMs(WallTime time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

// "2h", "90s", "250ms": for "timed out after ..." messages people read.
std::string HumanDuration(Duration duration) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(duration).count();
  if (ms % 3'600'000 == 0 && ms != 0) {
    return fmt::format("{}h", ms / 3'600'000);
  }
  if (ms % 60'000 == 0 && ms != 0) {
    return fmt::format("{}m", ms / 60'000);
  }
  if (ms % 1000 == 0) {
    return fmt::format("{}s", ms / 1000);
  }
  return fmt::format("{}ms", ms);
}

class Attempt final : public JobContext {
 public:
  Attempt(JobLease lease, SteadyTime started, Duration timeout)
      : job_(lease.job), lease_(std::move(lease)), started_(started), timeout_(timeout) {}

  const Job& job() const noexcept override { return job_; }
  void ReportProgress(JobProgress progress) override {
    std::lock_guard lock(mutex_);
    progress_ = progress;
  }
  bool cancelled() const noexcept override {
    return reason_.load() != static_cast<int>(CancelReason::kNone);
  }

  void Cancel(CancelReason reason) noexcept {
    int expected = static_cast<int>(CancelReason::kNone);
    reason_.compare_exchange_strong(expected, static_cast<int>(reason));
  }
  CancelReason reason() const noexcept { return static_cast<CancelReason>(reason_.load()); }

  JobLease lease() const {
    std::lock_guard lock(mutex_);
    return lease_;
  }
  std::optional<JobProgress> progress() const {
    std::lock_guard lock(mutex_);
    return progress_;
  }
  void ExtendedTo(WallTime expires_at) {
    std::lock_guard lock(mutex_);
    lease_.expires_at = expires_at;
  }

  SteadyTime started() const { return started_; }
  Duration timeout() const { return timeout_; }
  SteadyTime deadline() const { return started_ + timeout_; }
  // Only the dispatcher thread reads and writes it.
  SteadyTime next_heartbeat{};

 private:
  const Job job_;
  mutable std::mutex mutex_;
  JobLease lease_;
  std::optional<JobProgress> progress_;
  std::atomic<int> reason_{static_cast<int>(CancelReason::kNone)};
  SteadyTime started_;
  Duration timeout_;
};

struct Registration {
  std::shared_ptr<JobHandler> handler;
  JobTypeOptions options;
};

struct Periodic {
  std::string type;
  Duration interval;
  std::string payload;
  std::optional<std::int64_t> enqueued_slot;
};

}  // namespace

struct WorkerPool::State {
  std::shared_ptr<JobQueue> queue;
  const Clock* clock = nullptr;
  std::shared_ptr<EventBus> bus;
  std::shared_ptr<spdlog::logger> logger;
  WorkerPoolOptions options;

  MetricFamily<Counter>* attempts_family = nullptr;
  MetricFamily<Histogram>* duration_family = nullptr;
  MetricFamily<Gauge>* jobs_family = nullptr;
  Gauge* workers_gauge = nullptr;

  mutable std::mutex mutex;
  std::condition_variable cv;      // workers and dispatcher wait here
  std::condition_variable exited;  // Stop waits here for threads to end
  std::map<std::string, Registration> handlers;
  std::vector<std::string> types;
  std::vector<Periodic> periodic;
  std::vector<std::shared_ptr<Attempt>> running;
  std::uint64_t wake_seq = 0;      // bumped when workers should look for work
  std::uint64_t dispatch_seq = 0;  // bumped when the dispatcher should re-plan
  bool started = false;
  bool stopping = false;
  bool stopped = false;
  std::size_t workers = 0;
  std::size_t busy = 0;
  std::size_t live_threads = 0;
  std::size_t next_worker = 0;
  std::map<std::size_t, std::thread> worker_threads;
  std::vector<std::size_t> finished_workers;
  std::thread dispatcher;

  // ---- periodic jobs

  static std::int64_t IntervalMs(const Periodic& p) {
    return std::max<std::int64_t>(
        1, std::chrono::duration_cast<std::chrono::milliseconds>(p.interval).count());
  }

  void EnqueueDueSlots() {
    // Wall time (not steady): every node must agree on the slot boundaries.
    const std::int64_t now_ms = ToMs(clock->WallNow());
    std::vector<Periodic*> due;
    {
      std::lock_guard lock(mutex);
      for (auto& p : periodic) {
        if (p.enqueued_slot != now_ms / IntervalMs(p)) {
          due.push_back(&p);
        }
      }
    }
    // SchedulePeriodic refuses calls after Start, so these pointers stay valid unlocked.
    for (Periodic* p : due) {
      const std::int64_t slot = now_ms / IntervalMs(*p);
      const std::int64_t slot_start = slot * IntervalMs(*p);
      JobSpec spec;
      spec.type = p->type;
      spec.payload = p->payload;
      spec.idempotency_key = fmt::format("{}@{}", p->type, slot_start);
      spec.not_before = WallTime(
          std::chrono::duration_cast<WallTime::duration>(std::chrono::milliseconds(slot_start)));
      {
        std::lock_guard lock(mutex);
        if (auto it = handlers.find(p->type); it != handlers.end()) {
          spec.max_attempts = it->second.options.max_attempts;
        }
      }
      auto job = queue->Enqueue(spec);
      if (!job) {
        logger->warn("cannot schedule periodic job {}: {}", p->type, job.error().ToString());
        continue;
      }
      std::lock_guard lock(mutex);
      p->enqueued_slot = slot;
    }
  }

  // ---- heartbeats and timeouts

  // Returns when the dispatcher must look again at the running attempts.
  SteadyTime TendAttempts() {
    std::vector<std::shared_ptr<Attempt>> attempts;
    {
      std::lock_guard lock(mutex);
      attempts = running;
    }
    SteadyTime next = SteadyTime::max();
    for (auto& attempt : attempts) {
      const SteadyTime now = clock->Now();
      if (!attempt->cancelled() && now >= attempt->deadline()) {
        attempt->Cancel(CancelReason::kTimedOut);
      }
      if (attempt->cancelled()) {
        continue;  // its worker finishes it; no heartbeat keeps a cancelled attempt alive
      }
      if (now >= attempt->next_heartbeat) {
        JobLease lease = attempt->lease();
        auto beat = queue->Heartbeat(lease, options.visibility_timeout, attempt->progress());
        if (beat) {
          attempt->ExtendedTo(lease.expires_at);
        } else if (beat.error().code == ErrorCode::kAlreadyExists) {
          logger->warn("job {} ({}): {}; abandoning the attempt", lease.job.id, lease.job.type,
                       beat.error().message);
          attempt->Cancel(CancelReason::kLeaseLost);
          continue;
        } else {
          logger->warn("heartbeat of job {} failed: {}", lease.job.id, beat.error().ToString());
        }
        attempt->next_heartbeat = now + options.heartbeat_interval;
      }
      next = std::min({next, attempt->next_heartbeat, attempt->deadline()});
    }
    return next;
  }

  // ---- scaling

  void Scale(const std::shared_ptr<State>& self) {
    std::vector<std::string> leasable;
    std::size_t idle = 0;
    std::size_t room = 0;
    {
      std::lock_guard lock(mutex);
      if (stopping) {
        return;
      }
      leasable = types;
      idle = workers - busy;
      room = options.max_workers > workers ? options.max_workers - workers : 0;
      while (workers < options.min_workers) {
        SpawnWorkerLocked(self);
        --room;
      }
    }
    if (room == 0 || leasable.empty()) {
      return;
    }
    auto counts = queue->Counts(leasable);
    if (!counts) {
      logger->warn("cannot read the queue depth: {}", counts.error().ToString());
      return;
    }
    if (counts->ready <= idle) {
      return;
    }
    const auto wanted = static_cast<std::size_t>(
        std::min<std::uint64_t>(counts->ready - idle, static_cast<std::uint64_t>(room)));
    std::lock_guard lock(mutex);
    for (std::size_t i = 0; i < wanted && !stopping && workers < options.max_workers; ++i) {
      SpawnWorkerLocked(self);
    }
  }

  void SpawnWorkerLocked(const std::shared_ptr<State>& self) {
    const std::size_t number = next_worker++;
    ++workers;
    ++live_threads;
    worker_threads.emplace(number, std::thread([self, number] { self->WorkerLoop(number); }));
    if (workers_gauge != nullptr) {
      workers_gauge->Set(static_cast<double>(workers));
    }
  }

  void ReapFinishedWorkers() {
    std::vector<std::thread> done;
    {
      std::lock_guard lock(mutex);
      for (std::size_t number : finished_workers) {
        auto it = worker_threads.find(number);
        if (it != worker_threads.end()) {
          done.push_back(std::move(it->second));
          worker_threads.erase(it);
        }
      }
      finished_workers.clear();
    }
    for (auto& thread : done) {
      thread.join();  // it already left its loop: this returns at once
    }
  }

  void RefreshGauges(SteadyTime& next_refresh) {
    if (jobs_family == nullptr || clock->Now() < next_refresh) {
      return;
    }
    next_refresh = clock->Now() + options.metrics_refresh_interval;
    auto counts = queue->Counts({});
    if (!counts) {
      return;
    }
    jobs_family->WithLabels({"ready"}).Set(static_cast<double>(counts->ready));
    jobs_family->WithLabels({"delayed"}).Set(static_cast<double>(counts->delayed));
    jobs_family->WithLabels({"running"}).Set(static_cast<double>(counts->running));
    jobs_family->WithLabels({"dead"}).Set(static_cast<double>(counts->dead));
  }

  void DispatchLoop(const std::shared_ptr<State>& self) {
    SteadyTime next_refresh{};
    for (;;) {
      std::uint64_t seen = 0;
      {
        std::lock_guard lock(mutex);
        if (stopping) {
          break;
        }
        seen = dispatch_seq;
      }
      ReapFinishedWorkers();
      EnqueueDueSlots();
      const SteadyTime attempts_due = TendAttempts();
      Scale(self);
      RefreshGauges(next_refresh);

      const SteadyTime now = clock->Now();
      Duration wait = options.idle_poll_interval;
      if (attempts_due != SteadyTime::max()) {
        wait = std::min(wait, std::max(Duration::zero(), attempts_due - now));
      }
      wait = std::max(wait, Duration(std::chrono::milliseconds(1)));
      std::unique_lock lock(mutex);
      cv.wait_for(lock, wait, [&] { return stopping || dispatch_seq != seen; });
    }
    ThreadExited();
  }

  // ---- workers

  void WorkerLoop(std::size_t number) {
    const std::string worker_id = fmt::format("{}/w{}", options.node_id, number);
    SteadyTime idle_since = clock->Now();
    for (;;) {
      std::vector<std::string> leasable;
      std::uint64_t seen = 0;
      {
        std::lock_guard lock(mutex);
        if (stopping) {
          break;
        }
        leasable = types;
        seen = wake_seq;
      }
      if (!leasable.empty()) {
        auto lease = queue->Lease(leasable, worker_id, options.visibility_timeout);
        if (!lease) {
          logger->warn("{}: lease failed: {}", worker_id, lease.error().ToString());
        } else if (*lease) {
          RunAttempt(std::move(**lease));
          idle_since = clock->Now();
          continue;
        }
      }
      std::unique_lock lock(mutex);
      if (stopping) {
        break;
      }
      if (workers > options.min_workers &&
          clock->Now() - idle_since >= options.idle_worker_timeout) {
        break;
      }
      cv.wait_for(lock, options.idle_poll_interval, [&] { return stopping || wake_seq != seen; });
    }
    {
      std::lock_guard lock(mutex);
      --workers;
      finished_workers.push_back(number);
      if (workers_gauge != nullptr) {
        workers_gauge->Set(static_cast<double>(workers));
      }
    }
    ThreadExited();
  }

  void ThreadExited() {
    {
      std::lock_guard lock(mutex);
      --live_threads;
    }
    exited.notify_all();
  }

  void Record(const std::string& type, std::string_view outcome, Duration elapsed) {
    if (attempts_family != nullptr) {
      attempts_family->WithLabels({type, outcome}).Inc();
    }
    if (duration_family != nullptr) {
      duration_family->WithLabels({type}).Observe(std::chrono::duration<double>(elapsed).count());
    }
  }

  void RunAttempt(JobLease lease) {
    Registration registration;
    {
      std::lock_guard lock(mutex);
      auto it = handlers.find(lease.job.type);
      if (it != handlers.end()) {
        registration = it->second;
      }
    }
    if (!registration.handler) {  // cannot happen: only registered types are leased
      (void)queue->Nack(lease, "no handler registered for this job type");
      return;
    }
    auto attempt =
        std::make_shared<Attempt>(std::move(lease), clock->Now(), registration.options.timeout);
    attempt->next_heartbeat = attempt->started() + options.heartbeat_interval;
    {
      std::lock_guard lock(mutex);
      running.push_back(attempt);
      ++busy;
      ++dispatch_seq;  // the dispatcher plans this attempt's heartbeat and timeout
      if (stopping) {
        attempt->Cancel(CancelReason::kStopping);
      }
    }
    cv.notify_all();

    Result<std::string> outcome = MakeError(ErrorCode::kInternal, "not run");
    try {
      outcome = registration.handler->Run(*attempt);
    } catch (const std::exception& e) {
      outcome = MakeError(ErrorCode::kInternal, "handler threw: {}", e.what());
    } catch (...) {
      outcome = MakeError(ErrorCode::kInternal, "handler threw a non-standard exception");
    }
    {
      std::lock_guard lock(mutex);
      running.erase(std::remove(running.begin(), running.end(), attempt), running.end());
      --busy;
    }
    const Duration elapsed = clock->Now() - attempt->started();
    Finish(*attempt, registration, std::move(outcome), elapsed);
  }

  void Finish(const Attempt& attempt, const Registration& registration, Result<std::string> outcome,
              Duration elapsed) {
    const Job& job = attempt.job();
    const JobLease lease = attempt.lease();
    switch (attempt.reason()) {
      case CancelReason::kStopping: {
        Record(job.type, "cancelled", elapsed);
        if (options.release) {
          auto released = options.release(lease, "interrupted: the server stopped");
          if (!released) {
            logger->warn("job {}: cannot release the attempt: {}", job.id,
                         released.error().ToString());
          }
        }
        return;
      }
      case CancelReason::kLeaseLost:
        Record(job.type, "cancelled", elapsed);
        return;
      case CancelReason::kTimedOut:
        outcome = MakeError(ErrorCode::kUnavailable, "timed out after {}",
                            HumanDuration(attempt.timeout()));
        break;
      case CancelReason::kNone:
        break;
    }
    if (outcome) {
      auto acked = queue->Ack(lease, *outcome);
      if (acked) {
        Record(job.type, "succeeded", elapsed);
        return;
      }
      if (acked.error().code == ErrorCode::kAlreadyExists) {
        logger->warn("job {} ({}) finished but {}", job.id, job.type, acked.error().message);
        Record(job.type, "cancelled", elapsed);
        return;
      }
      // The result could not be stored (e.g. not JSON): a failed attempt.
      outcome = MakeError(acked.error());
    }
    auto nacked = queue->Nack(lease, outcome.error().message);
    if (!nacked) {
      logger->warn("job {} ({}): cannot record the failure \"{}\": {}", job.id, job.type,
                   outcome.error().message, nacked.error().ToString());
      Record(job.type, "failed", elapsed);
      return;
    }
    if (nacked->state == job_state::kDead) {
      Record(job.type, "dead", elapsed);
      logger->error("job {} ({}) is dead after {} attempts: {}", job.id, job.type, nacked->attempts,
                    nacked->last_error);
      DeadLettered(*nacked, registration.handler);
    } else {
      Record(job.type, "failed", elapsed);
      logger->warn("job {} ({}) attempt {} failed: {}", job.id, job.type, job.attempts,
                   outcome.error().message);
    }
  }

  void DeadLettered(const Job& job, const std::shared_ptr<JobHandler>& handler) noexcept {
    if (handler) {
      try {
        handler->OnDeadLetter(job);
      } catch (const std::exception& e) {
        logger->error("OnDeadLetter of job {} threw: {}", job.id, e.what());
      } catch (...) {
        logger->error("OnDeadLetter of job {} threw", job.id);
      }
    }
    if (!bus) {
      return;
    }
    try {
      json::object event;
      event["job_id"] = job.id;
      event["type"] = job.type;
      event["content_id"] = job.content_id;
      event["state"] = job.state;
      event["error"] = job.last_error;
      BusMessage message;
      message.subject = std::string(kJobDeadSubject);
      message.data = json::serialize(event);
      auto published = bus->Publish(std::move(message));
      if (!published) {
        logger->warn("cannot publish {}: {}", kJobDeadSubject, published.error().ToString());
      }
    } catch (const std::exception& e) {
      logger->warn("cannot publish {}: {}", kJobDeadSubject, e.what());
    }
  }
};

WorkerPool::WorkerPool(std::shared_ptr<JobQueue> queue, const Clock& clock,
                       std::shared_ptr<EventBus> bus, std::shared_ptr<spdlog::logger> logger,
                       MetricsRegistry* metrics, WorkerPoolOptions options)
    : state_(std::make_shared<State>()) {
  state_->queue = std::move(queue);
  state_->clock = &clock;
  state_->bus = std::move(bus);
  state_->logger = std::move(logger);
  options.max_workers = std::max<std::size_t>(options.max_workers, 1);
  options.min_workers = std::min(options.min_workers, options.max_workers);
  state_->options = std::move(options);
  if (metrics != nullptr) {
    state_->attempts_family =
        &metrics->CounterFamily("streamgate_job_attempts_total",
                                "Finished job attempts by type and outcome", {"type", "outcome"});
    state_->duration_family = &metrics->HistogramFamily(
        "streamgate_job_duration_seconds", "Wall time of job attempts", {"type"},
        {0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200});
    state_->jobs_family =
        &metrics->GaugeFamily("streamgate_jobs", "Jobs in the queue by state", {"state"});
    state_->workers_gauge =
        &metrics->GaugeFamily("streamgate_job_workers", "Worker threads alive").WithLabels({});
  }
}

WorkerPool::~WorkerPool() { Stop(std::chrono::steady_clock::now() + std::chrono::seconds(1)); }

Result<> WorkerPool::RegisterHandler(std::string type, std::shared_ptr<JobHandler> handler,
                                     JobTypeOptions options) {
  if (!handler) {
    return MakeError(ErrorCode::kInvalidArgument, "handler for job type {} is null", type);
  }
  if (options.timeout <= Duration::zero()) {
    return MakeError(ErrorCode::kInvalidArgument, "timeout of job type {} must be positive", type);
  }
  std::lock_guard lock(state_->mutex);
  if (state_->handlers.count(type) != 0) {
    return MakeError(ErrorCode::kAlreadyExists, "a handler for job type {} is already registered",
                     type);
  }
  state_->types.push_back(type);
  state_->handlers.emplace(std::move(type), Registration{std::move(handler), options});
  ++state_->wake_seq;
  state_->cv.notify_all();
  return {};
}

Result<> WorkerPool::SchedulePeriodic(std::string type, Duration interval, std::string payload) {
  if (interval < std::chrono::milliseconds(1)) {
    return MakeError(ErrorCode::kInvalidArgument, "interval of periodic job {} is below 1 ms",
                     type);
  }
  std::lock_guard lock(state_->mutex);
  if (state_->started) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "periodic job {} scheduled after start: call SchedulePeriodic from Init",
                     type);
  }
  for (const auto& p : state_->periodic) {
    if (p.type == type) {
      return MakeError(ErrorCode::kAlreadyExists, "periodic job {} is already scheduled", type);
    }
  }
  state_->periodic.push_back({std::move(type), interval, std::move(payload), std::nullopt});
  return {};
}

Result<> WorkerPool::Start() {
  {
    std::lock_guard lock(state_->mutex);
    if (state_->started) {
      return MakeError(ErrorCode::kAlreadyExists, "worker pool already started");
    }
    state_->started = true;
  }
  state_->EnqueueDueSlots();
  std::lock_guard lock(state_->mutex);
  while (state_->workers < state_->options.min_workers) {
    state_->SpawnWorkerLocked(state_);
  }
  ++state_->live_threads;
  state_->dispatcher = std::thread([self = state_] { self->DispatchLoop(self); });
  return {};
}

void WorkerPool::Stop(Deadline deadline) noexcept {
  auto& s = *state_;
  std::unique_lock lock(s.mutex);
  if (s.stopped) {
    return;
  }
  s.stopped = true;
  s.stopping = true;
  for (auto& attempt : s.running) {
    attempt->Cancel(CancelReason::kStopping);
  }
  s.cv.notify_all();
  const bool all_ended = s.exited.wait_until(lock, deadline, [&] { return s.live_threads == 0; });
  std::vector<std::thread> threads;
  for (auto& [number, thread] : s.worker_threads) {
    threads.push_back(std::move(thread));
  }
  s.worker_threads.clear();
  if (s.dispatcher.joinable()) {
    threads.push_back(std::move(s.dispatcher));
  }
  if (!all_ended) {
    std::string jobs;
    for (const auto& attempt : s.running) {
      jobs += fmt::format("{}{} ({})", jobs.empty() ? "" : ", ", attempt->job().id,
                          attempt->job().type);
    }
    s.logger->error(
        "worker pool: {} thread(s) still running at the stop deadline, left detached; "
        "handlers that ignored cancellation: {}",
        s.live_threads, jobs.empty() ? "none (blocked in the queue)" : jobs);
  }
  lock.unlock();
  for (auto& thread : threads) {
    if (all_ended) {
      thread.join();
    } else {
      // Each thread holds the shared state, so it stays valid for a detached thread; a
      // thread that already ended is simply released.
      thread.detach();
    }
  }
}

void WorkerPool::Wake() noexcept {
  {
    std::lock_guard lock(state_->mutex);
    ++state_->wake_seq;
    ++state_->dispatch_seq;
  }
  state_->cv.notify_all();
}

void WorkerPool::NotifyDeadLettered(const Job& job) noexcept {
  std::shared_ptr<JobHandler> handler;
  {
    std::lock_guard lock(state_->mutex);
    if (auto it = state_->handlers.find(job.type); it != state_->handlers.end()) {
      handler = it->second.handler;
    }
  }
  state_->logger->error("job {} ({}) is dead: {}", job.id, job.type, job.last_error);
  if (state_->attempts_family != nullptr) {
    state_->attempts_family->WithLabels({job.type, "dead"}).Inc();
  }
  state_->DeadLettered(job, handler);
}

std::size_t WorkerPool::worker_count() const {
  std::lock_guard lock(state_->mutex);
  return state_->workers;
}

std::size_t WorkerPool::busy_count() const {
  std::lock_guard lock(state_->mutex);
  return state_->busy;
}

}  // namespace sg::plugins::worker
