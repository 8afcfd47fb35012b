#pragma once
/// The upload plugin's logic behind its HTTP routes: the chunked ("seed") API and tus 1.0,
/// both on the same sessions (MetadataStore) and multipart objects (ObjectStore), with one
/// completion path (hash, assemble, probe, content record, event). No sockets here: handlers
/// take HttpRequest values, so tests call them directly.

#include <spdlog/logger.h>

#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/api/clock.h"
#include "core/api/result.h"
#include "core/api/services/event_bus.h"
#include "core/api/services/http.h"
#include "core/api/services/media.h"
#include "core/api/services/metadata_store.h"
#include "core/api/services/object_store.h"
#include "plugins/upload/hashing.h"
#include "plugins/upload/upload_config.h"

namespace sg::plugins::upload {

/// Subject of the event published when an upload became a content record.
/// Header of the final tus PATCH (and of HEAD once completed) naming the content.
inline constexpr std::string_view kContentIdHeader = "Streamgate-Content-Id";

/// "uploads/<id>/source": the multipart key during the upload and the finished source file.
std::string SourceKeyFor(std::string_view upload_id);

struct UploadDependencies {
  std::shared_ptr<ObjectStore> objects;
  std::shared_ptr<MetadataStore> metadata;
  std::shared_ptr<EventBus> bus;
  const Clock* clock = nullptr;
  std::shared_ptr<spdlog::logger> logger;
  /// Where an object is copied for ffprobe when the store has no local path.
  std::filesystem::path temp_dir;
};

class UploadService {
 public:
  UploadService(UploadConfig config, UploadDependencies deps);

  /// Adds every route of the chunked API and tus.
  Result<> RegisterRoutes(HttpRouter& router);

  // ---- chunked API
  Result<HttpResponse> Init(const HttpRequest& request);
  Result<HttpResponse> PutChunk(const HttpRequest& request);
  Result<HttpResponse> Status(const HttpRequest& request);
  Result<HttpResponse> Complete(const HttpRequest& request);
  Result<HttpResponse> Abort(const HttpRequest& request);

  // ---- tus 1.0 (every response, errors included, carries Tus-Resumable)
  HttpResponse TusOptions(const HttpRequest& request);
  HttpResponse TusCreate(const HttpRequest& request);
  HttpResponse TusHead(const HttpRequest& request);
  HttpResponse TusPatch(const HttpRequest& request);
  HttpResponse TusDelete(const HttpRequest& request);

  /// Removes expired sessions and their multipart data; returns how many.
  Result<std::size_t> CleanupExpired();

 private:
  struct Completion {
    int status = 0;  ///< 201 created now, 200 completed before
    std::string content_id;
    std::optional<HttpResponse> failure;  ///< 415, 422, 410: sent as is
  };
  class KeyLock;

  Result<UploadSession> LoadForWrite(const HttpRequest& request, std::string_view id);
  Result<HttpResponse> CreateSession(const HttpRequest& request, UploadSession session,
                                     std::uint64_t chunk_size);
  Result<Completion> Finish(const HttpRequest& request, std::string_view id);
  Result<Completion> RunCompletion(const HttpRequest& request, const UploadSession& session);
  Result<> RemoveUpload(const UploadSession& session);
  Result<> RevertToOpen(std::string_view id);
  bool Expired(const UploadSession& session) const;
  Result<std::uint64_t> TusOffset(const UploadSession& session);
  /// Bytes in whole chunks stored from the start (a chunk boundary).
  Result<std::uint64_t> TusChunkBase(const UploadSession& session);
  /// Where the bytes of the next chunk that earlier PATCHes sent are staged.
  static std::string TusTailKey(const UploadSession& session, std::uint64_t base);
  Result<std::uint64_t> TusTailBytes(const UploadSession& session, std::uint64_t base);
  Result<HttpResponse> TusPatchLocked(const HttpRequest& request, UploadSession session,
                                      std::uint64_t client_offset);
  HttpResponse TusRespond(const HttpRequest& request, Result<HttpResponse> result);

  /// The whole-file SHA-256 over the in-order prefix of stored chunks, advanced after each
  /// stored chunk while the upload runs, so that complete only hashes what is left instead
  /// of re-reading the whole file at the end. In memory only: after a restart, complete
  /// hashes everything.
  struct PrefixHash {
    std::mutex mutex;
    std::uint32_t next = 0;  ///< chunks [0, next) are in `digest`
    Digest digest = Digest::Sha256();
  };
  std::shared_ptr<PrefixHash> PrefixHashFor(std::string_view id);
  /// Removes and returns the upload's prefix hash (nullptr when there is none).
  std::shared_ptr<PrefixHash> TakePrefixHash(std::string_view id);
  /// Feeds stored chunks from `hash.next` on while they are present; true if it moved.
  /// The caller holds `hash.mutex`.
  Result<bool> AdvancePrefix(PrefixHash& hash, const UploadSession& session,
                             const std::vector<StoredChunk>& chunks);
  /// After a chunk was stored: advances the prefix unless another request is doing so.
  /// Failures only cost the optimisation (complete then hashes everything).
  void AdvancePrefixAfterStore(const UploadSession& session);

  void AcquireKey(const std::string& key);
  void ReleaseKey(const std::string& key);

  UploadConfig config_;
  UploadDependencies deps_;

  std::mutex mutex_;
  std::condition_variable released_;
  std::map<std::string, int, std::less<>> busy_keys_;   // in-process per-key locks
  std::map<std::string, int, std::less<>> completing_;  // completions running here
  std::map<std::string, std::shared_ptr<PrefixHash>, std::less<>> prefix_hashes_;
};

}  // namespace sg::plugins::upload
