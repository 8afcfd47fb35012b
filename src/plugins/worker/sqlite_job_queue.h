#pragma once
/// The embedded JobQueue adapter: one table in its own SQLite file (WAL), so jobs survive
/// restarts and kill -9.
///
/// Every call is one short BEGIN IMMEDIATE transaction on a single connection behind a
/// mutex: the queue's writes are tiny and SQLite has one writer anyway. Several processes
/// may share the file (busy_timeout); each lease is decided under the write lock, so a job
/// is never leased twice at once.
///
/// Times are integer milliseconds since the Unix epoch, read from `Clock::WallNow()` only
/// (leases and backoff are driven by a FakeClock in tests).
///
/// Semantics beyond job_queue.h:
/// - A lease token is `<lease sequence>.<random hex>`; the sequence never repeats for a job,
///   not even after Retry, so a stale worker can never match a later attempt.
/// - Ack/Nack/Heartbeat succeed as long as the token still matches, even when the lease
///   already expired but no other worker took the job yet (JetStream accepts such a late
///   ack too).
/// - Re-leasing an expired job records "lease expired (worker <id> stopped heartbeating)"
///   as its last error; the (max_attempts+1)-th lease dead-letters with "lease expired N
///   times" (N = leases of that job that expired).
/// - An empty payload is stored as "{}".
/// - Counts: a running job whose lease expired is counted as ready (it is leasable now).

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "core/api/clock.h"
#include "core/api/random.h"
#include "core/api/result.h"
#include "core/api/retry.h"
#include "core/api/services/job_queue.h"

namespace SQLite {
class Database;
}

namespace sg::plugins::worker {

class SqliteJobQueue final : public JobQueue {
 public:
  struct Options {
    std::filesystem::path path;
    std::chrono::milliseconds busy_timeout{5'000};
    /// Used when a JobSpec says max_attempts = 0.
    int default_max_attempts = 3;
    /// Delay between attempts when Nack gives none; `max_attempts` of the policy is unused.
    BackoffPolicy backoff{.initial = std::chrono::seconds(5),
                          .max = std::chrono::minutes(5),
                          .multiplier = 2.0,
                          .jitter = 0.2};
  };

  /// Not part of the port: lets the worker pool react at once instead of polling. Called
  /// after the transaction committed, outside any lock, on the calling thread.
  struct Listener {
    /// A new job was added (not an idempotent hit) or a dead job was retried.
    std::function<void(const Job&)> on_ready;
    /// Lease dead-lettered a job whose lease kept expiring (Nack's dead letters are
    /// returned to the caller instead).
    std::function<void(const Job&)> on_dead_lettered;
  };

  /// Opens (creating) the file and applies pending migrations. kInvalidArgument when the
  /// file is not a database or its schema is newer than this binary; kUnavailable when it
  /// cannot be opened. `clock` and `random` must outlive the queue.
  static Result<std::shared_ptr<SqliteJobQueue>> Open(const Options& options, const Clock& clock,
                                                      Random& random);

  ~SqliteJobQueue() override;
  SqliteJobQueue(const SqliteJobQueue&) = delete;
  SqliteJobQueue& operator=(const SqliteJobQueue&) = delete;

  /// Replaces the listener (thread-safe; a call in flight may still use the previous one).
  void SetListener(Listener listener);

  Result<Job> Enqueue(const JobSpec& spec) override;
  Result<std::optional<JobLease>> Lease(const std::vector<std::string>& types,
                                        std::string_view worker_id,
                                        Duration visibility_timeout) override;
  Result<> Heartbeat(JobLease& lease, Duration extension,
                     std::optional<JobProgress> progress = std::nullopt) override;
  Result<Job> Ack(const JobLease& lease, std::string result_json = {}) override;
  Result<Job> Nack(const JobLease& lease, std::string_view reason,
                   std::optional<Duration> delay = std::nullopt, bool permanent = false) override;
  Result<Job> Get(std::string_view id) override;
  Result<JobPage> List(const JobQuery& query) override;
  Result<Job> Retry(std::string_view id) override;
  Result<JobCounts> Counts(const std::vector<std::string>& types = {}) override;

  /// Not part of the port: gives an attempt back without counting it (the server is
  /// stopping): queued again at once, attempts - 1, with `reason` as last error.
  /// kAlreadyExists when the lease was lost.
  Result<Job> Release(const JobLease& lease, std::string_view reason);
  /// Deletes succeeded jobs finished before `before` (their idempotency keys become free).
  /// Dead jobs stay until retried. Returns how many were deleted.
  Result<std::uint64_t> PurgeSucceeded(WallTime before);
  /// A trivial read with a short lock wait; kUnavailable with the reason when it fails.
  Result<> Ping();
  /// Closes the file; later calls are kUnavailable.
  void Close() noexcept;

  struct Impl;

 private:
  explicit SqliteJobQueue(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The schema, one migration per version (never edit a released one: append).
std::span<const std::string_view> JobQueueMigrations();

/// "[a-z0-9._-]{1,64}".
bool IsValidJobType(std::string_view type) noexcept;

}  // namespace sg::plugins::worker
