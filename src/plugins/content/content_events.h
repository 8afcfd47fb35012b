#pragma once
/// Server-Sent Events of a content's processing (`GET /api/v1/content/{id}/events`).
///
/// One bus subscription (`streamgate.transcoding.>`) per process, fanned out to the open
/// streams of each content, so a thousand watchers cost one subscription, not a thousand.
/// Streams are bounded (ResponseStream): a watcher that stops reading is cut off.
///
/// SSE events sent:
///   status    {"content_id","status","reason"}   processing | ready | failed
///   progress  {"content_id","percent","eta_seconds"}
/// A stream ends after the status ready or failed (the client's EventSource should close
/// then; `retry:` is long so that one that does not, does not hammer the server).

#include <spdlog/logger.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/result.h"
#include "core/api/services/event_bus.h"
#include "core/api/services/http.h"

namespace sg::plugins::content {

inline constexpr std::string_view kTranscodingSubjects = "streamgate.transcoding.>";

/// One SSE frame: "event: <name>\ndata: <data>\n\n" (data must be one line, as JSON is).
std::string FormatSseEvent(std::string_view event, std::string_view data);

/// What a `streamgate.transcoding.*` message means for watchers.
struct WatcherEvent {
  std::string content_id;
  std::string frame;      ///< the SSE frame to send
  bool terminal = false;  ///< ready or failed: the stream ends after it
};
/// nullopt for subjects or payloads that carry nothing for watchers (logged by the caller).
std::optional<WatcherEvent> TranslateTranscodingEvent(const BusMessage& message);

/// The SSE frame of a status.
std::string StatusFrame(std::string_view content_id, std::string_view status,
                        std::string_view reason);

class ContentEventHub {
 public:
  struct Limits {
    std::size_t max_streams = 1000;
    std::chrono::milliseconds heartbeat{15'000};
    std::size_t max_buffered_bytes = 64 * 1024;
  };

  ContentEventHub(Limits limits, std::shared_ptr<spdlog::logger> logger);
  ~ContentEventHub();

  /// Subscribes to the transcoding events.
  Result<> Start(EventBus& bus);
  /// Unsubscribes and ends every open stream.
  void Stop();

  /// Opens a stream for `content_id`; it receives every later event of that content.
  /// kResourceExhausted when `max_streams` are open. Push the current state into it after
  /// opening (see ContentPlugin): an event racing with that read is then never lost.
  Result<std::shared_ptr<ResponseStream>> Open(const std::string& content_id);

  /// Delivers one bus message to the watchers of its content (the subscription's handler;
  /// public for tests).
  void Deliver(const BusMessage& message);

  std::size_t open_streams() const;

 private:
  // Shared with the streams' cancel callbacks, which may run after the hub is gone (the
  // gateway still holds a stream): they hold it weakly.
  struct Watchers {
    std::mutex mutex;
    std::map<std::string, std::vector<std::shared_ptr<ResponseStream>>> by_content;
    std::size_t count = 0;
    static void Remove(Watchers& watchers, const std::string& content_id,
                       const ResponseStream* stream);
  };

  const Limits limits_;
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<Watchers> watchers_;
  std::unique_ptr<BusSubscription> subscription_;
};

}  // namespace sg::plugins::content
