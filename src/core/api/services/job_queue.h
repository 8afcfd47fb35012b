#pragma once
/// Durable background work: the JobQueue port, the handlers that run jobs, and the
/// scheduler of periodic jobs.
///
/// Embedded adapter: a SQLite table with leases (worker plugin). Distributed adapter: a
/// JetStream work-queue stream with a pull consumer, so the semantics here are the ones
/// JetStream gives: at-least-once delivery (a job may run twice; handlers are idempotent),
/// a lease that expires unless heartbeated (AckWait + in-progress acks), nack with a delay
/// (NakWithDelay), dead letter after `max_attempts` (MaxDeliver), idempotent enqueue
/// (Nats-Msg-Id). Every call is a short transaction and blocks: call it from worker or
/// handler-pool threads, never from an HTTP I/O thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/clock.h"
#include "core/api/result.h"

namespace sg {

/// queued -> running -> succeeded
///            \-> queued (nack; runs again after a backoff delay) ... -> dead (dead letter)
/// A running job whose lease expires (the worker died) is leasable again; that lease counts
/// as an attempt too, so a job that kills its worker every time still ends dead.
namespace job_state {
inline constexpr std::string_view kQueued = "queued";
inline constexpr std::string_view kRunning = "running";
inline constexpr std::string_view kSucceeded = "succeeded";
inline constexpr std::string_view kDead = "dead";
}  // namespace job_state

struct JobSpec {
  std::string type;     ///< which handler runs it: "transcode", "upload.cleanup" ([a-z0-9._-])
  std::string payload;  ///< JSON text for the handler
  /// Enqueueing again with the same key returns the existing job (whatever its state)
  /// instead of adding one. Empty = always a new job.
  std::string idempotency_key;
  std::string content_id;  ///< for listing a content's jobs; may be empty
  std::string owner;       ///< Principal id the job works for (who may see it); may be empty
  int priority = 0;        ///< higher runs first; ties run oldest first
  int max_attempts = 0;    ///< 0 = the queue's default
  /// Not leasable before this (delayed jobs, periodic slots). Default: at once.
  std::optional<WallTime> not_before;
};

struct Job {
  std::string id;
  std::string type;
  std::string payload;
  std::string idempotency_key;
  std::string content_id;
  std::string owner;
  int priority = 0;
  std::string state;  ///< job_state::*
  int attempts = 0;   ///< leases handed out so far
  int max_attempts = 0;
  std::string last_error;  ///< why the latest attempt failed (kept after success too)
  double progress = 0;     ///< 0..1, from heartbeats of the running attempt
  std::optional<double> eta_seconds;
  std::string result;  ///< JSON text from the handler on success
  std::string lease_owner;
  WallTime lease_expires_at{};
  WallTime not_before{};
  WallTime created_at{};
  WallTime updated_at{};
  std::optional<WallTime> finished_at;  ///< succeeded or dead
};

/// One attempt of a job, handed to one worker. Ack/Nack/Heartbeat with a lease whose
/// token no longer matches (it expired and another worker took the job) are
/// kAlreadyExists ("lease lost"): the caller must stop working on the job.
struct JobLease {
  Job job;            ///< as it was when leased (attempts already counted)
  std::string token;  ///< opaque, unique per attempt
  WallTime expires_at{};
};

struct JobQuery {
  std::string state;       ///< exact; empty = any
  std::string content_id;  ///< exact; empty = any
  std::string type;        ///< exact; empty = any
  std::string owner;       ///< exact; empty = any
  std::size_t limit = 50;  ///< 1..200
  std::string cursor;      ///< opaque, from the previous page
};

struct JobPage {
  std::vector<Job> items;  ///< newest first
  std::string next_cursor;
};

struct JobCounts {
  std::uint64_t ready = 0;    ///< queued and leasable now
  std::uint64_t delayed = 0;  ///< queued, waiting for not_before (backoff)
  std::uint64_t running = 0;
  std::uint64_t dead = 0;
};

struct JobProgress {
  double fraction = 0;  ///< 0..1
  std::optional<double> eta_seconds;
};

class JobQueue {
 public:
  static constexpr std::string_view kServiceName = "JobQueue";
  virtual ~JobQueue() = default;

  /// kInvalidArgument for a bad type or payload that is not JSON. With an idempotency key
  /// already used, returns that job unchanged.
  virtual Result<Job> Enqueue(const JobSpec& spec) = 0;
  /// Leases the best ready job among `types` (empty = any): highest priority, then oldest.
  /// Also takes running jobs whose lease expired. nullopt when nothing is ready. A job
  /// leased for the (max_attempts + 1)-th time is dead-lettered instead ("lease expired
  /// N times") and not returned.
  virtual Result<std::optional<JobLease>> Lease(const std::vector<std::string>& types,
                                                std::string_view worker_id,
                                                Duration visibility_timeout) = 0;
  /// Extends the lease to now + `extension` and records progress. kAlreadyExists when the
  /// lease was lost.
  virtual Result<> Heartbeat(JobLease& lease, Duration extension,
                             std::optional<JobProgress> progress = std::nullopt) = 0;
  /// The job succeeded. kAlreadyExists when the lease was lost.
  virtual Result<Job> Ack(const JobLease& lease, std::string result_json = {}) = 0;
  /// The attempt failed with `reason`. With attempts left, the job is queued again after
  /// `delay`, or after the queue's exponential backoff with jitter when `delay` is unset;
  /// otherwise (or when `permanent`) it is dead-lettered with `reason`. Returns the job as
  /// stored afterwards (state queued or dead). kAlreadyExists when the lease was lost.
  virtual Result<Job> Nack(const JobLease& lease, std::string_view reason,
                           std::optional<Duration> delay = std::nullopt,
                           bool permanent = false) = 0;
  /// kNotFound.
  virtual Result<Job> Get(std::string_view id) = 0;
  /// kInvalidArgument for a bad cursor or limit.
  virtual Result<JobPage> List(const JobQuery& query) = 0;
  /// A dead job goes back to queued with its attempts reset. kAlreadyExists when the job is
  /// not dead (naming its state); kNotFound.
  virtual Result<Job> Retry(std::string_view id) = 0;
  /// Depth of the queue for `types` (empty = all), for autoscaling and /metrics.
  virtual Result<JobCounts> Counts(const std::vector<std::string>& types = {}) = 0;
};

/// What a handler sees while it runs one attempt.
class JobContext {
 public:
  virtual ~JobContext() = default;
  virtual const Job& job() const noexcept = 0;
  /// 1-based attempt number.
  int attempt() const noexcept { return job().attempts; }
  /// Records progress; the worker carries it to the queue with its next heartbeat.
  virtual void ReportProgress(JobProgress progress) = 0;
  /// True once the attempt must end: the server is stopping, the lease was lost, or the
  /// job type's timeout passed. Long handlers poll it (and pass it to RunSubprocess as
  /// `cancelled`) and return promptly; what they return then is ignored.
  virtual bool cancelled() const noexcept = 0;
};

/// Runs jobs of one type. Must be idempotent: an attempt may be cut short at any point
/// (kill -9) and run again from the start.
class JobHandler {
 public:
  virtual ~JobHandler() = default;
  /// Returns result JSON (may be empty) or an error: the attempt failed and the job is
  /// retried with backoff, or dead-lettered after its last attempt.
  virtual Result<std::string> Run(JobContext& context) = 0;
  /// Called once after the job was dead-lettered (its last attempt failed), with the job
  /// as stored. Lets the owner of the work record the failure (content `failed`).
  virtual void OnDeadLetter(const Job& job) { (void)job; }
};

struct JobTypeOptions {
  /// An attempt running longer is cancelled and fails with "timed out".
  Duration timeout = std::chrono::hours(2);
  /// 0 = the queue default.
  int max_attempts = 0;
};

/// The worker plugin's pool: plugins register handlers for their job types in Init;
/// workers lease only registered types, so `--plugins` decides which node runs what.
class JobRunner {
 public:
  static constexpr std::string_view kServiceName = "JobRunner";
  virtual ~JobRunner() = default;
  /// kAlreadyExists for a type registered twice. Call from Init.
  virtual Result<> RegisterHandler(std::string type, std::shared_ptr<JobHandler> handler,
                                   JobTypeOptions options = {}) = 0;
  /// Runs `type` every `interval`: the scheduler enqueues one job per interval slot with
  /// the idempotency key "<type>@<slot start>", so several nodes schedule it once. The
  /// handler must be registered too (here or on another node). Call from Init.
  virtual Result<> SchedulePeriodic(std::string type, Duration interval,
                                    std::string payload = "{}") = 0;
};

/// Subjects the worker publishes (JSON: {"job_id","type","content_id","state","error"}).
inline constexpr std::string_view kJobDeadSubject = "streamgate.job.dead";

}  // namespace sg
