#pragma once
/// The periodic "content.orphans" job: removes object prefixes (`media/<id>/`,
/// `uploads/<id>/`) whose content record and upload session are both gone. Such leftovers
/// come from a crash between deleting a record's objects and the record, a transcode that
/// was still writing when its content was deleted, or an upload abandoned by a node that
/// died. Objects younger than the grace period are left alone: an upload or a transcode
/// may be writing them right now.

#include <spdlog/logger.h>

#include <memory>
#include <string>

#include "core/api/clock.h"
#include "core/api/services/job_queue.h"
#include "core/api/services/metadata_store.h"
#include "core/api/services/object_store.h"

namespace sg::plugins::content {

inline constexpr std::string_view kOrphanJobType = "content.orphans";

class OrphanSweeper final : public JobHandler {
 public:
  OrphanSweeper(std::shared_ptr<MetadataStore> store, std::shared_ptr<ObjectStore> objects,
                const Clock& clock, Duration grace, std::shared_ptr<spdlog::logger> logger);

  /// Result JSON: {"examined": n, "removed": ["media/<id>/", ...] (at most 100 listed),
  /// "removed_count": n}.
  Result<std::string> Run(JobContext& context) override;

 private:
  /// Whether the id under `prefix` still belongs to something (a content or an upload).
  Result<bool> IsReferenced(std::string_view id);

  std::shared_ptr<MetadataStore> store_;
  std::shared_ptr<ObjectStore> objects_;
  const Clock& clock_;
  Duration grace_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace sg::plugins::content
