#include "plugins/transcode/transcode_job.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "core/api/subprocess.h"
#include "plugins/transcode/cmaf_output.h"
#include "plugins/transcode/progress.h"

namespace sg::plugins::transcode {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// Formats whose "files" name other files or URLs: ffmpeg would read whatever they point at
// (another user's upload, /etc/passwd), so an upload must never be one of them.
constexpr std::string_view kRefusedFormats[] = {"hls",    "applehttp", "concat", "ffconcat",
                                                "image2", "tee",       "data"};

// Below this share of the probed duration, a transcode that "succeeded" is a truncated source.
constexpr double kMinDecodedShare = 0.9;

class FileSource final : public ByteSource {
 public:
  explicit FileSource(const std::filesystem::path& path) : file_(std::fopen(path.c_str(), "rb")) {}
  ~FileSource() override {
    if (file_ != nullptr) {
      std::fclose(file_);
    }
  }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  bool ok() const { return file_ != nullptr; }
  Result<std::size_t> Read(std::span<char> buffer) override {
    std::size_t n = std::fread(buffer.data(), 1, buffer.size(), file_);
    if (n == 0 && std::ferror(file_) != 0) {
      return MakeError(ErrorCode::kInternal, "cannot read a work file");
    }
    return n;
  }

 private:
  std::FILE* file_;
};

Result<ObjectInfo> PutFile(ObjectStore& objects, const std::string& key,
                           const std::filesystem::path& path) {
  FileSource source(path);
  if (!source.ok()) {
    return MakeError(ErrorCode::kInternal, "ffmpeg output {} is missing", path.filename().string());
  }
  return objects.Put(key, source);
}

std::string ReadWhole(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The last `count` non-empty lines of ffmpeg's stderr, joined: its actual complaint.
std::string LastLines(std::string_view text, std::size_t count) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto newline = text.find('\n');
    auto line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
      line.remove_suffix(1);
    }
    if (!line.empty()) {
      lines.push_back(line);
    }
  }
  std::string joined;
  for (std::size_t i = lines.size() > count ? lines.size() - count : 0; i < lines.size(); ++i) {
    if (!joined.empty()) {
      joined += " | ";
    }
    joined += lines[i];
  }
  return joined;
}

void ReplaceAll(std::string& text, std::string_view from, std::string_view to) {
  if (from.empty()) {
    return;
  }
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// ffmpeg's complaint without what means nothing to a person: our paths and the addresses
// in "[mov,mp4 @ 0x55d0c0a0b080]".
std::string CleanFfmpegMessage(std::string text, const std::filesystem::path& input,
                               const std::filesystem::path& work) {
  ReplaceAll(text, "file:" + input.string(), "the source");
  ReplaceAll(text, input.string(), "the source");
  ReplaceAll(text, work.string() + "/", "");
  for (auto at = text.find(" @ 0x"); at != std::string::npos; at = text.find(" @ 0x", at)) {
    auto end = at + 5;
    while (end < text.size() && std::isxdigit(static_cast<unsigned char>(text[end])) != 0) {
      ++end;
    }
    text.erase(at, end - at);
  }
  return text;
}

void RemoveTree(const std::filesystem::path& path) {
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
}

json::array Names(const std::vector<std::string>& names) {
  json::array array;
  for (const auto& name : names) {
    array.emplace_back(name);
  }
  return array;
}

// Stores segments as ffmpeg finishes them, on its own thread: the stdout callback that
// wakes it must never wait for storage I/O (ffmpeg blocks on a full pipe).
class MediaUploader {
 public:
  struct Variant {
    std::string name;
    std::string kind;  // video | audio
    std::uint64_t bandwidth = 0;
    std::int64_t width = 0;
    std::int64_t height = 0;
  };

  MediaUploader(const TranscodeDependencies& deps, std::string content_id,
                std::filesystem::path work, std::vector<Variant> variants, double frame_rate,
                double segment_seconds)
      : deps_(deps),
        content_id_(std::move(content_id)),
        variants_(std::move(variants)),
        frame_rate_(frame_rate),
        segment_seconds_(segment_seconds),
        scanner_(std::move(work), [&] {
          std::vector<std::string> names;
          for (const auto& variant : variants_) {
            names.push_back(variant.name);
          }
          return names;
        }()) {}

  ~MediaUploader() { (void)Finish(); }

  void Start() {
    thread_ = std::thread([this] { Loop(); });
  }

  void Wake() {
    {
      std::lock_guard lock(mutex_);
      wake_ = true;
    }
    changed_.notify_one();
  }

  bool failed() const noexcept { return failed_.load(); }

  /// Uploads what is left (ffmpeg has exited) and stops the thread; the first error.
  Result<> Finish() {
    {
      std::lock_guard lock(mutex_);
      finishing_ = true;
    }
    changed_.notify_one();
    if (thread_.joinable()) {
      thread_.join();
    }
    std::lock_guard lock(mutex_);
    if (error_) {
      return MakeError(*error_);
    }
    return {};
  }

  const SegmentScanner& scanner() const { return scanner_; }
  /// Renditions recorded so far (after Finish: all of them).
  std::map<std::string, RenditionRecord>& records() { return records_; }

 private:
  void Loop() {
    while (true) {
      bool last = false;
      {
        std::unique_lock lock(mutex_);
        changed_.wait_for(lock, 100ms, [this] { return wake_ || finishing_; });
        wake_ = false;
        last = finishing_;
      }
      if (auto stored = UploadNew(); !stored) {
        std::lock_guard lock(mutex_);
        error_ = stored.error();
        failed_ = true;
        return;
      }
      if (last) {
        return;
      }
    }
  }

  const Variant* Find(const std::string& name) const {
    for (const auto& variant : variants_) {
      if (variant.name == name) {
        return &variant;
      }
    }
    return nullptr;
  }

  Result<> UploadNew() {
    for (const auto& item : scanner_.Poll()) {
      const auto* variant = Find(item.variant);
      SG_CHECK(variant != nullptr, "scanner returned an unknown variant");
      std::string prefix = MediaPrefix(content_id_) + item.variant + "/";
      if (item.is_init) {
        auto bytes = ReadWhole(item.path);
        auto track = ReadInitSegment(bytes);
        if (!track) {
          return MakeError(ErrorCode::kInternal, "{} init segment: {}", item.variant,
                           track.error().message);
        }
        if (track->kind != variant->kind) {
          return MakeError(ErrorCode::kInternal, "{} init segment holds {}, not {}", item.variant,
                           track->kind, variant->kind);
        }
        SG_ASSIGN_OR_RETURN(auto info, PutFile(*deps_.objects, prefix + "init.mp4", item.path));
        RenditionRecord record;
        record.content_id = content_id_;
        record.name = item.variant;
        record.kind = variant->kind;
        record.codec = track->codec;
        record.bandwidth = variant->bandwidth;
        if (variant->kind == "video") {
          // What the encoder really wrote (rotation decided on the frames).
          record.width = track->width > 0 ? track->width : variant->width;
          record.height = track->height > 0 ? track->height : variant->height;
          record.frame_rate = frame_rate_;
        } else {
          record.sample_rate = track->sample_rate;
          record.channels = track->channels;
        }
        record.init_key = info.key;
        record.target_segment_seconds = segment_seconds_;
        record.complete = false;
        record.created_at = deps_.clock->WallNow();
        SG_RETURN_IF_ERROR(deps_.metadata->PutRendition(record));
        records_[item.variant] = record;
        continue;
      }
      SG_ASSIGN_OR_RETURN(
          auto info,
          PutFile(*deps_.objects, fmt::format("{}segment_{}.m4s", prefix, item.number), item.path));
      SegmentRecord segment;
      segment.content_id = content_id_;
      segment.rendition = item.variant;
      segment.number = item.number;
      segment.duration_seconds = item.duration_seconds;
      segment.bytes = info.size;
      segment.object_key = info.key;
      segment.created_at = deps_.clock->WallNow();
      SG_RETURN_IF_ERROR(deps_.metadata->PutSegment(segment));
      // ffmpeg never reads a finished segment again: free the disk as we go.
      std::error_code ignored;
      std::filesystem::remove(item.path, ignored);
    }
    return {};
  }

  const TranscodeDependencies& deps_;
  std::string content_id_;
  std::vector<Variant> variants_;
  double frame_rate_;
  double segment_seconds_;
  SegmentScanner scanner_;
  std::map<std::string, RenditionRecord> records_;

  std::mutex mutex_;
  std::condition_variable changed_;
  bool wake_ = false;
  bool finishing_ = false;
  std::optional<Error> error_;
  std::atomic<bool> failed_{false};
  std::thread thread_;
};

}  // namespace

std::string MediaPrefix(std::string_view content_id) {
  return fmt::format("media/{}/", content_id);
}

Result<std::string> ContentIdOfPayload(std::string_view payload) {
  try {
    auto parsed = json::parse(payload);
    const auto* id = parsed.is_object() ? parsed.as_object().if_contains("content_id") : nullptr;
    if (id != nullptr && id->is_string() && IsValidId(id->as_string())) {
      return std::string(id->as_string());
    }
  } catch (const std::exception&) {
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "transcode job payload must be {{\"content_id\": \"<id>\"}}, got {}", payload);
}

Result<std::shared_ptr<TranscodeJobHandler>> TranscodeJobHandler::Create(
    const TranscodeConfig& config, TranscodeDependencies deps) {
  SG_RETURN_IF_ERROR(config.Validate());
  SG_ASSIGN_OR_RETURN(auto rungs, ParseLadder(config.ladder));
  SG_ASSIGN_OR_RETURN(auto audio_bitrate, ParseBitrate(config.audio_bitrate));
  EncodeSettings settings{.ffmpeg = config.ffmpeg,
                          .preset = config.preset,
                          .audio_bitrate = audio_bitrate,
                          .segment_seconds = config.segment_seconds,
                          .gop_seconds = config.gop_seconds,
                          .threads = config.threads};
  return std::shared_ptr<TranscodeJobHandler>(new TranscodeJobHandler(
      std::move(rungs), std::move(settings), config.timeout, std::move(deps)));
}

void TranscodeJobHandler::Publish(std::string_view subject, std::string data) {
  if (auto published =
          deps_.bus->Publish({.subject = std::string(subject), .data = std::move(data)});
      !published) {
    deps_.logger->warn("cannot publish {}: {}", subject, published.error().ToString());
  }
}

Result<std::string> TranscodeJobHandler::Run(JobContext& context) {
  SG_ASSIGN_OR_RETURN(auto content_id, ContentIdOfPayload(context.job().payload));
  auto content = deps_.metadata->GetContent(content_id);
  if (!content) {
    if (content.error().code == ErrorCode::kNotFound) {
      deps_.logger->info("transcode of {} skipped: the content was deleted", content_id);
      return std::string(R"({"skipped":"content deleted"})");
    }
    return MakeError(content.error());
  }
  if (content->status == "ready") {
    // The job ran to the end before but its ack was lost: nothing to redo.
    return std::string(R"({"skipped":"already ready"})");
  }
  auto work = deps_.work_root / content_id;
  auto done = RunAttempt(context, *content, work);
  RemoveTree(work);
  if (!done && !context.cancelled()) {
    RecordFailure(context, content_id, done.error());
  }
  return done;
}

void TranscodeJobHandler::RecordFailure(JobContext& context, const std::string& content_id,
                                        const Error& error) {
  const auto& job = context.job();
  bool last = job.max_attempts > 0 && job.attempts >= job.max_attempts;
  auto reason =
      fmt::format("attempt {} failed: {}{}", job.attempts, error.message, last ? "" : ", retrying");
  deps_.logger->warn("transcode of {}: {}", content_id, reason);
  ContentPatch patch;
  patch.status = "processing";
  patch.status_reason = reason;
  if (auto updated = deps_.metadata->UpdateContent(content_id, patch); !updated) {
    deps_.logger->warn("cannot record the failure of {}: {}", content_id,
                       updated.error().ToString());
  }
  json::object event;
  event["content_id"] = content_id;
  event["job_id"] = job.id;
  event["attempt"] = job.attempts;
  event["error"] = error.message;
  event["final"] = false;
  Publish(kFailedSubject, json::serialize(event));
}

void TranscodeJobHandler::OnDeadLetter(const Job& job) {
  auto content_id = ContentIdOfPayload(job.payload);
  if (!content_id) {
    return;
  }
  auto reason = job.last_error.empty() ? std::string("transcoding failed") : job.last_error;
  ContentPatch patch;
  patch.status = "failed";
  patch.status_reason = reason;
  if (auto updated = deps_.metadata->UpdateContent(*content_id, patch); !updated) {
    deps_.logger->warn("cannot mark {} failed: {}", *content_id, updated.error().ToString());
  }
  // Partial renditions of a content that will never be ready only take space.
  (void)deps_.metadata->DeleteMedia(*content_id);
  (void)deps_.objects->DeletePrefix(MediaPrefix(*content_id));
  json::object event;
  event["content_id"] = *content_id;
  event["job_id"] = job.id;
  event["attempt"] = job.attempts;
  event["error"] = reason;
  event["final"] = true;
  Publish(kFailedSubject, json::serialize(event));
}

Result<std::string> TranscodeJobHandler::RunAttempt(JobContext& context,
                                                    const ContentRecord& content,
                                                    const std::filesystem::path& work) {
  auto started_at = deps_.clock->Now();
  const auto& job = context.job();
  const std::string& id = content.id;

  // A previous attempt may have died anywhere: start from nothing.
  RemoveTree(work);
  std::error_code made;
  std::filesystem::create_directories(work, made);
  if (made) {
    return MakeError(ErrorCode::kInternal, "cannot create work dir {}: {}", work.string(),
                     made.message());
  }
  SG_RETURN_IF_ERROR(deps_.metadata->DeleteMedia(id));
  SG_RETURN_IF_ERROR(deps_.objects->DeletePrefix(MediaPrefix(id)));

  auto source = ParseSourceInfo(content.probe_json);
  if (!source) {
    return MakeError(ErrorCode::kInvalidArgument, "the upload's probe is unusable: {}",
                     source.error().message);
  }
  for (auto refused : kRefusedFormats) {
    if (source->format_name == refused) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "container format {} is not accepted (it refers to other files)",
                       source->format_name);
    }
  }
  auto renditions = PlanLadder(rungs_, source->width, source->height, source->rotation);
  if (renditions.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "the video size {}x{} is unusable", source->width,
                     source->height);
  }

  std::filesystem::path input;
  if (auto local = deps_.objects->LocalPath(content.object_key)) {
    input = std::filesystem::absolute(*local);  // ffmpeg's working directory is `work`
  } else {
    // A remote store: ffmpeg reads a local copy.
    input = work / "source";
    SG_ASSIGN_OR_RETURN(auto reader, deps_.objects->Get(content.object_key));
    std::ofstream out(input, std::ios::binary);
    std::vector<char> buffer(1 << 20);
    while (true) {
      SG_ASSIGN_OR_RETURN(auto n, reader->Read(buffer));
      if (n == 0) {
        break;
      }
      out.write(buffer.data(), static_cast<std::streamsize>(n));
    }
    if (!out.flush()) {
      return MakeError(ErrorCode::kInternal, "cannot copy the source to {}", input.string());
    }
  }

  auto command =
      BuildFfmpegCommand(*source, renditions, settings_,
                         {.input = input, .work_dir = work, .poster = work / "poster.jpg"});
  std::vector<MediaUploader::Variant> variants;
  for (const auto& rendition : renditions) {
    variants.push_back({.name = rendition.name,
                        .kind = "video",
                        .bandwidth = static_cast<std::uint64_t>(
                            std::llround(static_cast<double>(rendition.bitrate) * 1.07)),
                        .width = rendition.width,
                        .height = rendition.height});
  }
  if (source->has_audio) {
    variants.push_back({.name = std::string(kAudioRendition),
                        .kind = "audio",
                        .bandwidth = settings_.audio_bitrate});
  }
  for (const auto& variant : variants) {
    std::filesystem::create_directories(work / variant.name, made);
  }

  ContentPatch processing;
  processing.status = "processing";
  processing.status_reason = "";
  SG_RETURN_IF_ERROR(deps_.metadata->UpdateContent(id, processing));
  {
    json::object event;
    event["content_id"] = id;
    event["job_id"] = job.id;
    event["attempt"] = job.attempts;
    event["renditions"] = Names(command.variants);
    Publish(kStartedSubject, json::serialize(event));
  }
  deps_.logger->info("transcoding {} (attempt {}): {}", id, job.attempts,
                     fmt::join(command.variants, ", "));

  MediaUploader uploader(deps_, id, work, variants, source->frame_rate, settings_.segment_seconds);
  uploader.Start();

  ProgressParser parser(source->duration_seconds);
  std::optional<SteadyTime> last_event;
  SubprocessOptions options;
  options.argv = command.argv;
  options.timeout = timeout_;
  options.working_directory = work;
  options.cancelled = [&] { return context.cancelled() || uploader.failed(); };
  options.on_stdout_line = [&](std::string_view line) {
    auto snapshot = parser.Feed(line);
    if (!snapshot) {
      return;
    }
    context.ReportProgress(
        {.fraction = snapshot->percent / 100.0, .eta_seconds = snapshot->eta_seconds});
    uploader.Wake();
    auto now = deps_.clock->Now();
    if (last_event && now - *last_event < 500ms && !snapshot->end) {
      return;  // at most about two progress events a second
    }
    last_event = now;
    json::object event;
    event["content_id"] = id;
    event["job_id"] = job.id;
    event["percent"] = std::round(snapshot->percent * 10) / 10;
    if (snapshot->eta_seconds) {
      event["eta_seconds"] = std::round(*snapshot->eta_seconds * 10) / 10;
    } else {
      event["eta_seconds"] = nullptr;
    }
    event["speed"] = snapshot->speed ? json::value(*snapshot->speed) : json::value(nullptr);
    Publish(kProgressSubject, json::serialize(event));
  };
  auto run = RunSubprocess(options);
  auto stored = uploader.Finish();
  if (!run) {
    return MakeError(run.error().code, "cannot start ffmpeg ({}): {}", settings_.ffmpeg,
                     run.error().message);
  }
  if (run->cancelled && !uploader.failed()) {
    return MakeError(ErrorCode::kUnavailable,
                     "cancelled (the server is stopping, the lease was "
                     "lost or the attempt timed out)");
  }
  if (!stored) {
    return MakeError(stored.error().code, "storing the renditions failed: {}",
                     stored.error().message);
  }
  if (!run->Succeeded()) {
    auto tail = CleanFfmpegMessage(LastLines(run->stderr_tail, 3), input, work);
    return MakeError(ErrorCode::kInvalidArgument, "ffmpeg {}{}{}", run->Describe(),
                     tail.empty() ? "" : ": ", tail);
  }

  // Every rendition must be whole: its init segment, at least one segment, the end mark.
  const auto& scanner = uploader.scanner();
  if (!scanner.AllEnded()) {
    return MakeError(ErrorCode::kInternal, "ffmpeg exited without finishing its playlists");
  }
  double duration = 0;
  for (const auto& variant : variants) {
    auto record = uploader.records().find(variant.name);
    if (record == uploader.records().end() || scanner.SegmentCount(variant.name) == 0) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "ffmpeg produced no media for rendition {} (is the source empty?)",
                       variant.name);
    }
    if (variant.kind == "video") {
      duration = std::max(duration, scanner.TotalSeconds(variant.name));
    }
  }
  // ffmpeg exits 0 on a truncated file (it reports "partial file" and stops early): a
  // video much shorter than the container says is a broken upload, not a ready one.
  if (source->duration_seconds > 0 && duration < source->duration_seconds * kMinDecodedShare &&
      source->duration_seconds - duration > 1.0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "only {:.1f} s of the source's {:.1f} s could be decoded: the upload is "
                     "truncated or corrupt",
                     duration, source->duration_seconds);
  }
  for (const auto& variant : variants) {
    auto& record = uploader.records().find(variant.name)->second;
    record.complete = true;
    SG_RETURN_IF_ERROR(deps_.metadata->PutRendition(record));
  }

  ContentPatch ready;
  ready.status = "ready";
  ready.status_reason = "";
  ready.frame_rate = source->frame_rate;
  ready.duration_seconds = duration > 0 ? duration : source->duration_seconds;
  if (std::filesystem::exists(work / "poster.jpg")) {
    auto poster_key = MediaPrefix(id) + "poster.jpg";
    SG_RETURN_IF_ERROR(PutFile(*deps_.objects, poster_key, work / "poster.jpg"));
    ready.poster_key = poster_key;
  } else {
    deps_.logger->warn("ffmpeg wrote no poster for {}", id);
  }
  SG_RETURN_IF_ERROR(deps_.metadata->UpdateContent(id, ready));

  double elapsed = std::chrono::duration<double>(deps_.clock->Now() - started_at).count();
  json::object event;
  event["content_id"] = id;
  event["job_id"] = job.id;
  event["duration_seconds"] = *ready.duration_seconds;
  event["renditions"] = Names(command.variants);
  event["elapsed_seconds"] = std::round(elapsed * 1000) / 1000;
  Publish(kCompletedSubject, json::serialize(event));
  deps_.logger->info("transcoded {} in {:.1f} s: {} s of media, {}", id, elapsed,
                     *ready.duration_seconds, fmt::join(command.variants, ", "));

  json::object result;
  result["renditions"] = Names(command.variants);
  result["duration_seconds"] = *ready.duration_seconds;
  result["elapsed_seconds"] = event["elapsed_seconds"];
  return json::serialize(result);
}

}  // namespace sg::plugins::transcode
