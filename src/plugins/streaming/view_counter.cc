#include "plugins/streaming/view_counter.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <spdlog/logger.h>

#include <array>
#include <boost/json.hpp>
#include <utility>

namespace sg::plugins::streaming {
namespace {

constexpr std::size_t kSaltBytes = 32;
// 128 bits of the HMAC: collisions are negligible far beyond any audience, and the key
// stays short in the store.
constexpr std::size_t kKeyBytes = 16;

std::string RandomSalt() {
  std::array<unsigned char, kSaltBytes> bytes{};
  SG_CHECK(RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) == 1, "the OS CSPRNG failed");
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

std::string Hex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0x0f];
  }
  return out;
}

}  // namespace

ViewCounter::ViewCounter(std::shared_ptr<MetadataStore> store, const Clock& clock,
                         ViewCounterOptions options, std::shared_ptr<spdlog::logger> logger)
    : store_(std::move(store)),
      clock_(clock),
      options_(std::move(options)),
      logger_(std::move(logger)),
      salt_(options_.salt.empty() ? RandomSalt() : options_.salt) {
  SG_CHECK(store_ != nullptr, "ViewCounter needs a MetadataStore");
}

ViewCounter::~ViewCounter() { Stop(); }

std::string ViewCounter::ViewerKey(const HttpRequest& request) const {
  return ViewerKey(request.principal, request.remote_ip,
                   request.Header("User-Agent").value_or(std::string_view()));
}

std::string ViewCounter::ViewerKey(const Principal& principal, std::string_view remote_ip,
                                   std::string_view user_agent) const {
  // NUL separators: no field can contain one, so ("a", "b c") and ("a b", "c") differ.
  std::string message;
  if (!principal.anonymous()) {
    message.append("principal").append(1, '\0').append(principal.id);
  } else {
    message.append("anonymous")
        .append(1, '\0')
        .append(remote_ip)
        .append(1, '\0')
        .append(user_agent);
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  const unsigned char* ok = HMAC(EVP_sha256(), salt_.data(), static_cast<int>(salt_.size()),
                                 reinterpret_cast<const unsigned char*>(message.data()),
                                 message.size(), digest.data(), &length);
  SG_CHECK(ok != nullptr && length >= kKeyBytes, "HMAC-SHA256 failed");
  return Hex(digest.data(), kKeyBytes);
}

bool ViewCounter::RecordManifestFetch(std::string_view content_id, const HttpRequest& request) {
  return RecordView(content_id, ViewerKey(request));
}

bool ViewCounter::RecordView(std::string_view content_id, const std::string& viewer_key) {
  std::string key;
  key.reserve(viewer_key.size() + 1 + content_id.size());
  key.append(viewer_key).append(1, '/').append(content_id);

  std::lock_guard lock(mutex_);
  const SteadyTime now = clock_.Now();
  // Ordered by counted time: once the front is inside the window, every entry is.
  while (!seen_order_.empty() && now - seen_order_.front().counted >= options_.dedup_window) {
    seen_.erase(seen_order_.front().key);
    seen_order_.pop_front();
  }
  if (seen_.contains(key)) {
    return false;
  }
  seen_order_.push_back({key, now});
  seen_.emplace(std::move(key), std::prev(seen_order_.end()));
  while (seen_order_.size() > options_.max_dedup_entries) {
    seen_.erase(seen_order_.front().key);
    seen_order_.pop_front();
  }

  auto it = pending_.find(content_id);
  if (it == pending_.end()) {
    it = pending_.emplace(std::string(content_id), Pending{}).first;
  }
  ++it->second.views;
  if (pending_viewers_ < options_.max_pending_viewers) {
    it->second.new_viewers.push_back(viewer_key);
    ++pending_viewers_;
  }
  NoteUpdateLocked();
  return true;
}

void ViewCounter::RecordBytes(std::string_view content_id, std::uint64_t bytes) {
  if (bytes == 0) {
    return;
  }
  std::lock_guard lock(mutex_);
  auto it = pending_.find(content_id);
  if (it == pending_.end()) {
    it = pending_.emplace(std::string(content_id), Pending{}).first;
  }
  it->second.bytes += bytes;
  NoteUpdateLocked();
}

void ViewCounter::NoteUpdateLocked() {
  ++pending_updates_;
  if (pending_updates_ >= options_.flush_after_updates && !flush_requested_) {
    flush_requested_ = true;
    wake_.notify_one();
  }
}

std::vector<ViewDelta> ViewCounter::TakeAllLocked() {
  std::vector<ViewDelta> deltas;
  deltas.reserve(pending_.size());
  for (auto& [content_id, pending] : pending_) {
    deltas.push_back({.content_id = content_id,
                      .views = pending.views,
                      .bytes = pending.bytes,
                      .new_viewers = std::move(pending.new_viewers)});
  }
  pending_.clear();
  pending_updates_ = 0;
  pending_viewers_ = 0;
  return deltas;
}

void ViewCounter::RestoreLocked(std::vector<ViewDelta> deltas) {
  for (auto& delta : deltas) {
    auto it = pending_.find(delta.content_id);
    if (it == pending_.end()) {
      it = pending_.emplace(delta.content_id, Pending{}).first;
    }
    it->second.views += delta.views;
    it->second.bytes += delta.bytes;
    pending_updates_ += 1;
    for (auto& viewer : delta.new_viewers) {
      if (pending_viewers_ < options_.max_pending_viewers) {
        it->second.new_viewers.push_back(std::move(viewer));
        ++pending_viewers_;
      }
    }
  }
}

Result<> ViewCounter::Flush() {
  std::lock_guard flush_lock(flush_mutex_);
  std::vector<ViewDelta> deltas;
  {
    std::lock_guard lock(mutex_);
    deltas = TakeAllLocked();
  }
  if (deltas.empty()) {
    return {};
  }
  auto recorded = store_->RecordViews(deltas);
  std::lock_guard lock(mutex_);
  if (!recorded) {
    last_flush_error_ = recorded.error().ToString();
    RestoreLocked(std::move(deltas));
    return recorded;
  }
  last_flush_error_.clear();
  return {};
}

void ViewCounter::Start() {
  std::lock_guard thread_lock(thread_mutex_);
  if (flusher_.joinable()) {
    return;
  }
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  flusher_ = std::thread([this] { Run(); });
}

void ViewCounter::Stop() noexcept {
  std::lock_guard thread_lock(thread_mutex_);
  if (flusher_.joinable()) {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    flusher_.join();
  }
  // The last counts of the run; a store already closed keeps them unwritten (logged).
  if (auto flushed = Flush(); !flushed && logger_) {
    logger_->warn("view stats not written at stop: {}", flushed.error().ToString());
  }
}

void ViewCounter::Run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, options_.flush_interval, [this] { return stopping_ || flush_requested_; });
    if (stopping_) {
      return;  // Stop flushes once more after the join
    }
    flush_requested_ = false;
    lock.unlock();
    if (auto flushed = Flush(); !flushed && logger_) {
      logger_->warn("view stats not written, retrying at the next flush: {}",
                    flushed.error().ToString());
    }
    lock.lock();
  }
}

Result<ContentStats> ViewCounter::Stats(std::string_view content_id) {
  {
    std::lock_guard flush_lock(flush_mutex_);
    std::vector<ViewDelta> deltas;
    {
      std::lock_guard lock(mutex_);
      if (auto it = pending_.find(content_id); it != pending_.end()) {
        deltas.push_back({.content_id = it->first,
                          .views = it->second.views,
                          .bytes = it->second.bytes,
                          .new_viewers = std::move(it->second.new_viewers)});
        pending_viewers_ -= deltas.back().new_viewers.size();
        pending_.erase(it);
      }
    }
    if (!deltas.empty()) {
      auto recorded = store_->RecordViews(deltas);
      if (!recorded) {
        std::lock_guard lock(mutex_);
        RestoreLocked(std::move(deltas));
        return MakeError(ErrorCode::kUnavailable, "view stats of {} cannot be written now: {}",
                         content_id, recorded.error().message);
      }
    }
  }
  return store_->GetStats(content_id);
}

Result<HttpResponse> ViewCounter::StatsResponse(const ContentRecord& content) {
  SG_ASSIGN_OR_RETURN(auto stats, Stats(content.id));
  boost::json::object body;
  body["content_id"] = stats.content_id;
  body["views"] = stats.views;
  body["unique_viewers"] = stats.unique_viewers;
  body["bytes_served"] = stats.bytes_served;
  auto response = HttpResponse::Json(200, boost::json::serialize(body));
  // Counts change with every view: caches must ask again.
  response.SetHeader("Cache-Control", "no-store");
  return response;
}

std::size_t ViewCounter::dedup_entries() const {
  std::lock_guard lock(mutex_);
  return seen_order_.size();
}

std::size_t ViewCounter::pending_updates() const {
  std::lock_guard lock(mutex_);
  return pending_updates_;
}

std::string ViewCounter::last_flush_error() const {
  std::lock_guard lock(mutex_);
  return last_flush_error_;
}

}  // namespace sg::plugins::streaming
