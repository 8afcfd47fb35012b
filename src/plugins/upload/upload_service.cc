#include "plugins/upload/upload_service.h"

#include <boost/json.hpp>

#include <algorithm>
#include <fstream>
#include <limits>
#include <set>
#include <thread>

#include "plugins/upload/hashing.h"
#include "plugins/upload/probe.h"
#include "plugins/upload/upload_protocol.h"

namespace sg::plugins::upload {
namespace {

namespace json = boost::json;

constexpr std::string_view kTusVersion = "1.0.0";
constexpr std::string_view kTusExtensions =
    "creation,creation-with-upload,termination,expiration,checksum";
constexpr std::string_view kOffsetContentType = "application/offset+octet-stream";
/// S3 allows at most 10,000 parts; the same bound everywhere keeps stores interchangeable.
constexpr std::uint64_t kMaxChunks = 10'000;
/// How long a second complete waits for the first one (hashing and probing a large file).
constexpr auto kCompletionWait = std::chrono::seconds(60);

std::string_view StatusCodeName(int status) {
  switch (status) {
    case 410:
      return "gone";
    case 412:
      return "precondition_failed";
    case 413:
      return "payload_too_large";
    case 415:
      return "unsupported_media_type";
    case 422:
      return "unprocessable_content";
    case 460:
      return "checksum_mismatch";
    default:
      return "error";
  }
}

HttpResponse ErrorResponse(int status, std::string_view message, const HttpRequest& request) {
  return HttpResponse::Error(status, StatusCodeName(status), message, request);
}

json::array RangesJson(const ChunkRanges& ranges) {
  json::array out;
  for (const auto& [first, last] : ranges) {
    out.push_back(json::array{first, last});
  }
  return out;
}

std::string RangesText(const ChunkRanges& ranges) { return json::serialize(RangesJson(ranges)); }

std::vector<std::uint32_t> Indices(const std::vector<StoredChunk>& chunks) {
  std::vector<std::uint32_t> indices;
  indices.reserve(chunks.size());
  for (const auto& chunk : chunks) {
    indices.push_back(chunk.index);
  }
  return indices;
}

std::vector<std::string> NormalizeTags(std::vector<std::string> tags) {
  for (auto& tag : tags) {
    std::transform(tag.begin(), tag.end(), tag.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  std::set<std::string> unique(tags.begin(), tags.end());
  unique.erase("");
  return {unique.begin(), unique.end()};
}

// Comma-separated tags (tus metadata) -> list.
std::vector<std::string> SplitTags(std::string_view text) {
  std::vector<std::string> tags;
  while (!text.empty()) {
    auto comma = text.find(',');
    auto tag = text.substr(0, comma);
    while (!tag.empty() && tag.front() == ' ') {
      tag.remove_prefix(1);
    }
    while (!tag.empty() && tag.back() == ' ') {
      tag.remove_suffix(1);
    }
    tags.emplace_back(tag);
    if (comma == std::string_view::npos) {
      break;
    }
    text.remove_prefix(comma + 1);
  }
  return tags;
}

Result<> RequireWriter(const HttpRequest& request) {
  if (request.principal.anonymous()) {
    return MakeError(
        ErrorCode::kUnauthenticated,
        "uploading requires signing in (a wallet with the creator role, or the API key)");
  }
  if (!request.principal.HasRole("admin") && !request.principal.HasRole("creator")) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "uploading requires the role admin or creator; {} has neither",
                     request.principal.id);
  }
  return {};
}

// The visibilities a content may have (ContentRecord::visibility); an upload names one so
// that its content is created with it instead of being public until a PATCH.
bool IsVisibility(std::string_view value) {
  return value == "public" || value == "unlisted" || value == "private";
}

Result<std::string> ValidId(std::string_view id) {
  if (!IsValidId(id)) {
    return MakeError(ErrorCode::kInvalidArgument, "malformed upload id");
  }
  return std::string(id);
}

// The body of a streamed route, or the buffered body for other routes and tests.
/// Reads `first` (if any) to its end, then `second`.
class ConcatSource final : public ByteSource {
 public:
  ConcatSource(ByteSource* first, ByteSource& second) : first_(first), second_(second) {}
  Result<std::size_t> Read(std::span<char> buffer) override {
    if (first_ != nullptr) {
      SG_ASSIGN_OR_RETURN(auto got, first_->Read(buffer));
      if (got > 0) {
        return got;
      }
      first_ = nullptr;
    }
    return second_.Read(buffer);
  }

 private:
  ByteSource* first_;
  ByteSource& second_;
};

class RequestBody {
 public:
  explicit RequestBody(const HttpRequest& request)
      : reader_(request.body_reader),
        buffered_(request.body),
        buffered_size_(request.body.size()) {}
  ByteSource& source() {
    return reader_ != nullptr ? static_cast<ByteSource&>(*reader_) : buffered_;
  }
  std::optional<std::uint64_t> content_length(const HttpRequest& request) const {
    if (reader_ != nullptr) {
      if (auto length = reader_->content_length()) {
        return length;
      }
    }
    if (auto header = request.Header("Content-Length")) {
      return ParseDecimal(*header);
    }
    if (reader_ == nullptr) {
      return buffered_size_;
    }
    return std::nullopt;
  }

 private:
  BodyReader* reader_;
  StringSource buffered_;
  std::uint64_t buffered_size_ = 0;
};

std::string MetadataJson(const std::vector<std::pair<std::string, std::string>>& pairs) {
  json::object object;
  for (const auto& [key, value] : pairs) {
    object[key] = value;
  }
  return json::serialize(object);
}

// Upload-Metadata as the client sent it (re-encoded from what we stored).
std::string EncodeMetadata(const std::string& metadata_json) {
  if (metadata_json.empty()) {
    return "";
  }
  std::string header;
  try {
    auto parsed = json::parse(metadata_json);
    for (const auto& [key, value] : parsed.as_object()) {
      if (!header.empty()) {
        header += ",";
      }
      header += std::string(key);
      if (value.is_string() && !value.as_string().empty()) {
        header += " " + Base64Encode(std::string(value.as_string()));
      }
    }
  } catch (const std::exception&) {
    return "";
  }
  return header;
}

}  // namespace

std::string SourceKeyFor(std::string_view upload_id) {
  return fmt::format("uploads/{}/source", upload_id);
}

// RAII guard of an in-process key lock.
class UploadService::KeyLock {
 public:
  KeyLock(UploadService& service, std::string key) : service_(service), key_(std::move(key)) {
    service_.AcquireKey(key_);
  }
  ~KeyLock() { service_.ReleaseKey(key_); }
  KeyLock(const KeyLock&) = delete;
  KeyLock& operator=(const KeyLock&) = delete;

 private:
  UploadService& service_;
  std::string key_;
};

UploadService::UploadService(UploadConfig config, UploadDependencies deps)
    : config_(std::move(config)), deps_(std::move(deps)) {}

void UploadService::AcquireKey(const std::string& key) {
  std::unique_lock lock(mutex_);
  released_.wait(lock, [&] { return busy_keys_.count(key) == 0; });
  busy_keys_[key] = 1;
}

void UploadService::ReleaseKey(const std::string& key) {
  {
    std::lock_guard lock(mutex_);
    busy_keys_.erase(key);
  }
  released_.notify_all();
}

bool UploadService::Expired(const UploadSession& session) const {
  return session.state != "completed" && session.expires_at <= deps_.clock->WallNow();
}

Result<UploadSession> UploadService::LoadForWrite(const HttpRequest& request, std::string_view id) {
  SG_RETURN_IF_ERROR(RequireWriter(request));
  SG_ASSIGN_OR_RETURN(auto valid, ValidId(id));
  auto session = deps_.metadata->GetUpload(valid);
  if (!session) {
    if (session.error().code == ErrorCode::kNotFound) {
      return MakeError(ErrorCode::kNotFound, "no upload {}", valid);
    }
    return MakeError(session.error());
  }
  // Someone else's session is indistinguishable from a missing one (no id probing).
  if (session->owner != request.principal.id && !request.principal.HasRole("admin")) {
    return MakeError(ErrorCode::kNotFound, "no upload {}", valid);
  }
  return session;
}

Result<HttpResponse> UploadService::CreateSession(const HttpRequest& request, UploadSession session,
                                                  std::uint64_t chunk_size) {
  if (session.size == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "size: an empty file cannot be uploaded");
  }
  if (session.size > config_.max_file_size.bytes) {
    return ErrorResponse(413,
                         fmt::format("size {} exceeds the largest upload, {} bytes", session.size,
                                     config_.max_file_size.bytes),
                         request);
  }
  ChunkLayout layout{session.size, chunk_size};
  if (layout.TotalChunks() > kMaxChunks) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a file of {} bytes in chunks of {} bytes makes {} chunks; at most {} are "
                     "allowed: use a larger chunk_size",
                     session.size, chunk_size, layout.TotalChunks(), kMaxChunks);
  }
  session.owner = request.principal.id;
  SG_ASSIGN_OR_RETURN(auto open, deps_.metadata->CountOpenUploads(session.owner));
  if (open >= static_cast<std::uint64_t>(config_.max_open_sessions_per_owner)) {
    return MakeError(ErrorCode::kResourceExhausted,
                     "{} already has {} open uploads (the limit is {}): finish or delete one "
                     "first",
                     session.owner, open, config_.max_open_sessions_per_owner);
  }
  if (config_.quota_per_owner.bytes > 0) {
    SG_ASSIGN_OR_RETURN(auto used, deps_.metadata->StorageUsed(session.owner));
    if (used + session.size > config_.quota_per_owner.bytes) {
      return ErrorResponse(
          413,
          fmt::format("storage quota exceeded: {} bytes used of {}, this upload needs {}", used,
                      config_.quota_per_owner.bytes, session.size),
          request);
    }
  }
  session.id = NewId();
  session.chunk_size = chunk_size;
  session.total_chunks = static_cast<std::uint32_t>(layout.TotalChunks());
  session.state = "open";
  session.object_key = SourceKeyFor(session.id);
  session.created_at = deps_.clock->WallNow();
  session.expires_at =
      session.created_at +
      std::chrono::duration_cast<std::chrono::system_clock::duration>(config_.session_ttl);
  if (session.title.empty()) {
    session.title = session.filename;
  }
  SG_ASSIGN_OR_RETURN(session.multipart_id, deps_.objects->CreateMultipart(
                                                session.object_key, {.part_size = chunk_size,
                                                                     .total_size = session.size}));
  if (auto created = deps_.metadata->CreateUpload(session); !created) {
    (void)deps_.objects->AbortMultipart(session.object_key, session.multipart_id);
    return MakeError(created.error());
  }
  deps_.logger->info("upload {} opened by {}: {} ({} bytes, {} chunks, {}, {})", session.id,
                     session.owner, session.filename, session.size, session.total_chunks,
                     session.protocol, session.visibility);
  json::object body;
  body["upload_id"] = session.id;
  body["chunk_size"] = session.chunk_size;
  body["total_chunks"] = session.total_chunks;
  body["expires_at"] = FormatRfc3339(session.expires_at);
  auto response = HttpResponse::Json(201, json::serialize(body));
  response.SetHeader("Location", "/api/v1/upload/" + session.id);
  return response;
}

// ---------------------------------------------------------------- chunked API

Result<HttpResponse> UploadService::Init(const HttpRequest& request) {
  SG_RETURN_IF_ERROR(RequireWriter(request));
  json::value parsed;
  try {
    parsed = json::parse(request.body);
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInvalidArgument, "body is not JSON: {}", e.what());
  }
  if (!parsed.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "body must be a JSON object");
  }
  const auto& body = parsed.as_object();
  auto string_field = [&](std::string_view key, bool required,
                          std::size_t max_length) -> Result<std::string> {
    auto* value = body.if_contains(key);
    if (value == nullptr || value->is_null()) {
      if (required) {
        return MakeError(ErrorCode::kInvalidArgument, "{}: required", key);
      }
      return std::string();
    }
    if (!value->is_string()) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: must be a string", key);
    }
    if (value->as_string().size() > max_length) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: longer than {} characters", key,
                       max_length);
    }
    return std::string(value->as_string());
  };
  auto uint_field = [&](std::string_view key) -> Result<std::optional<std::uint64_t>> {
    auto* value = body.if_contains(key);
    if (value == nullptr || value->is_null()) {
      return std::optional<std::uint64_t>();
    }
    if (value->is_uint64()) {
      return std::optional<std::uint64_t>(value->as_uint64());
    }
    if (value->is_int64() && value->as_int64() >= 0) {
      return std::optional<std::uint64_t>(static_cast<std::uint64_t>(value->as_int64()));
    }
    return MakeError(ErrorCode::kInvalidArgument, "{}: must be a non-negative integer", key);
  };

  UploadSession session;
  session.protocol = "chunked";
  SG_ASSIGN_OR_RETURN(session.filename, string_field("filename", true, 255));
  if (session.filename.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "filename: must not be empty");
  }
  SG_ASSIGN_OR_RETURN(session.content_type, string_field("content_type", false, 255));
  SG_ASSIGN_OR_RETURN(session.title, string_field("title", false, 500));
  SG_ASSIGN_OR_RETURN(session.description, string_field("description", false, 10'000));
  SG_ASSIGN_OR_RETURN(auto sha, string_field("sha256", false, 64));
  if (!sha.empty()) {
    SG_ASSIGN_OR_RETURN(session.declared_sha256, NormalizeSha256Hex(sha, "sha256"));
  }
  if (auto* tags = body.if_contains("tags"); tags != nullptr && !tags->is_null()) {
    if (!tags->is_array()) {
      return MakeError(ErrorCode::kInvalidArgument, "tags: must be an array of strings");
    }
    for (const auto& tag : tags->as_array()) {
      if (!tag.is_string() || tag.as_string().size() > 100) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "tags: must be strings of at most 100 characters");
      }
      session.tags.emplace_back(tag.as_string());
    }
    session.tags = NormalizeTags(std::move(session.tags));
  }
  if (auto* visibility = body.if_contains("visibility");
      visibility != nullptr && !visibility->is_null()) {
    if (!visibility->is_string() || !IsVisibility(visibility->as_string())) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "visibility: must be \"public\", \"unlisted\" or \"private\"");
    }
    session.visibility = std::string(visibility->as_string());
  }
  SG_ASSIGN_OR_RETURN(auto size, uint_field("size"));
  if (!size) {
    return MakeError(ErrorCode::kInvalidArgument, "size: required");
  }
  session.size = *size;
  SG_ASSIGN_OR_RETURN(auto requested_chunk, uint_field("chunk_size"));
  std::uint64_t chunk_size = requested_chunk.value_or(config_.chunk_size.bytes);
  if (chunk_size < config_.min_chunk_size.bytes || chunk_size > config_.max_chunk_size.bytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "chunk_size: must be between {} and {} bytes, got {}",
                     config_.min_chunk_size.bytes, config_.max_chunk_size.bytes, chunk_size);
  }
  return CreateSession(request, std::move(session), chunk_size);
}

Result<HttpResponse> UploadService::PutChunk(const HttpRequest& request) {
  SG_ASSIGN_OR_RETURN(auto session, LoadForWrite(request, request.PathParam("id")));
  auto index_param = ParseDecimal(request.PathParam("n"));
  if (!index_param || *index_param >= session.total_chunks) {
    return MakeError(ErrorCode::kInvalidArgument, "chunk index must be 0..{}",
                     session.total_chunks - 1);
  }
  auto index = static_cast<std::uint32_t>(*index_param);
  if (Expired(session)) {
    return ErrorResponse(410, fmt::format("upload {} expired", session.id), request);
  }
  ChunkLayout layout{session.size, session.chunk_size};
  const std::uint64_t expected = layout.ChunkBytes(index);
  RequestBody body(request);
  if (auto length = body.content_length(request)) {
    if (*length > session.chunk_size) {
      return ErrorResponse(413,
                           fmt::format("chunk {} has {} bytes; chunks are at most {} bytes", index,
                                       *length, session.chunk_size),
                           request);
    }
    if (*length != expected) {
      return MakeError(ErrorCode::kInvalidArgument, "chunk {} must have {} bytes, got {}", index,
                       expected, *length);
    }
  }
  SG_ASSIGN_OR_RETURN(auto declared, ParseChunkChecksum(request.headers));

  // One writer per chunk: the ObjectStore must not see the same part twice at once, and the
  // second sender must see the first one's result.
  KeyLock lock(*this, fmt::format("chunk:{}:{}", session.id, index));
  SG_ASSIGN_OR_RETURN(auto chunks, deps_.metadata->ListChunks(session.id));
  auto stored = std::find_if(chunks.begin(), chunks.end(),
                             [&](const StoredChunk& c) { return c.index == index; });

  auto size_error = [&](std::uint64_t got) -> Result<HttpResponse> {
    if (got > session.chunk_size) {
      return ErrorResponse(413,
                           fmt::format("chunk {} is larger than the chunk size, {} bytes", index,
                                       session.chunk_size),
                           request);
    }
    return MakeError(ErrorCode::kInvalidArgument, "chunk {} must have {} bytes, got {}", index,
                     expected, got);
  };

  if (stored != chunks.end()) {
    // A re-send: compare, never overwrite what was acknowledged.
    auto sha = Digest::Sha256();
    SG_ASSIGN_OR_RETURN(auto got, Consume(body.source(), session.chunk_size, {&sha}));
    if (got != expected) {
      return size_error(got);
    }
    auto hex = HexEncode(sha.Finish());
    if (declared && *declared != hex) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "checksum mismatch: the header says {}, the body is {}", *declared, hex);
    }
    if (hex != stored->sha256) {
      return MakeError(ErrorCode::kAlreadyExists,
                       "chunk {} is already stored with different content (sha256 {})", index,
                       stored->sha256);
    }
    json::object out;
    out["upload_id"] = session.id;
    out["index"] = index;
    out["size"] = expected;
    out["sha256"] = hex;
    out["already_stored"] = true;
    return HttpResponse::Json(200, json::serialize(out));
  }
  if (session.state != "open") {
    return MakeError(ErrorCode::kAlreadyExists, "upload {} is {}: no more chunks are accepted",
                     session.id, session.state);
  }

  auto sha = Digest::Sha256();
  MeteredSource metered(body.source(), expected, {&sha});
  auto part = deps_.objects->UploadPart(session.object_key, session.multipart_id, index + 1,
                                        metered, expected);
  if (metered.inner_error()) {
    return MakeError(metered.inner_error()->WithContext(fmt::format("chunk {}", index)));
  }
  if (metered.bytes() < expected) {
    return size_error(metered.bytes());
  }
  if (!part) {
    return MakeError(part.error());
  }
  // The body must end where the chunk ends; bytes past it mean a wrong size (not stored).
  SG_ASSIGN_OR_RETURN(auto extra, Consume(body.source(), session.chunk_size, {}));
  if (extra > 0) {
    return size_error(expected + extra);
  }
  auto hex = HexEncode(sha.Finish());
  if (declared && *declared != hex) {
    // The bytes are in place but not recorded: the chunk stays missing.
    return MakeError(ErrorCode::kInvalidArgument,
                     "checksum mismatch: the header says {}, the body is {}; chunk {} was not "
                     "stored",
                     *declared, hex, index);
  }
  // Recorded only now that UploadPart returned (fsynced): after a crash a chunk is either
  // whole and counted, or absent.
  SG_ASSIGN_OR_RETURN(
      auto outcome,
      deps_.metadata->PutChunk(
          session.id, {.index = index, .size = expected, .sha256 = hex, .etag = part->etag}));
  if (outcome == ChunkPutOutcome::kStored) {
    AdvancePrefixAfterStore(session);
  }
  json::object out;
  out["upload_id"] = session.id;
  out["index"] = index;
  out["size"] = expected;
  out["sha256"] = hex;
  out["already_stored"] = outcome == ChunkPutOutcome::kIdenticalAlreadyStored;
  return HttpResponse::Json(outcome == ChunkPutOutcome::kStored ? 201 : 200, json::serialize(out));
}

Result<HttpResponse> UploadService::Status(const HttpRequest& request) {
  SG_ASSIGN_OR_RETURN(auto session, LoadForWrite(request, request.PathParam("id")));
  SG_ASSIGN_OR_RETURN(auto chunks, deps_.metadata->ListChunks(session.id));
  auto indices = Indices(chunks);
  std::uint64_t received = 0;
  for (const auto& chunk : chunks) {
    received += chunk.size;
  }
  json::object body;
  body["upload_id"] = session.id;
  body["protocol"] = session.protocol;
  body["state"] = Expired(session) ? "expired" : session.state;
  body["filename"] = session.filename;
  body["visibility"] = session.visibility;
  body["size"] = session.size;
  body["chunk_size"] = session.chunk_size;
  body["total_chunks"] = session.total_chunks;
  body["received_chunks"] = RangesJson(ToRanges(indices));
  body["missing_chunks"] = RangesJson(MissingRanges(indices, session.total_chunks));
  body["bytes_received"] = received;
  body["percent"] = session.size == 0
                        ? 0.0
                        : static_cast<double>(received) * 100.0 / static_cast<double>(session.size);
  body["expires_at"] = FormatRfc3339(session.expires_at);
  if (!session.declared_sha256.empty()) {
    body["sha256"] = session.declared_sha256;
  }
  if (!session.content_id.empty()) {
    body["content_id"] = session.content_id;
  }
  auto response = HttpResponse::Json(200, json::serialize(body));
  response.SetHeader("Cache-Control", "no-store");
  return response;
}

Result<HttpResponse> UploadService::Complete(const HttpRequest& request) {
  SG_ASSIGN_OR_RETURN(auto session, LoadForWrite(request, request.PathParam("id")));
  SG_ASSIGN_OR_RETURN(auto done, Finish(request, session.id));
  if (done.failure) {
    return std::move(*done.failure);
  }
  json::object body;
  body["upload_id"] = session.id;
  body["content_id"] = done.content_id;
  auto response = HttpResponse::Json(done.status, json::serialize(body));
  response.SetHeader("Location", "/api/v1/content/" + done.content_id);
  return response;
}

Result<HttpResponse> UploadService::Abort(const HttpRequest& request) {
  SG_ASSIGN_OR_RETURN(auto session, LoadForWrite(request, request.PathParam("id")));
  if (session.state == "completed") {
    return MakeError(ErrorCode::kAlreadyExists,
                     "upload {} is completed (content {}): delete the content instead", session.id,
                     session.content_id);
  }
  if (session.state == "completing") {
    return MakeError(ErrorCode::kAlreadyExists, "upload {} is being completed", session.id);
  }
  SG_RETURN_IF_ERROR(RemoveUpload(session));
  deps_.logger->info("upload {} deleted by {}", session.id, request.principal.id);
  HttpResponse response;
  response.status = 204;
  return response;
}

// ---------------------------------------------------------------- completion

Result<> UploadService::RevertToOpen(std::string_view id) {
  return deps_.metadata->TransitionUpload(id, "completing", "open");
}

std::shared_ptr<UploadService::PrefixHash> UploadService::PrefixHashFor(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto it = prefix_hashes_.find(id);
  if (it == prefix_hashes_.end()) {
    it = prefix_hashes_.emplace(std::string(id), std::make_shared<PrefixHash>()).first;
  }
  return it->second;
}

std::shared_ptr<UploadService::PrefixHash> UploadService::TakePrefixHash(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto it = prefix_hashes_.find(id);
  if (it == prefix_hashes_.end()) {
    return nullptr;
  }
  auto hash = std::move(it->second);
  prefix_hashes_.erase(it);
  return hash;
}

Result<bool> UploadService::AdvancePrefix(PrefixHash& hash, const UploadSession& session,
                                          const std::vector<StoredChunk>& chunks) {
  bool moved = false;
  // `chunks` is sorted by index: walk it from the first chunk not yet hashed.
  auto it = std::lower_bound(chunks.begin(), chunks.end(), hash.next,
                             [](const StoredChunk& c, std::uint32_t n) { return c.index < n; });
  for (; it != chunks.end() && it->index == hash.next; ++it) {
    SG_ASSIGN_OR_RETURN(
        auto reader,
        deps_.objects->ReadPart(session.object_key, session.multipart_id, it->index + 1, it->size));
    SG_ASSIGN_OR_RETURN(auto read, Consume(*reader, it->size, {&hash.digest}));
    if (read != it->size) {
      return MakeError(ErrorCode::kInternal, "chunk {} of upload {} has {} bytes, {} recorded",
                       it->index, session.id, read, it->size);
    }
    ++hash.next;
    moved = true;
  }
  return moved;
}

void UploadService::AdvancePrefixAfterStore(const UploadSession& session) {
  auto hash = PrefixHashFor(session.id);
  std::unique_lock lock(hash->mutex, std::try_to_lock);
  if (!lock.owns_lock()) {
    return;  // another request is advancing it and re-reads the chunk list when done
  }
  while (true) {
    auto chunks = deps_.metadata->ListChunks(session.id);
    auto moved = chunks ? AdvancePrefix(*hash, session, *chunks) : Result<bool>(false);
    if (!moved) {
      // A broken prefix must not be trusted: drop it; complete hashes everything.
      deps_.logger->warn("upload {}: running hash dropped: {}", session.id, moved.error().message);
      lock.unlock();
      TakePrefixHash(session.id);
      return;
    }
    if (!*moved) {
      return;
    }
  }
}

Result<> UploadService::RemoveUpload(const UploadSession& session) {
  TakePrefixHash(session.id);
  SG_RETURN_IF_ERROR(deps_.objects->AbortMultipart(session.object_key, session.multipart_id));
  SG_RETURN_IF_ERROR(deps_.objects->DeletePrefix(fmt::format("uploads/{}/", session.id)));
  return deps_.metadata->DeleteUpload(session.id);
}

Result<UploadService::Completion> UploadService::Finish(const HttpRequest& request,
                                                        std::string_view id) {
  const auto give_up = deps_.clock->Now() + kCompletionWait;
  auto pause = std::chrono::milliseconds(20);
  while (true) {
    auto session = deps_.metadata->GetUpload(id);
    if (!session) {
      if (session.error().code == ErrorCode::kNotFound) {
        // The winner found an unplayable file and removed the upload.
        return MakeError(ErrorCode::kNotFound, "upload {} was removed", id);
      }
      return MakeError(session.error());
    }
    if (session->state == "completed") {
      return Completion{.status = 200, .content_id = session->content_id, .failure = {}};
    }
    if (session->state == "completing") {
      bool ours = false;
      {
        std::lock_guard lock(mutex_);
        ours = completing_.count(id) != 0;
      }
      if (!ours) {
        // Left by a process that died mid-completion (one node owns its sessions): the
        // completion is idempotent, so start it over.
        deps_.logger->warn("upload {} was left completing; completing it again", id);
        auto reverted = RevertToOpen(id);
        if (!reverted && reverted.error().code != ErrorCode::kAlreadyExists) {
          return MakeError(reverted.error());
        }
        continue;
      }
      if (deps_.clock->Now() >= give_up) {
        return MakeError(ErrorCode::kUnavailable,
                         "upload {} is still being completed by another request; retry", id);
      }
      deps_.clock->SleepFor(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(1000));
      continue;
    }
    if (session->state != "open") {
      return MakeError(ErrorCode::kAlreadyExists, "upload {} is {}", id, session->state);
    }
    if (Expired(*session)) {
      return Completion{
          .status = 410,
          .content_id = {},
          .failure = ErrorResponse(410, fmt::format("upload {} expired", id), request)};
    }
    {
      std::lock_guard lock(mutex_);
      ++completing_[std::string(id)];
    }
    auto unmark = [&] {
      std::lock_guard lock(mutex_);
      auto it = completing_.find(id);
      if (--it->second == 0) {
        completing_.erase(it);
      }
    };
    auto won = deps_.metadata->TransitionUpload(id, "open", "completing");
    if (!won) {
      unmark();
      if (won.error().code == ErrorCode::kAlreadyExists) {
        continue;  // another request won: wait for it
      }
      return MakeError(won.error());
    }
    auto result = RunCompletion(request, *session);
    unmark();
    return result;
  }
}

Result<UploadService::Completion> UploadService::RunCompletion(const HttpRequest& request,
                                                               const UploadSession& session) {
  // Every early return puts the session back to open so the client can fix and retry.
  auto revert = [&](Error error) -> Result<Completion> {
    (void)RevertToOpen(session.id);
    return MakeError(std::move(error));
  };
  auto chunks = deps_.metadata->ListChunks(session.id);
  if (!chunks) {
    return revert(chunks.error());
  }
  auto missing = MissingRanges(Indices(*chunks), session.total_chunks);
  if (!missing.empty()) {
    return revert(Error{ErrorCode::kInvalidArgument, fmt::format("upload {} is missing chunks {}",
                                                                 session.id, RangesText(missing))});
  }

  // The whole-file hash, streamed part by part in one bounded buffer, before anything is
  // assembled: a mismatch leaves the session exactly as it was. A completion repeated after
  // a crash may find the parts already assembled: then the object itself is hashed.
  auto whole = Digest::Sha256();
  std::vector<PartInfo> parts;
  parts.reserve(chunks->size());
  for (const auto& chunk : *chunks) {
    parts.push_back({.part_number = chunk.index + 1, .size = chunk.size, .etag = chunk.etag});
  }
  auto assembled = deps_.objects->Stat(session.object_key);
  std::string sha256;
  if (!(assembled && assembled->size == session.size)) {
    // Usually the running hash already covers (almost) every chunk: finish it.
    if (auto prefix = TakePrefixHash(session.id)) {
      std::lock_guard lock(prefix->mutex);
      auto moved = AdvancePrefix(*prefix, session, *chunks);
      if (moved && prefix->next == session.total_chunks) {
        sha256 = HexEncode(prefix->digest.Finish());
      }
    }
  }
  if (!sha256.empty()) {
    // Hashed while the chunks arrived.
  } else if (assembled && assembled->size == session.size) {
    auto reader = deps_.objects->Get(session.object_key);
    if (!reader) {
      return revert(reader.error());
    }
    auto read = Consume(**reader, session.size, {&whole});
    if (!read) {
      return revert(read.error());
    }
  } else {
    for (const auto& chunk : *chunks) {
      auto reader = deps_.objects->ReadPart(session.object_key, session.multipart_id,
                                            chunk.index + 1, chunk.size);
      if (!reader) {
        return revert(reader.error());
      }
      auto read = Consume(**reader, chunk.size, {&whole});
      if (!read) {
        return revert(read.error());
      }
      if (*read != chunk.size) {
        return revert(Error{ErrorCode::kInternal,
                            fmt::format("chunk {} of upload {} has {} bytes on disk, {} recorded",
                                        chunk.index, session.id, *read, chunk.size)});
      }
    }
  }
  if (sha256.empty()) {
    sha256 = HexEncode(whole.Finish());
  }
  if (!session.declared_sha256.empty() && sha256 != session.declared_sha256) {
    (void)RevertToOpen(session.id);
    return Completion{
        .status = 422,
        .content_id = {},
        .failure = ErrorResponse(422,
                                 fmt::format("the file's SHA-256 is {}, but {} was declared",
                                             sha256, session.declared_sha256),
                                 request)};
  }

  auto info = deps_.objects->CompleteMultipart(session.object_key, session.multipart_id, parts);
  if (!info) {
    return revert(info.error());
  }

  // ffprobe reads a local file; remote stores are copied to a temporary one first.
  std::filesystem::path probe_path;
  std::optional<std::filesystem::path> temporary;
  if (auto local = deps_.objects->LocalPath(info->key)) {
    probe_path = *local;
  } else {
    temporary = deps_.temp_dir / fmt::format("sg-probe-{}", session.id);
    auto reader = deps_.objects->Get(info->key);
    if (!reader) {
      return revert(reader.error());
    }
    std::ofstream out(*temporary, std::ios::binary | std::ios::trunc);
    std::vector<char> buffer(256 * 1024);
    while (true) {
      auto got = (*reader)->Read(buffer);
      if (!got) {
        std::filesystem::remove(*temporary);
        return revert(got.error());
      }
      if (*got == 0) {
        break;
      }
      out.write(buffer.data(), static_cast<std::streamsize>(*got));
    }
    if (!out) {
      std::filesystem::remove(*temporary);
      return revert(Error{ErrorCode::kInternal, "cannot write a temporary file for ffprobe"});
    }
    probe_path = *temporary;
  }
  auto probe = ProbeFile(config_.ffprobe, probe_path, config_.probe_timeout);
  if (temporary) {
    std::error_code ignored;
    std::filesystem::remove(*temporary, ignored);
  }
  if (!probe) {
    // ffprobe is missing or broken: our problem, not the file's. Keep the upload.
    deps_.logger->error("cannot run {}: {}", config_.ffprobe, probe.error().ToString());
    return revert(Error{ErrorCode::kUnavailable,
                        fmt::format("the media probe is unavailable: {}", probe.error().message)});
  }
  if (!*probe) {
    auto reason = probe->error().reason;
    deps_.logger->warn("upload {} is not a playable video: {}", session.id, reason);
    if (auto removed = RemoveUpload(session); !removed) {
      deps_.logger->error("cannot remove upload {}: {}", session.id, removed.error().ToString());
    }
    return Completion{.status = 415,
                      .content_id = {},
                      .failure = ErrorResponse(415, "not a playable video: " + reason, request)};
  }
  const auto& summary = **probe;

  // The content id is the upload id: a completion repeated after a crash finds its record
  // instead of creating a second one.
  ContentRecord content;
  content.id = session.id;
  content.owner = session.owner;
  content.title = session.title.empty() ? session.filename : session.title;
  content.description = session.description;
  content.tags = session.tags;
  content.visibility = session.visibility;
  content.status = "uploaded";
  content.filename = session.filename;
  content.content_type = session.content_type;
  content.object_key = info->key;
  content.size = info->size;
  content.sha256 = sha256;
  content.probe_json = summary.json;
  content.duration_seconds = summary.duration_seconds;
  content.width = summary.width;
  content.height = summary.height;
  content.created_at = deps_.clock->WallNow();
  content.updated_at = content.created_at;
  if (auto created = deps_.metadata->CreateContent(content);
      !created && created.error().code != ErrorCode::kAlreadyExists) {
    return revert(created.error());
  }
  SG_RETURN_IF_ERROR(
      deps_.metadata->TransitionUpload(session.id, "completing", "completed", content.id));

  json::object event;
  event["content_id"] = content.id;
  event["object_key"] = content.object_key;
  event["size"] = content.size;
  event["sha256"] = content.sha256;
  event["owner"] = content.owner;
  event["probe"] = json::parse(summary.json);
  if (auto published = deps_.bus->Publish(
          {.subject = std::string(kFileUploadedSubject), .data = json::serialize(event)});
      !published) {
    // The content exists and is listed; a lost event only delays processing.
    deps_.logger->error("cannot publish {} for {}: {}", kFileUploadedSubject, content.id,
                        published.error().ToString());
  }
  deps_.logger->info("upload {} completed: content {} ({} bytes, sha256 {})", session.id,
                     content.id, content.size, content.sha256);
  return Completion{.status = 201, .content_id = content.id, .failure = {}};
}

Result<std::size_t> UploadService::CleanupExpired() {
  std::size_t removed = 0;
  while (true) {
    SG_ASSIGN_OR_RETURN(auto expired,
                        deps_.metadata->ListExpiredUploads(deps_.clock->WallNow(), 100));
    std::size_t before = removed;
    for (const auto& session : expired) {
      {
        std::lock_guard lock(mutex_);
        if (completing_.count(session.id) != 0) {
          continue;  // finishing right now: not abandoned
        }
      }
      // A session that died while completing may already own a content's source file.
      if (deps_.metadata->GetContent(session.id)) {
        (void)deps_.metadata->TransitionUpload(session.id, session.state, "completed", session.id);
        continue;
      }
      if (auto gone = RemoveUpload(session); !gone) {
        deps_.logger->warn("cannot remove expired upload {}: {}", session.id,
                           gone.error().ToString());
        continue;
      }
      ++removed;
      deps_.logger->info("upload {} expired and was removed", session.id);
    }
    if (expired.size() < 100 || removed == before) {
      return removed;
    }
  }
}

// ---------------------------------------------------------------- tus

HttpResponse UploadService::TusRespond(const HttpRequest& request, Result<HttpResponse> result) {
  HttpResponse response = result ? std::move(*result)
                                 : HttpResponse::Error(HttpStatusFor(result.error().code),
                                                       ErrorCodeName(result.error().code),
                                                       result.error().message, request);
  response.SetHeader("Tus-Resumable", std::string(kTusVersion));
  return response;
}

namespace {

// tus: every request but OPTIONS names the protocol version it speaks.
std::optional<HttpResponse> TusVersionFailure(const HttpRequest& request) {
  auto version = request.Header("Tus-Resumable");
  if (version && *version == kTusVersion) {
    return std::nullopt;
  }
  auto response = ErrorResponse(412, fmt::format("Tus-Resumable must be {}", kTusVersion), request);
  response.SetHeader("Tus-Version", std::string(kTusVersion));
  return response;
}

}  // namespace

HttpResponse UploadService::TusOptions(const HttpRequest& request) {
  HttpResponse response;
  response.status = 204;
  response.SetHeader("Tus-Version", std::string(kTusVersion));
  response.SetHeader("Tus-Extension", std::string(kTusExtensions));
  response.SetHeader("Tus-Max-Size", std::to_string(config_.max_file_size.bytes));
  response.SetHeader("Tus-Checksum-Algorithm", std::string(kTusChecksumAlgorithms));
  return TusRespond(request, std::move(response));
}

Result<std::uint64_t> UploadService::TusChunkBase(const UploadSession& session) {
  SG_ASSIGN_OR_RETURN(auto chunks, deps_.metadata->ListChunks(session.id));
  auto prefix = ContiguousPrefix(Indices(chunks));
  return std::min<std::uint64_t>(static_cast<std::uint64_t>(prefix) * session.chunk_size,
                                 session.size);
}

std::string UploadService::TusTailKey(const UploadSession& session, std::uint64_t base) {
  // The base is in the key, so a tail left behind by a crash after its chunk was recorded
  // can never be counted again (the offset only ever looks at the tail of the current base).
  return fmt::format("uploads/{}/tail-{}", session.id, base);
}

Result<std::uint64_t> UploadService::TusTailBytes(const UploadSession& session,
                                                  std::uint64_t base) {
  auto tail = deps_.objects->Stat(TusTailKey(session, base));
  if (!tail) {
    if (tail.error().code == ErrorCode::kNotFound) {
      return std::uint64_t{0};
    }
    return MakeError(tail.error());
  }
  return tail->size;
}

Result<std::uint64_t> UploadService::TusOffset(const UploadSession& session) {
  if (session.state == "completed") {
    return session.size;
  }
  SG_ASSIGN_OR_RETURN(auto base, TusChunkBase(session));
  SG_ASSIGN_OR_RETURN(auto tail, TusTailBytes(session, base));
  return base + tail;
}

HttpResponse UploadService::TusCreate(const HttpRequest& request) {
  if (auto failure = TusVersionFailure(request)) {
    return TusRespond(request, std::move(*failure));
  }
  auto result = [&]() -> Result<HttpResponse> {
    SG_RETURN_IF_ERROR(RequireWriter(request));
    if (request.Header("Upload-Defer-Length")) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "Upload-Defer-Length is not supported: send Upload-Length");
    }
    auto length_header = request.Header("Upload-Length");
    if (!length_header) {
      return MakeError(ErrorCode::kInvalidArgument, "Upload-Length is required");
    }
    auto length = ParseDecimal(*length_header);
    if (!length) {
      return MakeError(ErrorCode::kInvalidArgument, "Upload-Length must be a decimal integer");
    }
    UploadSession session;
    session.protocol = "tus";
    session.size = *length;
    std::vector<std::pair<std::string, std::string>> metadata;
    if (auto header = request.Header("Upload-Metadata")) {
      SG_ASSIGN_OR_RETURN(metadata, ParseUploadMetadata(*header));
    }
    for (const auto& [key, value] : metadata) {
      if (key == "filename" || key == "name") {
        session.filename = value;
      } else if (key == "filetype" || key == "type") {
        session.content_type = value;
      } else if (key == "title") {
        session.title = value;
      } else if (key == "description") {
        session.description = value;
      } else if (key == "tags") {
        session.tags = NormalizeTags(SplitTags(value));
      } else if (key == "visibility") {
        if (!IsVisibility(value)) {
          return MakeError(ErrorCode::kInvalidArgument,
                           "Upload-Metadata visibility: must be \"public\", \"unlisted\" or "
                           "\"private\" (base64-encoded)");
        }
        session.visibility = value;
      } else if (key == "sha256") {
        SG_ASSIGN_OR_RETURN(session.declared_sha256, NormalizeSha256Hex(value, "sha256"));
      }
    }
    if (session.filename.empty()) {
      session.filename = "upload";
    }
    session.metadata_json = MetadataJson(metadata);
    auto has_body = [&] {
      if (request.body_reader == nullptr) {
        return !request.body.empty();
      }
      if (auto content_length = request.body_reader->content_length()) {
        return *content_length > 0;
      }
      return request.Header("Transfer-Encoding").has_value();
    }();
    if (has_body) {
      auto type = request.Header("Content-Type");
      if (!type || *type != kOffsetContentType) {
        return ErrorResponse(415, fmt::format("a creation body must be {}", kOffsetContentType),
                             request);
      }
    }
    SG_ASSIGN_OR_RETURN(auto created,
                        CreateSession(request, std::move(session), config_.chunk_size.bytes));
    if (created.status != 201) {
      return created;
    }
    auto id = std::string(json::parse(created.body).at("upload_id").as_string());
    SG_ASSIGN_OR_RETURN(auto stored, deps_.metadata->GetUpload(id));
    HttpResponse response;
    response.status = 201;
    response.SetHeader("Location", "/api/v1/tus/" + id);
    response.SetHeader("Upload-Expires", FormatHttpDate(stored.expires_at));
    if (has_body) {
      // creation-with-upload: the body is the first PATCH at offset 0.
      KeyLock lock(*this, "tus:" + id);
      auto patched = TusPatchLocked(request, stored, 0);
      if (!patched) {
        return MakeError(patched.error());
      }
      if (patched->status != 204) {
        return patched;
      }
      for (const auto& [name, value] : patched->headers) {
        if (name == "Upload-Offset" || name == kContentIdHeader) {
          response.SetHeader(name, value);
        }
      }
    }
    return response;
  }();
  return TusRespond(request, std::move(result));
}

HttpResponse UploadService::TusHead(const HttpRequest& request) {
  if (auto failure = TusVersionFailure(request)) {
    return TusRespond(request, std::move(*failure));
  }
  auto result = [&]() -> Result<HttpResponse> {
    SG_ASSIGN_OR_RETURN(auto session, LoadForWrite(request, request.PathParam("id")));
    if (Expired(session)) {
      return ErrorResponse(410, fmt::format("upload {} expired", session.id), request);
    }
    SG_ASSIGN_OR_RETURN(auto offset, TusOffset(session));
    HttpResponse response;
    response.status = 200;
    response.SetHeader("Upload-Offset", std::to_string(offset));
    response.SetHeader("Upload-Length", std::to_string(session.size));
    response.SetHeader("Cache-Control", "no-store");
    response.SetHeader("Upload-Expires", FormatHttpDate(session.expires_at));
    if (auto metadata = EncodeMetadata(session.metadata_json); !metadata.empty()) {
      response.SetHeader("Upload-Metadata", metadata);
    }
    if (!session.content_id.empty()) {
      response.SetHeader(std::string(kContentIdHeader), session.content_id);
    }
    return response;
  }();
  return TusRespond(request, std::move(result));
}

HttpResponse UploadService::TusPatch(const HttpRequest& request) {
  if (auto failure = TusVersionFailure(request)) {
    return TusRespond(request, std::move(*failure));
  }
  auto result = [&]() -> Result<HttpResponse> {
    auto type = request.Header("Content-Type");
    if (!type || *type != kOffsetContentType) {
      return ErrorResponse(415, fmt::format("Content-Type must be {}", kOffsetContentType),
                           request);
    }
    auto offset_header = request.Header("Upload-Offset");
    auto client_offset = offset_header ? ParseDecimal(*offset_header) : std::nullopt;
    if (!client_offset) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "Upload-Offset is required (a decimal integer)");
    }
    SG_ASSIGN_OR_RETURN(auto session, LoadForWrite(request, request.PathParam("id")));
    // PATCHes of one upload run one at a time, so the offset check below holds until the
    // bytes are recorded.
    KeyLock lock(*this, "tus:" + session.id);
    SG_ASSIGN_OR_RETURN(session, deps_.metadata->GetUpload(session.id));
    return TusPatchLocked(request, std::move(session), *client_offset);
  }();
  return TusRespond(request, std::move(result));
}

Result<HttpResponse> UploadService::TusPatchLocked(const HttpRequest& request,
                                                   UploadSession session,
                                                   std::uint64_t client_offset) {
  if (Expired(session)) {
    return ErrorResponse(410, fmt::format("upload {} expired", session.id), request);
  }
  // The offset is the whole chunks stored plus the staged tail: bytes of the next chunk
  // that earlier PATCHes sent (a PATCH may end anywhere; tus allows any body size).
  SG_ASSIGN_OR_RETURN(auto base, TusChunkBase(session));
  SG_ASSIGN_OR_RETURN(auto tail_bytes, TusTailBytes(session, base));
  const std::uint64_t offset = base + tail_bytes;
  if (client_offset != offset) {
    return MakeError(ErrorCode::kAlreadyExists, "Upload-Offset is {}, the upload is at {}",
                     client_offset, offset);
  }
  if (session.state != "open") {
    return MakeError(ErrorCode::kAlreadyExists, "upload {} is {}", session.id, session.state);
  }
  std::optional<TusChecksum> checksum;
  if (auto header = request.Header("Upload-Checksum")) {
    SG_ASSIGN_OR_RETURN(checksum, ParseUploadChecksum(*header));
  }
  ChunkLayout layout{session.size, session.chunk_size};
  RequestBody body(request);
  auto length = body.content_length(request);
  if (length && offset + *length > session.size) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the body would end at byte {}, past Upload-Length {}", offset + *length,
                     session.size);
  }

  std::optional<Digest> patch_digest;
  if (checksum) {
    SG_ASSIGN_OR_RETURN(auto digest, Digest::Create(checksum->algorithm));
    patch_digest.emplace(std::move(digest));
  }
  // Every byte of this PATCH's body passes here once (Upload-Checksum covers exactly them).
  std::vector<Digest*> body_digests;
  if (patch_digest) {
    body_digests.push_back(&*patch_digest);
  }
  MeteredSource body_bytes(body.source(), std::numeric_limits<std::uint64_t>::max(), body_digests);
  std::unique_ptr<ObjectReader> carried;
  if (tail_bytes > 0) {
    SG_ASSIGN_OR_RETURN(carried, deps_.objects->Get(TusTailKey(session, base)));
  }

  std::vector<StoredChunk> pending;
  std::optional<Error> interrupted;
  std::string staged_key;  // a new tail written by this PATCH
  std::uint64_t staged_bytes = 0;
  auto index = layout.ChunkAt(base);
  while (index < layout.TotalChunks()) {
    const bool first = index == layout.ChunkAt(base);
    const std::uint64_t carry = first ? tail_bytes : 0;
    auto expected = layout.ChunkBytes(index);
    ConcatSource source(first && carried ? carried.get() : nullptr, body_bytes);
    if (length) {
      std::uint64_t body_left = *length - body_bytes.bytes();
      if (carry + body_left < expected) {
        // The body ends inside this chunk: stage what there is as the chunk's tail.
        if (body_left == 0) {
          break;
        }
        staged_key = TusTailKey(session, layout.ChunkOffset(index));
        std::string target = checksum ? staged_key + ".pending" : staged_key;
        MeteredSource piece(source, carry + body_left, {});
        auto put = deps_.objects->Put(target, piece);
        if (body_bytes.inner_error()) {
          interrupted = *body_bytes.inner_error();
          staged_key.clear();
          break;
        }
        if (!put) {
          return MakeError(put.error());
        }
        if (piece.bytes() != carry + body_left) {
          (void)deps_.objects->Delete(target);
          interrupted = Error{ErrorCode::kInvalidArgument, "the body ended early"};
          staged_key.clear();
          break;
        }
        staged_bytes = carry + body_left;
        break;
      }
    }
    auto sha = Digest::Sha256();
    MeteredSource metered(source, expected, {&sha});
    auto part = deps_.objects->UploadPart(session.object_key, session.multipart_id,
                                          static_cast<std::uint32_t>(index + 1), metered, expected);
    if (body_bytes.inner_error()) {
      interrupted = *body_bytes.inner_error();
      break;
    }
    if (metered.bytes() == 0 && metered.inner_ended()) {
      break;  // the body ended on a chunk boundary
    }
    if (metered.bytes() < expected) {
      // Cut short: this chunk is not recorded; the offset stays at its start.
      interrupted =
          Error{ErrorCode::kInvalidArgument, fmt::format("the body ended inside chunk {}", index)};
      break;
    }
    if (!part) {
      return MakeError(part.error());
    }
    StoredChunk chunk{.index = static_cast<std::uint32_t>(index),
                      .size = expected,
                      .sha256 = HexEncode(sha.Finish()),
                      .etag = part->etag};
    if (!checksum) {
      // Without a checksum every whole chunk counts at once (survives a later disconnect).
      SG_RETURN_IF_ERROR(deps_.metadata->PutChunk(session.id, chunk));
    } else {
      pending.push_back(std::move(chunk));
    }
    ++index;
  }
  if (!interrupted && index >= layout.TotalChunks()) {
    SG_ASSIGN_OR_RETURN(auto extra, Consume(body.source(), 1, {}));
    if (extra > 0) {
      return MakeError(ErrorCode::kInvalidArgument, "the body is longer than Upload-Length");
    }
  }
  if (checksum) {
    auto discard_staged = [&] {
      if (!staged_key.empty()) {
        (void)deps_.objects->Delete(staged_key + ".pending");
      }
    };
    if (interrupted) {
      discard_staged();
      return MakeError(*interrupted);  // nothing of this PATCH is recorded
    }
    if (patch_digest->Finish() != checksum->digest) {
      discard_staged();
      return ErrorResponse(460,
                           fmt::format("the body does not match Upload-Checksum ({}); the "
                                       "offset stays {}",
                                       checksum->algorithm, offset),
                           request);
    }
    for (const auto& chunk : pending) {
      SG_RETURN_IF_ERROR(deps_.metadata->PutChunk(session.id, chunk));
    }
    if (!staged_key.empty()) {
      // Verified: the pending tail becomes the tail (bounded copy of under one chunk).
      SG_ASSIGN_OR_RETURN(auto staged, deps_.objects->Get(staged_key + ".pending"));
      SG_RETURN_IF_ERROR(deps_.objects->Put(staged_key, *staged));
      (void)deps_.objects->Delete(staged_key + ".pending");
    }
  } else if (interrupted && interrupted->code != ErrorCode::kInvalidArgument) {
    return MakeError(*interrupted);
  }
  std::uint64_t new_base = std::min<std::uint64_t>(layout.ChunkOffset(index), session.size);
  if (tail_bytes > 0 && new_base != base) {
    (void)deps_.objects->Delete(TusTailKey(session, base));  // its chunk is stored now
  }
  std::uint64_t new_offset = new_base;
  if (!staged_key.empty()) {
    new_offset += staged_bytes;
  } else if (new_base == base) {
    new_offset += tail_bytes;  // nothing moved: the old tail still counts
  }
  HttpResponse response;
  response.status = 204;
  response.SetHeader("Upload-Offset", std::to_string(new_offset));
  response.SetHeader("Upload-Expires", FormatHttpDate(session.expires_at));
  if (new_offset == session.size) {
    SG_ASSIGN_OR_RETURN(auto done, Finish(request, session.id));
    if (done.failure) {
      return std::move(*done.failure);
    }
    response.SetHeader(std::string(kContentIdHeader), done.content_id);
  }
  return response;
}

HttpResponse UploadService::TusDelete(const HttpRequest& request) {
  if (auto failure = TusVersionFailure(request)) {
    return TusRespond(request, std::move(*failure));
  }
  return TusRespond(request, Abort(request));
}

// ---------------------------------------------------------------- routes

Result<> UploadService::RegisterRoutes(HttpRouter& router) {
  auto bind = [this](auto method) {
    return [this, method](const HttpRequest& request) { return (this->*method)(request); };
  };
  auto tus = [this](auto method) {
    return [this, method](const HttpRequest& request) -> Result<HttpResponse> {
      return (this->*method)(request);
    };
  };
  RouteOptions json_write{.max_body_bytes = 64 * 1024, .rate_class = "write"};
  RouteOptions read{.rate_class = "read"};
  RouteOptions stream{.max_body_bytes = static_cast<std::size_t>(config_.max_chunk_size.bytes),
                      .rate_class = "transfer",
                      .stream_body = true};
  // A tus PATCH carries the rest of the file in one body (tus-js-client's default).
  RouteOptions tus_stream{.max_body_bytes = static_cast<std::size_t>(config_.max_file_size.bytes),
                          .rate_class = "transfer",
                          .stream_body = true};
  SG_RETURN_IF_ERROR(
      router.AddRoute("POST", "/api/v1/upload/init", bind(&UploadService::Init), json_write));
  SG_RETURN_IF_ERROR(router.AddRoute("PUT", "/api/v1/upload/{id}/chunk/{n}",
                                     bind(&UploadService::PutChunk), stream));
  SG_RETURN_IF_ERROR(
      router.AddRoute("GET", "/api/v1/upload/{id}", bind(&UploadService::Status), read));
  SG_RETURN_IF_ERROR(router.AddRoute("POST", "/api/v1/upload/{id}/complete",
                                     bind(&UploadService::Complete), json_write));
  SG_RETURN_IF_ERROR(
      router.AddRoute("DELETE", "/api/v1/upload/{id}", bind(&UploadService::Abort), json_write));

  SG_RETURN_IF_ERROR(router.AddRoute("OPTIONS", "/api/v1/tus", tus(&UploadService::TusOptions),
                                     {.rate_class = "read", .blocking = false}));
  SG_RETURN_IF_ERROR(router.AddRoute("OPTIONS", "/api/v1/tus/{id}", tus(&UploadService::TusOptions),
                                     {.rate_class = "read", .blocking = false}));
  SG_RETURN_IF_ERROR(
      router.AddRoute("POST", "/api/v1/tus", tus(&UploadService::TusCreate), tus_stream));
  SG_RETURN_IF_ERROR(
      router.AddRoute("HEAD", "/api/v1/tus/{id}", tus(&UploadService::TusHead), read));
  SG_RETURN_IF_ERROR(
      router.AddRoute("PATCH", "/api/v1/tus/{id}", tus(&UploadService::TusPatch), tus_stream));
  SG_RETURN_IF_ERROR(
      router.AddRoute("DELETE", "/api/v1/tus/{id}", tus(&UploadService::TusDelete), json_write));
  return {};
}

}  // namespace sg::plugins::upload
