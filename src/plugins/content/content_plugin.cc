#include "plugins/content/content_plugin.h"

#include <boost/json.hpp>

#include <charconv>
#include <memory>
#include <string>

#include "core/api/context.h"
#include "core/api/services/event_bus.h"
#include "core/api/services/http.h"
#include "core/api/services/metadata_store.h"
#include "core/api/services/object_store.h"
#include "plugins/content/content_json.h"
#include "plugins/content/content_plugin_internal.h"

namespace sg::plugins::content {
namespace {

namespace json = boost::json;

constexpr std::string_view kUpdatedSubject = "streamgate.content.updated";
constexpr std::string_view kDeletedSubject = "streamgate.content.deleted";
constexpr std::size_t kMaxQueryBytes = 500;
constexpr std::size_t kDefaultLimit = 20;
constexpr std::size_t kMaxLimit = 100;

bool IsAdmin(const Principal& principal) { return principal.HasRole("admin"); }

bool CanManage(const Principal& principal, const ContentRecord& record) {
  return IsAdmin(principal) || (!principal.anonymous() && principal.id == record.owner);
}

// Private content is answered exactly like absent content, so its existence never leaks.
Error NotFound(std::string_view id) {
  return Error{ErrorCode::kNotFound, fmt::format("content {} does not exist", id)};
}

Result<std::size_t> ParseLimit(std::optional<std::string_view> text) {
  if (!text) {
    return kDefaultLimit;
  }
  std::size_t limit = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), limit);
  if (ec != std::errc() || end != text->data() + text->size() || limit < 1 || limit > kMaxLimit) {
    return MakeError(ErrorCode::kInvalidArgument, "limit must be an integer 1..{}", kMaxLimit);
  }
  return limit;
}

class ContentPlugin final : public Plugin {
 public:
  const PluginInfo& Info() const override {
    static const PluginInfo info{
        .name = "content",
        .version = "0.1.0",
        .description = "Content API: list and search, read, edit and delete videos",
        .dependencies = {"gateway", "metadata", "storage"},
    };
    return info;
  }

  Result<> Init(PluginContext& context) override {
    logger_ = context.logger();
    SG_ASSIGN_OR_RETURN(store_, context.Require<MetadataStore>());
    SG_ASSIGN_OR_RETURN(objects_, context.Require<ObjectStore>());
    SG_ASSIGN_OR_RETURN(bus_, context.Require<EventBus>());
    SG_ASSIGN_OR_RETURN(auto router, context.Require<HttpRouter>());

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
    return {};
  }

  Result<> Start() override { return {}; }
  void Stop(Deadline) noexcept override {}
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
    SG_ASSIGN_OR_RETURN(query.limit, ParseLimit(request.Query("limit")));
    query.cursor = std::string(request.Query("cursor").value_or(""));
    // Admins see everything and owners listing their own content see all of it; everyone
    // else sees public content only (unlisted is reachable by id, never listed).
    bool own_listing = !principal.anonymous() && query.owner == principal.id;
    if (!IsAdmin(principal) && !own_listing) {
      query.visibilities = {"public"};
      query.visible_to_owner = principal.id;  // empty for anonymous viewers
    }
    SG_ASSIGN_OR_RETURN(auto page, store_->SearchContent(query));
    json::array items;
    for (const auto& item : page.items) {
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
    if (record.visibility == "private" && !CanManage(request.principal, record)) {
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
    if (!CanManage(request.principal, record)) {
      return MakeError(ErrorCode::kPermissionDenied,
                       "only the owner or an admin may change content {}", record.id);
    }
    return record;
  }

  Result<HttpResponse> Get(const HttpRequest& request) {
    SG_ASSIGN_OR_RETURN(auto record, Visible(request));
    return HttpResponse::Json(200, json::serialize(ContentToJson(record)));
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
    // other order would leave objects nobody can find any more.
    const std::string prefix = "content/" + record.id + "/";
    SG_RETURN_IF_ERROR(objects_->DeletePrefix(prefix));
    if (!record.object_key.empty() && !record.object_key.starts_with(prefix)) {
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
  std::shared_ptr<ObjectStore> objects_;
  std::shared_ptr<EventBus> bus_;
};

}  // namespace

std::unique_ptr<Plugin> MakeContentPlugin() { return std::make_unique<ContentPlugin>(); }

}  // namespace sg::plugins::content

namespace sg {

Result<> RegisterContentPlugin(PluginRegistrar& registrar) {
  return registrar.Register(&plugins::content::MakeContentPlugin);
}

}  // namespace sg
