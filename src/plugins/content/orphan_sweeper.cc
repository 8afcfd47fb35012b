#include "plugins/content/orphan_sweeper.h"

#include <boost/json.hpp>

#include <array>
#include <string_view>

namespace sg::plugins::content {
namespace {

namespace json = boost::json;

// Object keys use [A-Za-z0-9._-], of which 'z' sorts last: listing after "<prefix><id>/zz…z"
// skips every key of that id and lands on the next id, one List call per id instead of one
// per object (a two-hour video has thousands of segments).
const std::string kSkipSuffix(128, 'z');

}  // namespace

OrphanSweeper::OrphanSweeper(std::shared_ptr<MetadataStore> store,
                             std::shared_ptr<ObjectStore> objects, const Clock& clock,
                             Duration grace, std::shared_ptr<spdlog::logger> logger)
    : store_(std::move(store)),
      objects_(std::move(objects)),
      clock_(clock),
      grace_(grace),
      logger_(std::move(logger)) {}

Result<bool> OrphanSweeper::IsReferenced(std::string_view id) {
  auto content = store_->GetContent(id);
  if (content) {
    return true;
  }
  if (content.error().code != ErrorCode::kNotFound) {
    return MakeError(content.error());
  }
  auto upload = store_->GetUpload(id);
  if (upload) {
    return true;
  }
  if (upload.error().code != ErrorCode::kNotFound) {
    return MakeError(upload.error());
  }
  return false;
}

Result<std::string> OrphanSweeper::Run(JobContext& context) {
  static constexpr std::array<std::string_view, 2> kPrefixes = {"media/", "uploads/"};
  const WallTime cutoff = clock_.WallNow() - grace_;
  std::uint64_t examined = 0;
  std::uint64_t removed_count = 0;
  json::array removed;
  for (std::string_view prefix : kPrefixes) {
    std::string start_after;
    while (!context.cancelled()) {
      SG_ASSIGN_OR_RETURN(auto page, objects_->List(prefix, start_after, 1));
      if (page.objects.empty()) {
        break;
      }
      const ObjectInfo& first = page.objects.front();
      std::string_view rest = std::string_view(first.key).substr(prefix.size());
      std::string id(rest.substr(0, rest.find('/')));
      std::string id_prefix = std::string(prefix) + id + "/";
      start_after = id_prefix + kSkipSuffix;
      ++examined;
      if (!IsValidId(id) || rest.find('/') == std::string_view::npos) {
        continue;  // not ours: never delete what we did not name
      }
      SG_ASSIGN_OR_RETURN(bool referenced, IsReferenced(id));
      if (referenced) {
        continue;
      }
      // The newest object decides: one fresh object means someone may still be writing.
      bool fresh = false;
      std::string after;
      while (!fresh) {
        SG_ASSIGN_OR_RETURN(auto objects, objects_->List(id_prefix, after, 500));
        for (const auto& object : objects.objects) {
          fresh = fresh || object.modified > cutoff;
        }
        if (objects.next_start_after.empty()) {
          break;
        }
        after = objects.next_start_after;
      }
      if (fresh) {
        continue;
      }
      SG_ASSIGN_OR_RETURN(auto deleted, objects_->DeletePrefix(id_prefix));
      logger_->info("removed {} orphaned object(s) under {}", deleted, id_prefix);
      ++removed_count;
      if (removed.size() < 100) {
        removed.emplace_back(id_prefix);
      }
    }
  }
  json::object result;
  result["examined"] = examined;
  result["removed_count"] = removed_count;
  result["removed"] = std::move(removed);
  return json::serialize(result);
}

}  // namespace sg::plugins::content
