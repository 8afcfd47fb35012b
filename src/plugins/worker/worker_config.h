#pragma once

#include <cstdint>
#include <string>

#include "core/api/config.h"

namespace sg::plugins::worker {

struct WorkerConfig {
  /// The SQLite file of the job queue; "" = "<server.data_dir>/jobs.sqlite3".
  std::string database;
  std::int64_t min_workers = 1;
  /// 0 = max(1, hardware threads / 2).
  std::int64_t max_workers = 0;
  ConfigDuration visibility_timeout{30'000};
  ConfigDuration heartbeat_interval{10'000};
  ConfigDuration idle_poll_interval{1'000};
  ConfigDuration idle_worker_timeout{30'000};
  std::int64_t max_attempts = 3;
  ConfigDuration backoff_initial{5'000};
  ConfigDuration backoff_max{5LL * 60 * 1000};
  ConfigDuration retention{7LL * 24 * 3600 * 1000};

  void Visit(ConfigVisitor& v) {
    v.Field("database", database,
            {.doc = "SQLite file of the job queue; empty = <server.data_dir>/jobs.sqlite3"});
    v.Field("min_workers", min_workers,
            {.doc = "worker threads kept even when the queue is empty", .min = 0, .max = 256});
    v.Field(
        "max_workers", max_workers,
        {.doc = "most concurrent jobs on this node; 0 = max(1, cores / 2)", .min = 0, .max = 256});
    v.Field("visibility_timeout", visibility_timeout,
            {.doc = "a job whose worker stops heartbeating is leasable again after this",
             .min = 1'000,
             .max = 3'600'000});
    v.Field("heartbeat_interval", heartbeat_interval,
            {.doc = "how often a running job extends its lease and reports progress",
             .min = 100,
             .max = 3'600'000});
    v.Field("idle_poll_interval", idle_poll_interval,
            {.doc = "how often idle workers look for jobs enqueued by other processes",
             .min = 10,
             .max = 60'000});
    v.Field(
        "idle_worker_timeout", idle_worker_timeout,
        {.doc = "a worker idle this long exits while more than min_workers are left", .min = 100});
    v.Field("max_attempts", max_attempts,
            {.doc = "attempts of a job before it is dead-lettered, when its producer sets none",
             .min = 1,
             .max = 100});
    v.Field("backoff_initial", backoff_initial,
            {.doc = "delay after a job's first failed attempt (doubles each attempt, ±20 % jitter)",
             .min = 0});
    v.Field("backoff_max", backoff_max, {.doc = "longest delay between attempts", .min = 0});
    v.Field("retention", retention,
            {.doc = "succeeded jobs are deleted this long after they finished (dead jobs stay)",
             .min = 60'000});
  }

  Result<> Validate() const {
    if (max_workers != 0 && min_workers > max_workers) {
      return MakeError(ErrorCode::kInvalidArgument, "min_workers: must not exceed max_workers");
    }
    if (heartbeat_interval >= visibility_timeout) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "heartbeat_interval: must be shorter than visibility_timeout, or leases "
                       "expire between heartbeats");
    }
    if (backoff_initial > backoff_max) {
      return MakeError(ErrorCode::kInvalidArgument, "backoff_initial: must not exceed backoff_max");
    }
    return {};
  }
};

}  // namespace sg::plugins::worker
