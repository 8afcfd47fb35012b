#include "plugins/content/content_events.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <utility>

namespace sg::plugins::content {
namespace {

namespace json = boost::json;

constexpr std::string_view kPrefix = "streamgate.transcoding.";

std::string StringField(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

std::optional<double> NumberField(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || !value->is_number()) {
    return std::nullopt;
  }
  double number = value->to_number<double>();
  return std::isfinite(number) ? std::optional<double>(number) : std::nullopt;
}

}  // namespace

std::string FormatSseEvent(std::string_view event, std::string_view data) {
  std::string frame;
  frame.reserve(event.size() + data.size() + 16);
  frame.append("event: ").append(event).append("\ndata: ").append(data).append("\n\n");
  return frame;
}

std::string StatusFrame(std::string_view content_id, std::string_view status,
                        std::string_view reason) {
  json::object data;
  data["content_id"] = content_id;
  data["status"] = status;
  data["reason"] = reason;
  return FormatSseEvent("status", json::serialize(data));
}

std::optional<WatcherEvent> TranslateTranscodingEvent(const BusMessage& message) {
  if (!message.subject.starts_with(kPrefix)) {
    return std::nullopt;
  }
  std::string_view kind = std::string_view(message.subject).substr(kPrefix.size());
  boost::system::error_code error;
  json::value parsed = json::parse(message.data, error);
  if (error || !parsed.is_object()) {
    return std::nullopt;
  }
  const json::object& payload = parsed.as_object();
  WatcherEvent event;
  event.content_id = StringField(payload, "content_id");
  if (event.content_id.empty()) {
    return std::nullopt;
  }
  if (kind == "started") {
    event.frame = StatusFrame(event.content_id, "processing", "");
  } else if (kind == "progress") {
    json::object data;
    data["content_id"] = event.content_id;
    data["percent"] = std::clamp(NumberField(payload, "percent").value_or(0), 0.0, 100.0);
    auto eta = NumberField(payload, "eta_seconds");
    data["eta_seconds"] = eta ? json::value(*eta) : json::value(nullptr);
    event.frame = FormatSseEvent("progress", json::serialize(data));
  } else if (kind == "completed") {
    event.frame = StatusFrame(event.content_id, "ready", "");
    event.terminal = true;
  } else if (kind == "failed") {
    const json::value* final_value = payload.if_contains("final");
    bool final_failure = final_value != nullptr && final_value->is_bool() && final_value->as_bool();
    std::string error_text = StringField(payload, "error");
    if (final_failure) {
      event.frame = StatusFrame(event.content_id, "failed", error_text);
      event.terminal = true;
    } else {
      auto attempt = NumberField(payload, "attempt");
      event.frame =
          StatusFrame(event.content_id, "processing",
                      attempt ? fmt::format("attempt {} failed: {}; retrying",
                                            static_cast<int>(*attempt), error_text)
                              : fmt::format("an attempt failed: {}; retrying", error_text));
    }
  } else {
    return std::nullopt;
  }
  return event;
}

ContentEventHub::ContentEventHub(Limits limits, std::shared_ptr<spdlog::logger> logger)
    : limits_(limits), logger_(std::move(logger)), watchers_(std::make_shared<Watchers>()) {}

ContentEventHub::~ContentEventHub() { Stop(); }

Result<> ContentEventHub::Start(EventBus& bus) {
  SG_ASSIGN_OR_RETURN(subscription_,
                      bus.Subscribe(std::string(kTranscodingSubjects),
                                    [this](const BusMessage& message) { Deliver(message); }));
  return {};
}

void ContentEventHub::Stop() {
  if (subscription_) {
    subscription_->Unsubscribe();  // after this, Deliver is not running and will not run
    subscription_.reset();
  }
  std::vector<std::shared_ptr<ResponseStream>> open;
  {
    std::lock_guard lock(watchers_->mutex);
    for (auto& [id, streams] : watchers_->by_content) {
      open.insert(open.end(), streams.begin(), streams.end());
    }
  }
  for (auto& stream : open) {
    stream->End();
  }
}

Result<std::shared_ptr<ResponseStream>> ContentEventHub::Open(const std::string& content_id) {
  auto stream = std::make_shared<ResponseStream>(ResponseStream::Options{
      .max_buffered_bytes = limits_.max_buffered_bytes,
      .heartbeat = ": keep-alive\n\n",
      .heartbeat_interval = limits_.heartbeat,
  });
  {
    std::lock_guard lock(watchers_->mutex);
    if (watchers_->count >= limits_.max_streams) {
      return MakeError(ErrorCode::kResourceExhausted,
                       "too many open event streams ({}); try again later", limits_.max_streams);
    }
    watchers_->by_content[content_id].push_back(stream);
    ++watchers_->count;
  }
  std::weak_ptr<Watchers> weak = watchers_;
  const ResponseStream* raw = stream.get();
  stream->OnCancel([weak, content_id, raw] {
    if (auto watchers = weak.lock()) {
      Watchers::Remove(*watchers, content_id, raw);
    }
  });
  return stream;
}

void ContentEventHub::Deliver(const BusMessage& message) {
  auto event = TranslateTranscodingEvent(message);
  if (!event) {
    logger_->debug("event on {} carries nothing for watchers", message.subject);
    return;
  }
  std::vector<std::shared_ptr<ResponseStream>> targets;
  {
    std::lock_guard lock(watchers_->mutex);
    auto it = watchers_->by_content.find(event->content_id);
    if (it == watchers_->by_content.end()) {
      return;
    }
    targets = it->second;
  }
  // Outside the lock: a full stream cancels itself, which takes the lock to remove itself.
  for (auto& stream : targets) {
    if (stream->Push(event->frame) && event->terminal) {
      stream->End();
    }
  }
}

std::size_t ContentEventHub::open_streams() const {
  std::lock_guard lock(watchers_->mutex);
  return watchers_->count;
}

void ContentEventHub::Watchers::Remove(Watchers& watchers, const std::string& content_id,
                                       const ResponseStream* stream) {
  std::lock_guard lock(watchers.mutex);
  auto it = watchers.by_content.find(content_id);
  if (it == watchers.by_content.end()) {
    return;
  }
  auto& streams = it->second;
  auto found = std::find_if(streams.begin(), streams.end(),
                            [stream](const auto& candidate) { return candidate.get() == stream; });
  if (found != streams.end()) {
    streams.erase(found);
    --watchers.count;
  }
  if (streams.empty()) {
    watchers.by_content.erase(it);
  }
}

}  // namespace sg::plugins::content
