#include "plugins/streaming/streaming_plugin.h"

#include <boost/json.hpp>

#include <charconv>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/api/context.h"
#include "core/api/services/access.h"
#include "core/api/services/cache.h"
#include "core/api/services/http.h"
#include "core/api/services/metadata_store.h"
#include "core/api/services/object_store.h"
#include "plugins/streaming/http_ranges.h"
#include "plugins/streaming/manifests.h"
#include "plugins/streaming/streaming_config.h"
#include "plugins/streaming/streaming_plugin_internal.h"
#include "plugins/streaming/view_counter.h"

namespace sg::plugins::streaming {
namespace {

namespace json = boost::json;

constexpr std::string_view kHlsType = "application/vnd.apple.mpegurl";
constexpr std::string_view kDashType = "application/dash+xml";

// The embedded decider: visibility only. Private content is answered like absent content.
class VisibilityDecider final : public AccessDecider {
 public:
  Result<> MayPlay(const ContentRecord& content, const Principal& viewer) override {
    if (content.visibility != "private") {
      return {};
    }
    if (IsOwnerOrAdmin(viewer, content)) {
      return {};
    }
    return MakeError(ErrorCode::kNotFound, "content {} does not exist", content.id);
  }
};

bool IsRenditionName(std::string_view name) {
  if (name.empty() || name.size() > 32) {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

// "segment_<n>.m4s" with n a plain decimal below 10^9 (no sign, no leading '+').
std::optional<std::uint32_t> SegmentNumber(std::string_view file) {
  constexpr std::string_view kPrefix = "segment_";
  constexpr std::string_view kSuffix = ".m4s";
  if (!file.starts_with(kPrefix) || !file.ends_with(kSuffix)) {
    return std::nullopt;
  }
  std::string_view digits =
      file.substr(kPrefix.size(), file.size() - kPrefix.size() - kSuffix.size());
  if (digits.empty() || digits.size() > 9) {
    return std::nullopt;
  }
  std::uint32_t number = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    return std::nullopt;
  }
  return number;
}

std::string Seconds(ConfigDuration duration) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(duration).count());
}

class StreamingPlugin final : public Plugin {
 public:
  const PluginInfo& Info() const override {
    static const PluginInfo info{
        .name = "streaming",
        .version = "0.1.0",
        .description = "HLS and DASH manifests from metadata; segments by sendfile with Range",
        .dependencies = {"gateway", "metadata", "storage", "cache"},
    };
    return info;
  }

  std::unique_ptr<PluginConfig> NewConfig() const override {
    return std::make_unique<TypedPluginConfig<StreamingConfig>>();
  }

  Result<> Init(PluginContext& context) override {
    config_ = context.Config<StreamingConfig>();
    // Formatted once: every segment response carries one of the two.
    segment_cache_public_ =
        fmt::format("public, max-age={}, immutable", Seconds(config_.segment_max_age));
    segment_cache_private_ =
        fmt::format("private, max-age={}, immutable", Seconds(config_.segment_max_age));
    SG_ASSIGN_OR_RETURN(store_, context.Require<MetadataStore>());
    SG_ASSIGN_OR_RETURN(objects_, context.Require<ObjectStore>());
    SG_ASSIGN_OR_RETURN(auto router, context.Require<HttpRouter>());
    SG_ASSIGN_OR_RETURN(cache_, context.Require<Cache>());
    views_ = std::make_unique<ViewCounter>(
        store_, context.clock(),
        ViewCounterOptions{.dedup_window = config_.view_dedup_window, .salt = config_.view_salt},
        context.logger());
    // A decider provided earlier (the auth plugin's NFT policies) wins over visibility.
    if (auto provided = context.Find<AccessDecider>()) {
      access_ = std::move(provided);
    } else {
      access_ = std::make_shared<VisibilityDecider>();
    }
    RouteOptions read{.rate_class = "read", .blocking = true};
    SG_RETURN_IF_ERROR(router->AddRoute(
        "GET", "/api/v1/streaming/{id}/manifest.m3u8",
        [this](const HttpRequest& r) { return Master(r); }, read));
    SG_RETURN_IF_ERROR(router->AddRoute(
        "GET", "/api/v1/streaming/{id}/manifest.mpd",
        [this](const HttpRequest& r) { return Mpd(r); }, read));
    // Segments are bulk transfers: the transfer bucket, like upload chunks.
    // A rendition's playlist reads every segment record: on the handler pool.
    SG_RETURN_IF_ERROR(router->AddRoute(
        "GET", "/api/v1/streaming/{id}/{rendition}/playlist.m3u8",
        [this](const HttpRequest& r) { return File(r, "playlist.m3u8"); }, read));
    // Segments are bulk transfers (the transfer bucket, like upload chunks). From the local
    // store a segment request is a cache hit, a stat and an open: cheaper than the two
    // thread hops of the handler pool, so it runs on the I/O thread (a cache miss reads
    // SQLite there, once per content per cache lifetime). A remote store blocks on the
    // network: then the pool.
    local_store_ = objects_->LocalPath("media/probe").has_value();
    RouteOptions transfer{.rate_class = "transfer", .blocking = !local_store_};
    SG_RETURN_IF_ERROR(router->AddRoute(
        "GET", "/api/v1/streaming/{id}/{rendition}/{file}",
        [this](const HttpRequest& r) { return File(r, r.PathParam("file")); }, transfer));
    // The same under a playback token (gated and private content): the manifests put
    // `t/<token>/` in front of their URIs, so every playlist and segment request carries it
    // and is checked against the token alone, never a chain.
    SG_RETURN_IF_ERROR(router->AddRoute(
        "GET", "/api/v1/streaming/{id}/t/{token}/{rendition}/playlist.m3u8",
        [this](const HttpRequest& r) { return File(r, "playlist.m3u8"); }, read));
    SG_RETURN_IF_ERROR(router->AddRoute(
        "GET", "/api/v1/streaming/{id}/t/{token}/{rendition}/{file}",
        [this](const HttpRequest& r) { return File(r, r.PathParam("file")); }, transfer));
    // Blocking: it may write the content's pending counts first.
    SG_RETURN_IF_ERROR(router->AddRoute(
        "GET", "/api/v1/content/{id}/stats", [this](const HttpRequest& r) { return Stats(r); },
        read));
    return {};
  }

  Result<> Start() override {
    views_->Start();
    return {};
  }
  void Stop(Deadline) noexcept override { views_->Stop(); }  // writes what is pending
  Health CheckHealth() const override { return {HealthStatus::kOk, ""}; }

 private:
  // What every playback request needs of a content (who may play it, its status, which
  // renditions are audio), cached under `content:<id>:playback` so that a segment request
  // costs a cache hit and a stat instead of two database reads. The cache plugin drops it
  // on every transcoding and content event.
  struct PlaybackRecord {
    ContentRecord content;  ///< id, owner, visibility, status, access_policy only
    std::map<std::string, std::string> kinds;  ///< rendition -> video | audio
  };

  static std::string EncodePlayback(const ContentRecord& content,
                                    const std::vector<RenditionRecord>& renditions) {
    json::object kinds;
    for (const auto& rendition : renditions) {
      kinds[rendition.name] = rendition.kind;
    }
    json::object out{{"owner", content.owner},
                     {"visibility", content.visibility},
                     {"status", content.status},
                     {"access_policy", content.access_policy},
                     {"kinds", std::move(kinds)}};
    return json::serialize(out);
  }

  static Result<PlaybackRecord> DecodePlayback(std::string_view id, std::string_view text) {
    try {
      auto value = json::parse(text).as_object();
      PlaybackRecord record;
      record.content.id = std::string(id);
      record.content.owner = std::string(value.at("owner").as_string());
      record.content.visibility = std::string(value.at("visibility").as_string());
      record.content.status = std::string(value.at("status").as_string());
      record.content.access_policy = std::string(value.at("access_policy").as_string());
      for (const auto& [name, kind] : value.at("kinds").as_object()) {
        record.kinds[std::string(name)] = std::string(kind.as_string());
      }
      return record;
    } catch (const std::exception& e) {
      return MakeError(ErrorCode::kInternal, "cached playback record of {}: {}", id, e.what());
    }
  }

  Result<PlaybackRecord> LoadPlayback(std::string_view id, bool fresh) {
    auto load = [&]() -> Result<std::string> {
      SG_ASSIGN_OR_RETURN(auto content, store_->GetContent(id));
      SG_ASSIGN_OR_RETURN(auto renditions, store_->ListRenditions(id));
      return EncodePlayback(content, renditions);
    };
    const std::string key = ContentKeyPrefix(id) + "playback";
    if (fresh) {
      SG_RETURN_IF_ERROR(cache_->Invalidate(key));
    }
    SG_ASSIGN_OR_RETURN(auto text, cache_->GetOrLoad(key, Cache::kDefaultTtl, load));
    // Decoding JSON on every segment request cost more than the rest of it: reuse the
    // last decoded record of this content while the cached text is the same.
    {
      std::lock_guard lock(decoded_mutex_);
      auto it = decoded_.find(std::string(id));
      if (it != decoded_.end() && it->second.first == text) {
        return it->second.second;
      }
    }
    SG_ASSIGN_OR_RETURN(auto record, DecodePlayback(id, text));
    std::lock_guard lock(decoded_mutex_);
    if (decoded_.size() >= kMaxDecoded) {
      decoded_.clear();  // a crude bound; the cache holds the truth
    }
    decoded_[std::string(id)] = {std::move(text), record};
    return record;
  }

  // The content behind `{id}` if this viewer may play it: 400 for a malformed id, 404 when
  // absent or hidden, whatever else the decider says.
  Result<PlaybackRecord> Playable(const HttpRequest& request, bool fresh = false) {
    std::string_view id = request.PathParam("id");
    if (!IsValidId(id)) {
      return MakeError(ErrorCode::kInvalidArgument, "invalid content id");
    }
    SG_ASSIGN_OR_RETURN(auto record, LoadPlayback(id, fresh));
    SG_RETURN_IF_ERROR(access_->MayPlay(record.content, request.principal));
    return record;
  }

  // A playlist or segment request: with a playback token in the path the token alone
  // decides (no chain call per segment); without one, content that needs a token is
  // refused and any other is decided as usual. Private content is checked for visibility
  // first so that its existence stays hidden from those who may not see it.
  Result<PlaybackRecord> PlayableFile(const HttpRequest& request, bool fresh = false) {
    std::string_view id = request.PathParam("id");
    if (!IsValidId(id)) {
      return MakeError(ErrorCode::kInvalidArgument, "invalid content id");
    }
    if (request.HasPathParam("token")) {
      SG_RETURN_IF_ERROR(access_->VerifyPlaybackToken(request.PathParam("token"), id));
      return LoadPlayback(id, fresh);
    }
    SG_ASSIGN_OR_RETURN(auto record, LoadPlayback(id, fresh));
    if (!access_->RequiresPlaybackToken(record.content)) {
      SG_RETURN_IF_ERROR(access_->MayPlay(record.content, request.principal));
      return record;
    }
    if (record.content.visibility == "private") {
      SG_RETURN_IF_ERROR(access_->MayPlay(record.content, request.principal));
    }
    return MakeError(ErrorCode::kPermissionDenied,
                     "content {} is played with a playback token: fetch manifest.m3u8 or "
                     "manifest.mpd first and follow its URIs",
                     id);
  }

  // "t/<token>/" for a viewer of content that needs tokens, else "" (public URIs).
  Result<std::string> TokenPrefix(const ContentRecord& content, const Principal& viewer) {
    if (!access_->RequiresPlaybackToken(content)) {
      return std::string();
    }
    SG_ASSIGN_OR_RETURN(std::string token, access_->MintPlaybackToken(content, viewer));
    return "t/" + token + "/";
  }

  // Cached manifests of token content are built once with this stand-in prefix and get the
  // viewer's token at serve time. Content ids and rendition names never contain braces.
  static constexpr std::string_view kTokenMarker = "t/{token}/";

  static std::string WithToken(std::string body, std::string_view prefix) {
    for (auto at = body.find(kTokenMarker); at != std::string::npos;
         at = body.find(kTokenMarker, at + prefix.size())) {
      body.replace(at, kTokenMarker.size(), prefix);
    }
    return body;
  }

  Result<ManifestInput> LoadMedia(ContentRecord content) {
    ManifestInput input;
    SG_ASSIGN_OR_RETURN(auto renditions, store_->ListRenditions(content.id));
    for (auto& rendition : renditions) {
      SG_ASSIGN_OR_RETURN(auto segments, store_->ListSegments(content.id, rendition.name));
      input.renditions.push_back({std::move(rendition), std::move(segments)});
    }
    input.content = std::move(content);
    return input;
  }

  // 404 with Retry-After for content whose first segments do not exist yet (still
  // uploading or transcoding): players and scripts know when to ask again.
  Result<HttpResponse> NotYet(const ManifestInput& input, const HttpRequest& request,
                              std::string_view what) {
    bool coming = input.content.status == "uploaded" || input.content.status == "processing";
    auto response =
        HttpResponse::Error(404, "not_found",
                            coming ? fmt::format("content {} has no {} yet: it is {}",
                                                 input.content.id, what, input.content.status)
                                   : fmt::format("content {} has no {} ({})", input.content.id,
                                                 what, input.content.status),
                            request);
    if (coming) {
      response.SetHeader("Retry-After", Seconds(config_.retry_after));
    }
    return response;
  }

  HttpResponse Manifest(std::string body, std::string_view type, const ManifestInput& input) {
    auto response = HttpResponse::Text(200, std::move(body), std::string(type));
    bool cacheable = IsComplete(input);
    std::string scope = input.content.visibility == "private" ? "private" : "public";
    response.SetHeader("Cache-Control", cacheable ? fmt::format("{}, max-age={}", scope,
                                                                Seconds(config_.manifest_max_age))
                                                  : std::string("no-cache"));
    return response;
  }

  // Manifests of ready content change only with a transcoding or content event, on which
  // the cache plugin drops `content:<id>:`. Cached bodies are the same for every viewer (all
  // URIs are relative); access is still decided per request before. nullopt = not cached
  // (content not ready, or the load failed): take the uncached path, which answers right.
  std::optional<std::string> ReadyManifest(
      const ContentRecord& content, std::string_view name,
      const std::function<Result<std::string>(const ManifestInput&)>& build) {
    if (content.status != "ready") {
      return std::nullopt;
    }
    auto body = cache_->GetOrLoad(ContentKeyPrefix(content.id) + std::string(name),
                                  Cache::kDefaultTtl, [&]() -> Result<std::string> {
                                    SG_ASSIGN_OR_RETURN(auto input, LoadMedia(content));
                                    if (!IsComplete(input)) {
                                      return MakeError(ErrorCode::kUnavailable,
                                                       "content {} is not complete", content.id);
                                    }
                                    return build(input);
                                  });
    if (!body) {
      return std::nullopt;
    }
    return std::move(*body);
  }

  HttpResponse CompleteManifest(std::string body, std::string_view type,
                                const ContentRecord& content, bool tokened) {
    auto response = HttpResponse::Text(200, std::move(body), std::string(type));
    // A manifest carrying a viewer's playback token is that viewer's alone and expires
    // with the token: no cache may keep or share it.
    response.SetHeader("Cache-Control",
                       tokened ? std::string("private, no-store")
                               : fmt::format("{}, max-age={}",
                                             content.visibility == "private" ? "private" : "public",
                                             Seconds(config_.manifest_max_age)));
    return response;
  }

  // The master playlist and the MPD: access decided, a playback token minted when the
  // content needs one, the (cached) body served with it.
  Result<HttpResponse> TopManifest(
      const HttpRequest& request, std::string_view cache_name, std::string_view type,
      const std::function<Result<std::string>(const ManifestInput&, std::string_view)>& build,
      bool needs_complete, std::string_view what) {
    SG_ASSIGN_OR_RETURN(auto playback, Playable(request));
    ContentRecord content = std::move(playback.content);
    SG_ASSIGN_OR_RETURN(std::string prefix, TokenPrefix(content, request.principal));
    const bool tokened = !prefix.empty();
    const std::string marker = tokened ? std::string(kTokenMarker) : std::string();
    const std::string name = fmt::format("{}{}", cache_name, tokened ? ":t" : "");
    if (auto body = ReadyManifest(
            content, name, [&](const ManifestInput& input) { return build(input, marker); })) {
      if (request.method == "GET") {  // HEAD reaches GET routes; it is not a view
        views_->RecordManifestFetch(content.id, request);
      }
      return CompleteManifest(WithToken(std::move(*body), prefix), type, content, tokened);
    }
    SG_ASSIGN_OR_RETURN(auto input, LoadMedia(std::move(content)));
    if (needs_complete) {
      // A static MPD needs every segment; while transcoding, HLS (an EVENT playlist) plays.
      if (!IsComplete(input)) {
        return NotYet(input, request, what);
      }
    } else {
      bool any_segment = false;
      for (const auto& media : input.renditions) {
        any_segment = any_segment || !media.segments.empty();
      }
      if (!any_segment) {
        return NotYet(input, request, what);
      }
    }
    SG_ASSIGN_OR_RETURN(std::string body, build(input, prefix));
    if (request.method == "GET") {
      views_->RecordManifestFetch(input.content.id, request);
    }
    auto response = Manifest(std::move(body), type, input);
    if (tokened) {
      response.SetHeader("Cache-Control", "private, no-store");
    }
    return response;
  }

  Result<HttpResponse> Master(const HttpRequest& request) {
    return TopManifest(
        request, "hls:master", kHlsType,
        [](const ManifestInput& input, std::string_view prefix) -> Result<std::string> {
          return BuildHlsMaster(input, prefix);
        },
        /*needs_complete=*/false, "playable renditions");
  }

  Result<HttpResponse> Mpd(const HttpRequest& request) {
    return TopManifest(
        request, "dash", kDashType,
        [](const ManifestInput& input, std::string_view prefix) {
          return BuildDashMpd(input, prefix);
        },
        /*needs_complete=*/true, "complete DASH presentation");
  }

  // Views, unique viewers and bytes served, for whoever may play the content (view counts
  // are public on a video platform; private content stays hidden like everywhere else).
  Result<HttpResponse> Stats(const HttpRequest& request) {
    SG_ASSIGN_OR_RETURN(auto playback, Playable(request));
    return views_->StatsResponse(playback.content);
  }

  Result<HttpResponse> File(const HttpRequest& request, std::string_view file) {
    std::string_view rendition = request.PathParam("rendition");
    if (!IsRenditionName(rendition)) {
      return MakeError(ErrorCode::kInvalidArgument, "invalid rendition name");
    }
    SG_ASSIGN_OR_RETURN(auto playback, PlayableFile(request));
    ContentRecord& content = playback.content;
    if (file == "playlist.m3u8") {
      if (auto body = ReadyManifest(content, fmt::format("hls:{}", rendition),
                                    [rendition](const ManifestInput& input) {
                                      return BuildHlsMedia(input, rendition);
                                    })) {
        // Its URIs are relative, so the body is the same with or without a token.
        auto response = CompleteManifest(std::move(*body), kHlsType, content, false);
        if (request.HasPathParam("token")) {
          response.SetHeader("Cache-Control",
                             fmt::format("private, max-age={}", Seconds(config_.manifest_max_age)));
        }
        return response;
      }
      SG_ASSIGN_OR_RETURN(auto input, LoadMedia(std::move(content)));
      SG_ASSIGN_OR_RETURN(auto playlist, BuildHlsMedia(input, rendition));
      return Manifest(std::move(playlist), kHlsType, input);
    }
    std::string key = fmt::format("media/{}/{}/", content.id, rendition);
    if (file == "init.mp4") {
      key += "init.mp4";
    } else if (auto number = SegmentNumber(file)) {
      key += fmt::format("segment_{}.m4s", *number);
    } else {
      return MakeError(ErrorCode::kNotFound, "no such file {} in rendition {}", file, rendition);
    }
    auto kind = playback.kinds.find(std::string(rendition));
    if (kind == playback.kinds.end()) {
      // A rendition recorded after the cached record was made: read it again once.
      SG_ASSIGN_OR_RETURN(playback, PlayableFile(request, /*fresh=*/true));
      kind = playback.kinds.find(std::string(rendition));
      if (kind == playback.kinds.end()) {
        return MakeError(ErrorCode::kNotFound, "content {} has no rendition {}",
                         playback.content.id, rendition);
      }
    }
    return Segment(request, playback.content.id, key,
                   kind->second == "audio" ? "audio/mp4" : "video/mp4",
                   playback.content.visibility == "private" || request.HasPathParam("token"));
  }

  Result<HttpResponse> Segment(const HttpRequest& request, std::string_view content_id,
                               const std::string& key, std::string_view type,
                               bool private_content) {
    // A local store opens the file once and answers from its fstat (an open costs what a
    // stat does); a remote store is asked for the info first, so that a 304 or a 416 never
    // starts a download.
    std::unique_ptr<ObjectReader> whole;
    Result<ObjectInfo> info = MakeError(ErrorCode::kInternal, "not looked up");
    if (local_store_ && config_.accel_redirect_prefix.empty()) {
      auto opened = objects_->Get(key);
      if (opened) {
        whole = std::move(*opened);
        info = whole->info();
      } else {
        info = MakeError(opened.error());
      }
    } else {
      info = objects_->Stat(key);
    }
    if (!info) {
      if (info.error().code == ErrorCode::kNotFound) {
        return MakeError(ErrorCode::kNotFound, "{} is not available (yet)",
                         key.substr(key.rfind('/') + 1));
      }
      return MakeError(info.error());
    }
    const std::string etag = "\"" + info->etag + "\"";
    HttpResponse response;
    response.SetHeader("ETag", etag);
    response.SetHeader("Last-Modified", FormatHttpDate(info->modified));
    response.SetHeader("Accept-Ranges", "bytes");
    response.SetHeader("Cache-Control",
                       private_content ? segment_cache_private_ : segment_cache_public_);
    if (NotModified(request.Header("If-None-Match"), request.Header("If-Modified-Since"), etag,
                    info->modified)) {
      response.status = 304;
      return response;
    }
    response.SetHeader("Content-Type", std::string(type));
    if (!config_.accel_redirect_prefix.empty()) {
      // nginx mode: access was decided here; nginx sends the file (Range included) from its
      // internal location over the same objects directory.
      response.SetHeader("X-Accel-Redirect", config_.accel_redirect_prefix + "/" + key);
      if (request.method == "GET") {
        views_->RecordBytes(content_id, info->size);  // nginx applies any Range itself
      }
      return response;
    }
    RangeDecision range;
    if (auto header = request.Header("Range");
        header && RangeStillValid(request.Header("If-Range"), etag, info->modified)) {
      range = ParseRange(*header, info->size);
    }
    if (range.kind == RangeKind::kUnsatisfiable) {
      auto refused = HttpResponse::Error(
          416, "range_not_satisfiable",
          fmt::format("the range is outside the {} bytes of the object", info->size), request);
      refused.SetHeader("Content-Range", ContentRangeHeader(range, info->size));
      return refused;
    }
    ByteRange wanted;
    if (range.kind == RangeKind::kPartial) {
      wanted = {.offset = range.span.first, .length = range.span.size()};
      response.status = 206;
      response.SetHeader("Content-Range", ContentRangeHeader(range, info->size));
    }
    if (whole && range.kind != RangeKind::kPartial) {
      response.object = std::move(whole);
    } else {
      SG_ASSIGN_OR_RETURN(response.object, objects_->Get(key, wanted));
    }
    if (request.method == "GET") {
      views_->RecordBytes(content_id, response.object->length());
    }
    return response;
  }

  StreamingConfig config_;
  std::shared_ptr<MetadataStore> store_;
  std::shared_ptr<ObjectStore> objects_;
  std::shared_ptr<AccessDecider> access_;
  std::shared_ptr<Cache> cache_;
  std::unique_ptr<ViewCounter> views_;
  bool local_store_ = false;
  std::string segment_cache_public_;
  std::string segment_cache_private_;
  static constexpr std::size_t kMaxDecoded = 10'000;
  std::mutex decoded_mutex_;
  std::map<std::string, std::pair<std::string, PlaybackRecord>> decoded_;
};

}  // namespace

std::unique_ptr<Plugin> MakeStreamingPlugin() { return std::make_unique<StreamingPlugin>(); }

}  // namespace sg::plugins::streaming

namespace sg {

Result<> RegisterStreamingPlugin(PluginRegistrar& registrar) {
  return registrar.Register(&plugins::streaming::MakeStreamingPlugin);
}

}  // namespace sg
