#pragma once
/// Playback statistics: views, unique viewers and bytes served per content.
///
/// Viewer: the Principal id when signed in, else the remote IP plus the User-Agent. Either
/// is turned into a viewer key = hex of the first 128 bits of HMAC-SHA256(salt, kind ‖ id),
/// with kind "principal" or "anonymous" so the two can never collide. The salt is 32 bytes
/// from the OS CSPRNG per process unless configured, so the stored keys (and the memory of
/// this process) never hold an IP, and a key cannot be tested against guessed IPs without
/// the salt. Trade-off: with a per-process salt the same anonymous or signed-in viewer gets
/// a new key after a restart and counts as one more unique viewer; a configured salt
/// (a secret, kept in the config) makes keys stable across restarts.
///
/// View: counted when a viewer fetches the HLS master or the DASH MPD of a content and got
/// it (200), at most once per (viewer, content) per `dedup_window` (30 min) measured from
/// the counted fetch (refetches inside the window do not extend it). Media playlists and
/// segments never count as views. The dedup memory is an LRU ordered by counted time,
/// bounded by `max_dedup_entries` (100k, a few tens of MiB at most): entries past the
/// window are dropped first, then the oldest; a viewer dropped early may be counted again
/// sooner (an over-count only under more than 100k distinct viewers per window). Time is
/// sg::Clock's steady time.
///
/// Unique viewers: exact and persistent. Each counted view carries its viewer key to the
/// store, which keeps the distinct keys per content (content_viewers, primary key
/// (content_id, viewer_hash), insert-or-ignore) and a counter that grows only on a real
/// insert, so reading the count is one row, not a COUNT(*). An approximate sketch
/// (HyperLogLog) would save space but cannot be made exact again; one 32-character key per
/// viewer per content is small next to the segments the viewer downloaded.
///
/// Bytes served: the streaming plugin reports the body length of every init/media segment
/// response it answers with a body (200 or 206, the object length it sends; the range
/// length for 206). It is what we send, not what the client received (a client that closes
/// early still counts the whole response).
///
/// Writes never happen on a request: views and bytes accumulate in memory per content
/// (one short mutex hold per call) and a background flusher writes them to the store in
/// one transaction (MetadataStore::RecordViews) every `flush_interval` (10 s) or as soon as
/// `flush_after_updates` (1000) updates are pending, and once more on Stop. A failed flush
/// keeps the deltas for the next one; pending viewer keys are capped by
/// `max_pending_viewers` (beyond it, new keys are dropped: unique viewers under-count while
/// the store is down, views and bytes stay exact).
///
/// Stats: `Stats`/`StatsResponse` first write this content's pending delta (so the answer
/// includes not-yet-flushed views exactly, unique viewers included), then read the store.
/// Who may read: the route handler decides (see StatsResponse).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/api/clock.h"
#include "core/api/result.h"
#include "core/api/services/http.h"
#include "core/api/services/metadata_store.h"

namespace spdlog {
class logger;
}

namespace sg::plugins::streaming {

struct ViewCounterOptions {
  Duration dedup_window = std::chrono::minutes(30);
  std::size_t max_dedup_entries = 100'000;
  /// The flusher's period (real time: it is a background timer, not logic under test).
  Duration flush_interval = std::chrono::seconds(10);
  /// Pending counted views + byte reports that wake the flusher early.
  std::size_t flush_after_updates = 1000;
  std::size_t max_pending_viewers = 100'000;
  /// HMAC key of viewer keys; empty = 32 random bytes for this process.
  std::string salt;
};

class ViewCounter {
 public:
  /// `store` and `clock` must outlive the counter; `logger` may be null (flush failures
  /// are then only kept in last_flush_error()).
  ViewCounter(std::shared_ptr<MetadataStore> store, const Clock& clock,
              ViewCounterOptions options = {}, std::shared_ptr<spdlog::logger> logger = nullptr);
  ~ViewCounter();  ///< Stop()
  ViewCounter(const ViewCounter&) = delete;
  ViewCounter& operator=(const ViewCounter&) = delete;

  /// The viewer key of a request (see the file comment). Pure and cheap (one HMAC).
  std::string ViewerKey(const HttpRequest& request) const;
  std::string ViewerKey(const Principal& principal, std::string_view remote_ip,
                        std::string_view user_agent) const;

  /// After a 200 HLS master or MPD: counts a view unless this viewer was counted for this
  /// content within the window. True when counted.
  bool RecordManifestFetch(std::string_view content_id, const HttpRequest& request);
  bool RecordView(std::string_view content_id, const std::string& viewer_key);
  /// After a segment response with a body of `bytes` bytes. Never blocks on the store.
  void RecordBytes(std::string_view content_id, std::uint64_t bytes);

  /// Writes every pending delta now (the flusher calls this). On failure the deltas are
  /// kept for the next flush.
  Result<> Flush();
  /// Starts/stops the background flusher; Stop flushes once more. Both idempotent.
  void Start();
  void Stop() noexcept;

  /// The content's stats including what is pending in memory (flushes this content first).
  /// kNotFound for an unknown content; kUnavailable when the store cannot be written.
  Result<ContentStats> Stats(std::string_view content_id);
  /// 200 JSON {"content_id","views","unique_viewers","bytes_served"}, Cache-Control
  /// no-store. The caller has already decided that the requester may see `content`
  /// (suggested: whoever may play it, i.e. AccessDecider::MayPlay — view counts are public
  /// on a video platform, private content stays owner/admin-only and is 404 to others).
  Result<HttpResponse> StatsResponse(const ContentRecord& content);

  // ---- introspection (tests, metrics)
  std::size_t dedup_entries() const;
  std::size_t pending_updates() const;
  std::string last_flush_error() const;

 private:
  struct Pending {
    std::uint64_t views = 0;
    std::uint64_t bytes = 0;
    std::vector<std::string> new_viewers;
  };
  struct Seen {
    std::string key;  ///< viewer key + '/' + content id
    SteadyTime counted;
  };

  std::vector<ViewDelta> TakeAllLocked();
  void RestoreLocked(std::vector<ViewDelta> deltas);
  void NoteUpdateLocked();
  void Run();

  std::shared_ptr<MetadataStore> store_;
  const Clock& clock_;
  const ViewCounterOptions options_;
  std::shared_ptr<spdlog::logger> logger_;
  std::string salt_;

  mutable std::mutex mutex_;
  std::list<Seen> seen_order_;  ///< oldest counted first
  std::unordered_map<std::string, std::list<Seen>::iterator> seen_;
  std::map<std::string, Pending, std::less<>> pending_;
  std::size_t pending_updates_ = 0;
  std::size_t pending_viewers_ = 0;
  std::string last_flush_error_;

  // Flushes (periodic, on demand, on Stop) are serialised so a stats read and the flusher
  // never interleave a take and a restore of the same content's delta.
  std::mutex flush_mutex_;

  std::mutex thread_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool flush_requested_ = false;
  std::thread flusher_;
};

}  // namespace sg::plugins::streaming
