#include "plugins/content/content_plugin.h"

#include <boost/json.hpp>

#include <memory>
#include <string>

#include "core/api/context.h"
#include "core/api/services/access.h"
#include "core/api/services/event_bus.h"
#include "core/api/services/http.h"
#include "core/api/services/job_queue.h"
#include "core/api/services/metadata_store.h"
#include "core/api/services/object_store.h"
#include "plugins/content/content_config.h"
#include "plugins/content/content_events.h"
#include "plugins/content/content_json.h"
#include "plugins/content/content_plugin_internal.h"
#include "plugins/content/orphan_sweeper.h"

namespace sg::plugins::content {
namespace {

namespace json = boost::json;

constexpr std::string_view kUpdatedSubject = "streamgate.content.updated";
constexpr std::string_view kDeletedSubject = "streamgate.content.deleted";
constexpr std::size_t kMaxQueryBytes = 500;
constexpr std::size_t kDefaultLimit = 20;
constexpr std::size_t kMaxLimit = 100;

bool IsAdmin(const Principal& principal) { return principal.HasRole("admin"); }

// Private content is answered exactly like absent content, so its existence never leaks.
Error NotFound(std::string_view id) {
  return Error{ErrorCode::kNotFound, fmt::format("content {} does not exist", id)};
}

class ContentPlugin final : public Plugin {
 public:
  const PluginInfo& Info() const override {
    static const PluginInfo info{
        .name = "content",
        .version = "0.1.0",
        .description =
            "Content API: list and search, read, edit and delete videos, processing events",
        .dependencies = {"gateway", "metadata", "storage", "worker"},
    };
    return info;
  }

  std::unique_ptr<PluginConfig> NewConfig() const override {
    return std::make_unique<TypedPluginConfig<ContentConfig>>();
  }

  Result<> Init(PluginContext& context) override {
    const auto& config = context.Config<ContentConfig>();
    logger_ = context.logger();
    SG_ASSIGN_OR_RETURN(store_, context.Require<MetadataStore>());
    SG_ASSIGN_OR_RETURN(objects_, context.Require<ObjectStore>());
    SG_ASSIGN_OR_RETURN(bus_, context.Require<EventBus>());
    SG_ASSIGN_OR_RETURN(jobs_, context.Require<JobQueue>());
    SG_ASSIGN_OR_RETURN(auto runner, context.Require<JobRunner>());
    SG_ASSIGN_OR_RETURN(auto router, context.Require<HttpRouter>());
    access_ = context.Find<AccessDecider>();  // optional: ?playable=true filters with it
    hub_ = std::make_unique<ContentEventHub>(
        ContentEventHub::Limits{
            .max_streams = static_cast<std::size_t>(config.max_event_streams),
            .heartbeat = config.event_heartbeat,
        },
        logger_);
    SG_RETURN_IF_ERROR(
        runner->RegisterHandler(std::string(kOrphanJobType),
                                std::make_shared<OrphanSweeper>(store_, objects_, context.clock(),
                                                                config.orphan_grace, logger_),
                                {.timeout = std::chrono::minutes(30), .max_attempts = 1}));
    SG_RETURN_IF_ERROR(
        runner->SchedulePeriodic(std::string(kOrphanJobType), config.orphan_sweep_interval));

    // Every route reads or writes SQLite: blocking, on the handler pool.
    RouteOptions read{.rate_class = "read", .blocking = true};
    RouteOptions write{.rate_class = "write", .blocking = true};
    RouteOptions patch = write;
    patch.max_body_bytes = 64 * 1024;
    SG_RETURN_IF_ERROR(router->AddRoute(
        "GET", "/api/v1/content", [this](const HttpRequest& r) { return List(r); }, read));
    SG_RETURN_IF_ERROR(router->AddRoute(
        "GET", "/api/v1/content/{id}", [this](const HttpRequest& r) { return Get(r); }, read));
    SG_RETURN_IF_ERROR(router->AddRoute(
        "PATCH", "/api/v1/content/{id}", [this](const HttpRequest& r) { return Patch(r); }, patch));
    SG_RETURN_IF_ERROR(router->AddRoute(
        "DELETE", "/api/v1/content/{id}", [this](const HttpRequest& r) { return Delete(r); },
        write));
    SG_RETURN_IF_ERROR(router->AddRoute(
        "GET", "/api/v1/content/{id}/events", [this](const HttpRequest& r) { return Events(r); },
        read));
    SG_RETURN_IF_ERROR(router->AddRoute(
        "GET", "/api/v1/content/{id}/poster.jpg",
        [this](const HttpRequest& r) { return Poster(r); }, read));
    return {};
  }

  Result<> Start() override { return hub_->Start(*bus_); }
  // Open event streams end first, so the gateway's drain does not wait for them.
  void Drain(Deadline) noexcept override { hub_->Stop(); }
  void Stop(Deadline) noexcept override { hub_->Stop(); }
  Health CheckHealth() const override { return {HealthStatus::kOk, ""}; }

 private:
  Result<HttpResponse> List(const HttpRequest& request) {
    const Principal& principal = request.principal;
    ContentQuery query;
    query.text = std::string(request.Query("q").value_or(""));
    if (query.text.size() > kMaxQueryBytes) {
      return MakeError(ErrorCode::kInvalidArgument, "q must be at most {} bytes", kMaxQueryBytes);
    }
    if (auto tag = request.Query("tag"); tag && !tag->empty()) {
      SG_ASSIGN_OR_RETURN(query.tag, NormalizeTag(*tag));
    }
    if (auto status = request.Query("status"); status && !status->empty()) {
      if (*status != "uploaded" && *status != "processing" && *status != "ready" &&
          *status != "failed") {
        return MakeError(ErrorCode::kInvalidArgument,
                         "status must be uploaded, processing, ready or failed");
      }
      query.status = std::string(*status);
    }
    query.owner = std::string(request.Query("owner").value_or(""));
    SG_ASSIGN_OR_RETURN(query.limit, ParseLimit(request.Query("limit"), kDefaultLimit, kMaxLimit));
    query.cursor = std::string(request.Query("cursor").value_or(""));
    // Admins see everything and owners listing their own content see all of it; everyone
    // else sees public content only (unlisted is reachable by id, never listed).
    bool own_listing = !principal.anonymous() && query.owner == principal.id;
    if (!IsAdmin(principal) && !own_listing) {
      query.visibilities = {"public"};
      query.visible_to_owner = principal.id;  // empty for anonymous viewers
    }
    bool playable_only = false;
    if (auto playable = request.Query("playable"); playable && !playable->empty()) {
      if (*playable != "true" && *playable != "false") {
        return MakeError(ErrorCode::kInvalidArgument, "playable must be true or false");
      }
      playable_only = *playable == "true";
    }
    SG_ASSIGN_OR_RETURN(auto page, store_->SearchContent(query));
    json::array items;
    for (const auto& item : page.items) {
      // Only what this caller may watch now: the access decider says so (a chain that
      // cannot be asked counts as no). A page may hold fewer than `limit` items then; the
      // cursor still continues after the last one searched.
      if (playable_only && (item.status == "uploaded" || item.status == "failed" ||
                            (access_ && !access_->MayPlay(item, principal)))) {
        continue;
      }
      items.emplace_back(ContentToJson(item));
    }
    json::object body;
    body["items"] = std::move(items);
    body["next_cursor"] =
        page.next_cursor.empty() ? json::value(nullptr) : json::value(page.next_cursor);
    return HttpResponse::Json(200, json::serialize(body));
  }

  // The record behind `{id}` as the caller may see it: 400 for a malformed id, 404 when it
  // is absent or private to someone else.
  Result<ContentRecord> Visible(const HttpRequest& request) {
    std::string_view id = request.PathParam("id");
    if (!IsValidId(id)) {
      return MakeError(ErrorCode::kInvalidArgument, "invalid content id");
    }
    SG_ASSIGN_OR_RETURN(auto record, store_->GetContent(id));
    if (record.visibility == "private" && !IsOwnerOrAdmin(request.principal, record)) {
      return MakeError(NotFound(id));
    }
    return record;
  }

  // The record behind `{id}` when the caller may change it: additionally 401 for anonymous
  // callers and 403 for signed-in callers who neither own it nor are admins.
  Result<ContentRecord> Manageable(const HttpRequest& request) {
    if (!IsValidId(request.PathParam("id"))) {
      return MakeError(ErrorCode::kInvalidArgument, "invalid content id");
    }
    if (request.principal.anonymous()) {
      return MakeError(ErrorCode::kUnauthenticated, "sign in to change content");
    }
    SG_ASSIGN_OR_RETURN(auto record, Visible(request));
    if (!IsOwnerOrAdmin(request.principal, record)) {
      return MakeError(ErrorCode::kPermissionDenied,
                       "only the owner or an admin may change content {}", record.id);
    }
    return record;
  }

  Result<HttpResponse> Get(const HttpRequest& request) {
    SG_ASSIGN_OR_RETURN(auto record, Visible(request));
    json::object body = ContentToJson(record);
    SG_ASSIGN_OR_RETURN(auto renditions, store_->ListRenditions(record.id));
    json::array items;
    for (const auto& rendition : renditions) {
      SG_ASSIGN_OR_RETURN(auto segments, store_->ListSegments(record.id, rendition.name));
      items.emplace_back(RenditionToJson(rendition, segments));
    }
    body["renditions"] = std::move(items);
    return HttpResponse::Json(200, json::serialize(body));
  }

  // Server-Sent Events of the content's processing: the current status at once, then
  // every change until it is ready or failed (see content_events.h).
  Result<HttpResponse> Events(const HttpRequest& request) {
    SG_ASSIGN_OR_RETURN(auto visible, Visible(request));
    // Open before reading the state: an event racing with the read is then delivered
    // (possibly before the state, which is never older than it) instead of lost.
    SG_ASSIGN_OR_RETURN(auto stream, hub_->Open(visible.id));
    auto record = store_->GetContent(visible.id);
    if (!record) {
      stream->Cancel();
      return MakeError(record.error());
    }
    stream->Push("retry: 10000\n\n");
    stream->Push(StatusFrame(record->id, record->status, record->status_reason));
    if (record->status == "processing") {
      JobQuery query{.content_id = record->id, .type = "transcode", .limit = 1};
      if (auto jobs = jobs_->List(query); jobs && !jobs->items.empty()) {
        const Job& job = jobs->items.front();
        json::object progress;
        progress["content_id"] = record->id;
        progress["percent"] = job.progress * 100;
        progress["eta_seconds"] =
            job.eta_seconds ? json::value(*job.eta_seconds) : json::value(nullptr);
        stream->Push(FormatSseEvent("progress", json::serialize(progress)));
      }
    }
    if (record->status == "ready" || record->status == "failed") {
      stream->End();
    }
    HttpResponse response;
    response.SetHeader("Content-Type", "text/event-stream; charset=utf-8");
    response.SetHeader("Cache-Control", "no-cache");
    response.SetHeader("X-Accel-Buffering", "no");  // nginx in front must not buffer it
    response.stream = std::move(stream);
    return response;
  }

  // The poster the transcode extracted, to whoever may see the content's metadata: a gated
  // video shows its poster like its title (the policy guards the media, not the listing).
  // Sent from the store by sendfile; revalidated by ETag.
  Result<HttpResponse> Poster(const HttpRequest& request) {
    SG_ASSIGN_OR_RETURN(auto record, Visible(request));
    if (record.poster_key.empty()) {
      return MakeError(ErrorCode::kNotFound, "content {} has no poster (yet)", record.id);
    }
    SG_ASSIGN_OR_RETURN(auto reader, objects_->Get(record.poster_key));
    const std::string etag = "\"" + reader->info().etag + "\"";
    HttpResponse response;
    response.SetHeader("ETag", etag);
    response.SetHeader("Last-Modified", FormatHttpDate(reader->info().modified));
    // Shared caches may keep public posters; others only in the viewer's own browser.
    response.SetHeader("Cache-Control", record.visibility == "public" ? "public, max-age=300"
                                                                      : "private, max-age=300");
    if (NotModified(request.Header("If-None-Match"), request.Header("If-Modified-Since"), etag,
                    reader->info().modified)) {
      response.status = 304;
      return response;
    }
    response.SetHeader("Content-Type", "image/jpeg");
    response.object = std::move(reader);
    return response;
  }

  Result<HttpResponse> Patch(const HttpRequest& request) {
    SG_ASSIGN_OR_RETURN(auto record, Manageable(request));
    SG_ASSIGN_OR_RETURN(auto patch, ParseContentPatch(request.body));
    bool changes =
        patch.title || patch.description || patch.tags || patch.visibility || patch.category;
    if (!changes) {
      return HttpResponse::Json(200, json::serialize(ContentToJson(record)));
    }
    SG_ASSIGN_OR_RETURN(auto updated, store_->UpdateContent(record.id, patch));
    Announce(kUpdatedSubject, updated.id);
    return HttpResponse::Json(200, json::serialize(ContentToJson(updated)));
  }

  Result<HttpResponse> Delete(const HttpRequest& request) {
    SG_ASSIGN_OR_RETURN(auto record, Manageable(request));
    // Objects first: if the store fails the record stays and the client can retry; the
    // other order would leave objects nobody can find any more (the orphan sweep would
    // still find them).
    const std::string media_prefix = "media/" + record.id + "/";
    const std::string upload_prefix = "uploads/" + record.id + "/";
    SG_RETURN_IF_ERROR(objects_->DeletePrefix(media_prefix));
    SG_RETURN_IF_ERROR(objects_->DeletePrefix(upload_prefix));
    if (!record.object_key.empty() && !record.object_key.starts_with(upload_prefix)) {
      SG_RETURN_IF_ERROR(objects_->Delete(record.object_key));
    }
    auto deleted = store_->DeleteContent(record.id);
    if (!deleted && deleted.error().code != ErrorCode::kNotFound) {  // a concurrent delete won
      return MakeError(deleted.error());
    }
    Announce(kDeletedSubject, record.id);
    HttpResponse response;
    response.status = 204;
    return response;
  }

  // Events are advisory (at-most-once); the change is already committed, so a bus that is
  // closing is logged, not turned into a failed request.
  void Announce(std::string_view subject, const std::string& content_id) {
    json::object payload;
    payload["content_id"] = content_id;
    BusMessage message;
    message.subject = std::string(subject);
    message.data = json::serialize(payload);
    if (auto published = bus_->Publish(std::move(message)); !published) {
      logger_->warn("could not publish {} for {}: {}", subject, content_id,
                    published.error().ToString());
    }
  }

  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<MetadataStore> store_;
  std::shared_ptr<AccessDecider> access_;
  std::shared_ptr<ObjectStore> objects_;
  std::shared_ptr<EventBus> bus_;
  std::shared_ptr<JobQueue> jobs_;
  std::unique_ptr<ContentEventHub> hub_;
};

}  // namespace

std::unique_ptr<Plugin> MakeContentPlugin() { return std::make_unique<ContentPlugin>(); }

}  // namespace sg::plugins::content

namespace sg {

Result<> RegisterContentPlugin(PluginRegistrar& registrar) {
  return registrar.Register(&plugins::content::MakeContentPlugin);
}

}  // namespace sg
