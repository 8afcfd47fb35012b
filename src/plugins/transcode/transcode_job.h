#pragma once
/// The "transcode" job: one content's source -> a CMAF ladder in the ObjectStore, recorded
/// segment by segment in the MetadataStore while ffmpeg still runs.

#include <spdlog/logger.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/clock.h"
#include "core/api/services/event_bus.h"
#include "core/api/services/job_queue.h"
#include "core/api/services/media.h"
#include "core/api/services/metadata_store.h"
#include "core/api/services/object_store.h"
#include "plugins/transcode/ffmpeg_command.h"
#include "plugins/transcode/ladder.h"
#include "plugins/transcode/transcode_config.h"

namespace sg::plugins::transcode {

inline constexpr std::string_view kTranscodeJobType = "transcode";
inline constexpr std::string_view kStartedSubject = kTranscodingStartedSubject;
inline constexpr std::string_view kProgressSubject = kTranscodingProgressSubject;
inline constexpr std::string_view kCompletedSubject = kTranscodingCompletedSubject;
inline constexpr std::string_view kFailedSubject = kTranscodingFailedSubject;

struct TranscodeDependencies {
  std::shared_ptr<ObjectStore> objects;
  std::shared_ptr<MetadataStore> metadata;
  std::shared_ptr<EventBus> bus;
  const Clock* clock = nullptr;
  std::shared_ptr<spdlog::logger> logger;
  /// Each attempt works in <work_root>/<content_id> (wiped before and after).
  std::filesystem::path work_root;
};

/// `media/<content_id>/` and the keys under it.
std::string MediaPrefix(std::string_view content_id);

/// {"content_id": "..."}; kInvalidArgument otherwise.
Result<std::string> ContentIdOfPayload(std::string_view payload);

class TranscodeJobHandler final : public JobHandler {
 public:
  /// kInvalidArgument for a config that does not validate.
  static Result<std::shared_ptr<TranscodeJobHandler>> Create(const TranscodeConfig& config,
                                                             TranscodeDependencies deps);

  /// Idempotent: forgets every rendition/segment record and object of the content first,
  /// so a re-run after a crash starts clean. A content that no longer exists or is already
  /// ready is skipped (success).
  Result<std::string> Run(JobContext& context) override;
  /// Content `failed` with the job's last error; its partial media is removed.
  void OnDeadLetter(const Job& job) override;

 private:
  TranscodeJobHandler(std::vector<RungSpec> rungs, EncodeSettings settings,
                      std::chrono::milliseconds timeout, TranscodeDependencies deps)
      : rungs_(std::move(rungs)),
        settings_(std::move(settings)),
        timeout_(timeout),
        deps_(std::move(deps)) {}

  Result<std::string> RunAttempt(JobContext& context, const ContentRecord& content,
                                 const std::filesystem::path& work);
  void RecordFailure(JobContext& context, const std::string& content_id, const Error& error);
  void Publish(std::string_view subject, std::string data);

  std::vector<RungSpec> rungs_;
  EncodeSettings settings_;
  std::chrono::milliseconds timeout_;
  TranscodeDependencies deps_;
};

}  // namespace sg::plugins::transcode
