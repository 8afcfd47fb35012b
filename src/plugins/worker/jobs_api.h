#pragma once
/// The jobs HTTP API: GET /api/v1/jobs, GET /api/v1/jobs/{id}, POST /api/v1/jobs/{id}/retry.
///
/// Access: anonymous → 401. Admins (role "admin") see every job and its payload; any other
/// principal sees only the jobs whose owner is its id (the list is filtered, another's job
/// is 404) and never the payload. Retry is for admins only (403), 409 when the job is not
/// dead.

#include <memory>
#include <string>

#include <boost/json/object.hpp>

#include "core/api/clock.h"
#include "core/api/result.h"
#include "core/api/services/http.h"
#include "core/api/services/job_queue.h"

namespace sg::plugins::worker {

/// The public JSON of a job; `payload` (parsed) only when `with_payload`.
boost::json::object JobToJson(const Job& job, bool with_payload);

/// Registers the three routes (blocking: every call is a database transaction).
Result<> RegisterJobRoutes(HttpRouter& router, std::shared_ptr<JobQueue> queue);

}  // namespace sg::plugins::worker
