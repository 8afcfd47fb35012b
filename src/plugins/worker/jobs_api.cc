#include "plugins/worker/jobs_api.h"

#include <boost/json.hpp>

#include <ctime>

#include "core/api/services/metadata_store.h"
#include "plugins/worker/sqlite_job_queue.h"

namespace sg::plugins::worker {
namespace {

namespace json = boost::json;

constexpr std::size_t kDefaultLimit = 50;
constexpr std::size_t kMaxLimit = 200;
constexpr std::size_t kMaxCursorChars = 256;

// Stored JSON text shown as JSON; text that does not parse (written by another version or
// process) is shown as absent rather than failing the whole job.
json::value ParsedOrNull(const std::string& text) {
  if (text.empty()) {
    return nullptr;
  }
  boost::system::error_code ec;
  auto parsed = json::parse(text, ec);
  if (ec) {
    return nullptr;
  }
  return parsed;
}

Result<> RequireSignedIn(const HttpRequest& request) {
  if (request.principal.anonymous()) {
    return MakeError(ErrorCode::kUnauthenticated, "sign in to see jobs");
  }
  return {};
}

bool IsAdmin(const Principal& principal) { return principal.HasRole("admin"); }

Result<std::string> JobIdOf(const HttpRequest& request) {
  std::string id(request.PathParam("id"));
  if (!IsValidId(id)) {
    return MakeError(ErrorCode::kInvalidArgument, "malformed job id");
  }
  return id;
}

Result<JobQuery> ParseListQuery(const HttpRequest& request) {
  JobQuery query;
  query.state = std::string(request.Query("state").value_or(""));
  if (!query.state.empty() && query.state != job_state::kQueued &&
      query.state != job_state::kRunning && query.state != job_state::kSucceeded &&
      query.state != job_state::kDead) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "state must be one of queued, running, succeeded, dead");
  }
  query.content_id = std::string(request.Query("content_id").value_or(""));
  if (!query.content_id.empty() && !IsValidId(query.content_id)) {
    return MakeError(ErrorCode::kInvalidArgument, "malformed content_id");
  }
  query.type = std::string(request.Query("type").value_or(""));
  if (!query.type.empty() && !IsValidJobType(query.type)) {
    return MakeError(ErrorCode::kInvalidArgument, "type must be 1..64 characters of [a-z0-9._-]");
  }
  // An empty `limit=` counts as absent here, like the other filters of this route.
  auto limit_text = request.Query("limit");
  if (limit_text && limit_text->empty()) {
    limit_text.reset();
  }
  SG_ASSIGN_OR_RETURN(query.limit, ParseLimit(limit_text, kDefaultLimit, kMaxLimit));
  query.cursor = std::string(request.Query("cursor").value_or(""));
  if (query.cursor.size() > kMaxCursorChars) {
    return MakeError(ErrorCode::kInvalidArgument, "invalid cursor");
  }
  // Non-admins see their own jobs only, whatever they ask for.
  if (!IsAdmin(request.principal)) {
    query.owner = request.principal.id;
  }
  return query;
}

HttpResponse JsonResponse(int status, const json::value& body) {
  return HttpResponse::Json(status, json::serialize(body));
}

}  // namespace

json::object JobToJson(const Job& job, bool with_payload) {
  json::object out;
  out["id"] = job.id;
  out["type"] = job.type;
  out["state"] = job.state;
  out["content_id"] = job.content_id;
  out["owner"] = job.owner;
  out["priority"] = job.priority;
  out["attempts"] = job.attempts;
  out["max_attempts"] = job.max_attempts;
  out["last_error"] = job.last_error;
  out["progress"] = std::clamp(job.progress, 0.0, 1.0);
  out["eta_seconds"] = job.eta_seconds ? json::value(*job.eta_seconds) : json::value(nullptr);
  out["created_at"] = FormatRfc3339(job.created_at);
  out["updated_at"] = FormatRfc3339(job.updated_at);
  out["finished_at"] =
      job.finished_at ? json::value(FormatRfc3339(*job.finished_at)) : json::value(nullptr);
  out["not_before"] = FormatRfc3339(job.not_before);
  out["result"] = ParsedOrNull(job.result);
  if (with_payload) {
    out["payload"] = ParsedOrNull(job.payload);
  }
  return out;
}

Result<> RegisterJobRoutes(HttpRouter& router, std::shared_ptr<JobQueue> queue) {
  HttpHandler list = [queue](const HttpRequest& request) -> Result<HttpResponse> {
    SG_RETURN_IF_ERROR(RequireSignedIn(request));
    SG_ASSIGN_OR_RETURN(JobQuery query, ParseListQuery(request));
    SG_ASSIGN_OR_RETURN(JobPage page, queue->List(query));
    const bool admin = IsAdmin(request.principal);
    json::array items;
    for (const auto& job : page.items) {
      items.emplace_back(JobToJson(job, admin));
    }
    json::object body;
    body["items"] = std::move(items);
    body["next_cursor"] =
        page.next_cursor.empty() ? json::value(nullptr) : json::value(page.next_cursor);
    return JsonResponse(200, body);
  };

  HttpHandler get = [queue](const HttpRequest& request) -> Result<HttpResponse> {
    SG_RETURN_IF_ERROR(RequireSignedIn(request));
    SG_ASSIGN_OR_RETURN(std::string id, JobIdOf(request));
    SG_ASSIGN_OR_RETURN(Job job, queue->Get(id));
    const bool admin = IsAdmin(request.principal);
    // Another principal's job answers exactly like a missing one: ids do not leak.
    if (!admin && job.owner != request.principal.id) {
      return MakeError(ErrorCode::kNotFound, "job {} does not exist", id);
    }
    return JsonResponse(200, JobToJson(job, admin));
  };

  HttpHandler retry = [queue](const HttpRequest& request) -> Result<HttpResponse> {
    SG_RETURN_IF_ERROR(RequireSignedIn(request));
    if (!IsAdmin(request.principal)) {
      return MakeError(ErrorCode::kPermissionDenied, "only admins may retry jobs");
    }
    SG_ASSIGN_OR_RETURN(std::string id, JobIdOf(request));
    SG_ASSIGN_OR_RETURN(Job job, queue->Retry(id));
    return JsonResponse(200, JobToJson(job, true));
  };

  SG_RETURN_IF_ERROR(
      router.AddRoute("GET", "/api/v1/jobs", std::move(list), {.rate_class = "read"}));
  SG_RETURN_IF_ERROR(
      router.AddRoute("GET", "/api/v1/jobs/{id}", std::move(get), {.rate_class = "read"}));
  return router.AddRoute("POST", "/api/v1/jobs/{id}/retry", std::move(retry),
                         {.max_body_bytes = 1024, .rate_class = "write"});
}

}  // namespace sg::plugins::worker
