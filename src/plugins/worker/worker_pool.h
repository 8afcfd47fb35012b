#pragma once
/// The JobRunner: threads that lease jobs of the registered types from a JobQueue and run
/// their handlers, plus the scheduler of periodic jobs.
///
/// Threads:
/// - one dispatcher: every tick (at most `idle_poll_interval`, sooner when a heartbeat or a
///   timeout is due or `Wake()` is called) it enqueues due periodic slots, heartbeats every
///   running attempt, cancels attempts past their type's timeout, and grows the pool while
///   ready jobs outnumber idle workers (up to `max_workers`);
/// - `min_workers`..`max_workers` workers: each leases one job at a time and runs its
///   handler on its own thread. A worker idle for `idle_worker_timeout` exits while more
///   than `min_workers` are left.
///
/// Outcomes of an attempt:
/// - handler returns a value → Ack;
/// - handler returns an error or throws → Nack (the queue's backoff; dead letter after the
///   last attempt → `OnDeadLetter` and `streamgate.job.dead`);
/// - the type's timeout passed → Nack "timed out after <timeout>" (counts as a failure);
/// - the lease was lost (a heartbeat said so) → nothing: another worker owns the job;
/// - the pool is stopping → `release` (when set) gives the attempt back without counting
///   it, so restarts and deploys never burn attempts; without `release` the lease is left
///   to expire (the next lease counts it). What the handler returned is ignored.

#include <spdlog/logger.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/api/clock.h"
#include "core/api/metrics.h"
#include "core/api/result.h"
#include "core/api/services/event_bus.h"
#include "core/api/services/job_queue.h"

namespace sg::plugins::worker {

struct WorkerPoolOptions {
  std::size_t min_workers = 1;
  std::size_t max_workers = 1;
  Duration visibility_timeout = std::chrono::seconds(30);
  Duration heartbeat_interval = std::chrono::seconds(10);
  Duration idle_poll_interval = std::chrono::seconds(1);
  Duration idle_worker_timeout = std::chrono::seconds(30);
  /// How often the streamgate_jobs gauges are re-read from the queue.
  Duration metrics_refresh_interval = std::chrono::seconds(5);
  /// Prefix of lease owners: "<node_id>/w<n>".
  std::string node_id = "worker";
  /// Gives an attempt back without counting it (SqliteJobQueue::Release). Optional.
  std::function<Result<Job>(const JobLease&, std::string_view reason)> release;
};

class WorkerPool final : public JobRunner {
 public:
  /// `bus` and `metrics` may be null. `clock` must outlive the pool; it drives timeouts,
  /// heartbeats and periodic slots (waits themselves are real, bounded by the poll interval).
  WorkerPool(std::shared_ptr<JobQueue> queue, const Clock& clock, std::shared_ptr<EventBus> bus,
             std::shared_ptr<spdlog::logger> logger, MetricsRegistry* metrics,
             WorkerPoolOptions options);
  /// Stops with a short deadline if Stop was not called.
  ~WorkerPool() override;
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  Result<> RegisterHandler(std::string type, std::shared_ptr<JobHandler> handler,
                           JobTypeOptions options = {}) override;
  Result<> SchedulePeriodic(std::string type, Duration interval,
                            std::string payload = "{}") override;

  /// Starts the dispatcher and `min_workers` workers, and enqueues the current slot of
  /// every periodic job. kAlreadyExists when started twice.
  Result<> Start();
  /// Stops leasing, cancels running attempts (their handlers see `cancelled()`), and waits
  /// for the threads until `deadline`; a handler that does not return by then keeps its
  /// (detached) thread, logged as an error. Idempotent.
  void Stop(Deadline deadline) noexcept;
  /// Makes idle workers and the dispatcher look for work now (a job was enqueued).
  void Wake() noexcept;
  /// A job was dead-lettered outside a Nack of this pool (its lease kept expiring): calls
  /// the handler's OnDeadLetter and publishes `streamgate.job.dead`.
  void NotifyDeadLettered(const Job& job) noexcept;

  /// Worker threads alive now (for tests and health).
  std::size_t worker_count() const;
  /// Attempts running now.
  std::size_t busy_count() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace sg::plugins::worker
