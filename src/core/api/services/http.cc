#include "core/api/services/http.h"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <charconv>
#include <cstddef>

namespace sg {
namespace {

// Weak comparison (RFC 9110 §8.8.3.2): W/"x" matches "x".
std::string_view OpaqueTag(std::string_view tag) noexcept {
  tag = TrimOws(tag);
  if (tag.starts_with("W/")) {
    tag.remove_prefix(2);
  }
  return tag;
}

char AsciiLower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

std::string_view TrimOws(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// Header names are ASCII tokens (RFC 9110 5.1), so ASCII folding is the whole story.
bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) {
      return false;
    }
  }
  return true;
}

std::optional<std::string_view> FindHeader(const HttpHeaders& headers,
                                           std::string_view name) noexcept {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreAsciiCase(key, name)) {
      return std::string_view(value);
    }
  }
  return std::nullopt;
}

std::optional<std::string_view> HttpRequest::Query(std::string_view name) const noexcept {
  for (const auto& [key, value] : query) {
    if (key == name) {
      return std::string_view(value);
    }
  }
  return std::nullopt;
}

std::string_view HttpRequest::PathParam(std::string_view name) const {
  for (const auto& [key, value] : path_params) {
    if (key == name) {
      return value;
    }
  }
  SG_CHECK(false, fmt::format("route has no path parameter named {}", name));
  return {};  // unreachable: SG_CHECK aborts
}

bool HttpRequest::HasPathParam(std::string_view name) const noexcept {
  for (const auto& [key, value] : path_params) {
    if (key == name) {
      return true;
    }
  }
  return false;
}

HttpResponse& HttpResponse::SetHeader(std::string name, std::string value) {
  // "Set" replaces: a handler that sets Content-Type twice means the last one.
  auto same = [&name](const auto& header) { return EqualsIgnoreAsciiCase(header.first, name); };
  auto it = std::find_if(headers.begin(), headers.end(), same);
  if (it == headers.end()) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  it->second = std::move(value);
  headers.erase(std::remove_if(std::next(it), headers.end(), same), headers.end());
  return *this;
}

ResponseStream::ResponseStream(Options options) : options_(std::move(options)) {}

bool ResponseStream::Push(std::string_view bytes) {
  std::function<void()> wakeup;
  {
    std::unique_lock lock(mutex_);
    if (ended_ || cancelled_) {
      return false;
    }
    if (queued_.size() + bytes.size() > options_.max_buffered_bytes) {
      // A consumer this far behind is not reading: end the stream instead of growing.
      overflowed_ = true;
      ended_ = true;
      FireCancelLocked(lock);
      return false;
    }
    queued_.append(bytes);
    wakeup = wakeup_;
  }
  if (wakeup) {
    wakeup();
  }
  return true;
}

void ResponseStream::End() {
  std::function<void()> wakeup;
  {
    std::lock_guard lock(mutex_);
    if (ended_) {
      return;
    }
    ended_ = true;
    wakeup = wakeup_;
  }
  if (wakeup) {
    wakeup();
  }
}

void ResponseStream::OnCancel(std::function<void()> callback) {
  std::unique_lock lock(mutex_);
  on_cancel_ = std::move(callback);
  if (cancelled_) {
    FireCancelLocked(lock);
  }
}

bool ResponseStream::active() const {
  std::lock_guard lock(mutex_);
  return !ended_ && !cancelled_;
}

ResponseStream::Take ResponseStream::TakeQueued(std::string& out) {
  std::lock_guard lock(mutex_);
  out.clear();
  if (!queued_.empty()) {
    out.swap(queued_);
    return Take::kData;
  }
  return ended_ || cancelled_ ? Take::kEnded : Take::kEmpty;
}

void ResponseStream::SetWakeup(std::function<void()> wakeup) {
  std::lock_guard lock(mutex_);
  wakeup_ = std::move(wakeup);
}

void ResponseStream::Cancel() {
  std::unique_lock lock(mutex_);
  ended_ = true;
  wakeup_ = nullptr;
  FireCancelLocked(lock);
}

bool ResponseStream::overflowed() const {
  std::lock_guard lock(mutex_);
  return overflowed_;
}

void ResponseStream::FireCancelLocked(std::unique_lock<std::mutex>& lock) {
  cancelled_ = true;
  auto callback = std::move(on_cancel_);
  on_cancel_ = nullptr;
  lock.unlock();
  if (callback) {
    callback();
  }
  lock.lock();
}

Result<std::size_t> ParseLimit(std::optional<std::string_view> text, std::size_t default_limit,
                               std::size_t max_limit) {
  if (!text) {
    return default_limit;
  }
  std::size_t limit = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), limit);
  if (ec != std::errc() || end != text->data() + text->size() || limit < 1 || limit > max_limit) {
    return MakeError(ErrorCode::kInvalidArgument, "limit must be an integer 1..{}", max_limit);
  }
  return limit;
}

bool NotModified(std::optional<std::string_view> if_none_match,
                 std::optional<std::string_view> if_modified_since, std::string_view etag,
                 WallTime last_modified) {
  if (if_none_match) {
    if (TrimOws(*if_none_match) == "*") {
      return true;
    }
    bool matched = false;
    ForEachListElement(*if_none_match, [&](std::string_view tag) {
      matched = matched || OpaqueTag(tag) == OpaqueTag(etag);
    });
    return matched;  // If-None-Match present: If-Modified-Since is not consulted
  }
  if (if_modified_since) {
    auto since = ParseHttpDate(TrimOws(*if_modified_since));
    // HTTP dates have whole seconds: compare at that resolution.
    return since && std::chrono::floor<std::chrono::seconds>(last_modified) <= *since;
  }
  return false;
}

int HttpStatusFor(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kAlreadyExists:
      return 409;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kResourceExhausted:
      return 429;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  return Text(status, std::move(body), "application/json");
}

HttpResponse HttpResponse::Error(int status, std::string_view code, std::string_view message,
                                 const HttpRequest& request) {
  return Error(status, code, message, {}, request);
}

HttpResponse HttpResponse::Error(int status, std::string_view code, std::string_view message,
                                 std::string_view details_json, const HttpRequest& request) {
  // The one place the envelope is built: the gateway's own errors come through here too,
  // so handlers and the HTTP layer can never disagree on its shape.
  boost::json::object error;
  error["code"] = code;
  error["message"] = message;
  error["request_id"] = request.context.request_id;
  if (!details_json.empty()) {
    boost::system::error_code parse_error;
    auto details = boost::json::parse(details_json, parse_error);
    if (!parse_error) {
      error["details"] = std::move(details);
    }
  }
  boost::json::object envelope;
  envelope["error"] = std::move(error);
  return Json(status, boost::json::serialize(envelope));
}

HttpResponse HttpResponse::Text(int status, std::string body, std::string content_type) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  response.headers.emplace_back("Content-Type", std::move(content_type));
  return response;
}

}  // namespace sg
