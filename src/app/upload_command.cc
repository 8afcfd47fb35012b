#include "app/upload_command.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "core/api/clock.h"
#include "core/api/random.h"
#include "core/api/retry.h"

namespace sg::app {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

constexpr std::size_t kMaxResponseBytes = 1 << 20;
constexpr std::size_t kReadBuffer = 1 << 20;

struct HttpResult {
  long status = 0;  // 0: no HTTP response (network error, described in `error`)
  std::string body;
  std::string error;
};

/// Part of the file sent as a request body by libcurl's read callback (bounded reads).
struct FileRange {
  int fd = -1;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::uint64_t sent = 0;
  std::atomic<std::uint64_t>* progress = nullptr;
};

std::size_t CollectBody(char* data, std::size_t size, std::size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  std::size_t bytes = size * count;
  if (body->size() + bytes > kMaxResponseBytes) {
    return 0;  // refuse absurd responses: curl reports a write error
  }
  body->append(data, bytes);
  return bytes;
}

std::size_t ReadRange(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* range = static_cast<FileRange*>(user);
  std::uint64_t left = range->length - range->sent;
  std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, size * count));
  if (want == 0) {
    return 0;
  }
  ssize_t got = pread(range->fd, buffer, want, static_cast<off_t>(range->offset + range->sent));
  if (got <= 0) {
    return CURL_READFUNC_ABORT;
  }
  range->sent += static_cast<std::uint64_t>(got);
  if (range->progress != nullptr) {
    range->progress->fetch_add(static_cast<std::uint64_t>(got));
  }
  return static_cast<std::size_t>(got);
}

/// One HTTP exchange with libcurl; never throws. `json_body` for POST, `upload` for PUT.
HttpResult Call(const std::string& method, const std::string& url, const std::string& api_key,
                const std::vector<std::string>& extra_headers, const std::string* json_body,
                FileRange* upload) {
  HttpResult result;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) {
    result.error = "curl_easy_init failed";
    return result;
  }
  curl_slist* headers = nullptr;
  std::string auth = "Authorization: Bearer " + api_key;
  headers = curl_slist_append(headers, auth.c_str());
  // No 100-continue round trip: the server answers errors before reading the body anyway.
  headers = curl_slist_append(headers, "Expect:");
  for (const auto& header : extra_headers) {
    headers = curl_slist_append(headers, header.c_str());
  }
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
  // A stalled transfer (under 1 byte/s for 60 s) fails and is retried.
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &CollectBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &result.body);
  if (upload != nullptr) {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, &ReadRange);
    curl_easy_setopt(h, CURLOPT_READDATA, upload);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(upload->length));
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  } else if (json_body != nullptr) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, json_body->c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(json_body->size()));
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  } else if (method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  CURLcode code = curl_easy_perform(h);
  curl_slist_free_all(headers);
  if (code != CURLE_OK) {
    result.error = curl_easy_strerror(code);
    return result;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &result.status);
  return result;
}

std::string Hex(const unsigned char* bytes, unsigned length) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < length; ++i) {
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 15]);
  }
  return out;
}

class Sha256 {
 public:
  Sha256() : context_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr);
  }
  void Update(const char* data, std::size_t size) { EVP_DigestUpdate(context_.get(), data, size); }
  std::string HexDigest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned length = 0;
    EVP_DigestFinal_ex(context_.get(), digest, &length);
    return Hex(digest, length);
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context_;
};

struct FileDigest {
  std::string sha256;
  std::vector<std::string> chunk_sha256;
};

/// One pass over the file: the whole-file digest and one per chunk, in bounded reads.
std::optional<FileDigest> HashFile(int fd, std::uint64_t size, std::uint64_t chunk_size) {
  FileDigest digest;
  Sha256 whole;
  std::vector<char> buffer(kReadBuffer);
  std::uint64_t offset = 0;
  while (offset < size || (size == 0 && digest.chunk_sha256.empty())) {
    Sha256 chunk;
    std::uint64_t end = std::min(size, offset + chunk_size);
    while (offset < end) {
      std::size_t want =
          static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), end - offset));
      ssize_t got = pread(fd, buffer.data(), want, static_cast<off_t>(offset));
      if (got <= 0) {
        return std::nullopt;
      }
      whole.Update(buffer.data(), static_cast<std::size_t>(got));
      chunk.Update(buffer.data(), static_cast<std::size_t>(got));
      offset += static_cast<std::uint64_t>(got);
    }
    digest.chunk_sha256.push_back(chunk.HexDigest());
    if (size == 0) {
      break;
    }
  }
  digest.sha256 = whole.HexDigest();
  return digest;
}

std::string ErrorMessage(const HttpResult& result) {
  if (result.status == 0) {
    return result.error;
  }
  boost::system::error_code ec;
  auto value = json::parse(result.body, ec);
  if (!ec && value.is_object() && value.as_object().contains("error")) {
    const auto& error = value.at("error");
    if (error.is_object() && error.as_object().contains("message")) {
      return fmt::format("HTTP {}: {}", result.status,
                         std::string_view(error.at("message").as_string()));
    }
  }
  return fmt::format("HTTP {}", result.status);
}

bool Retryable(const HttpResult& result) {
  return result.status == 0 || result.status == 429 || result.status >= 500;
}

std::string HumanBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", bytes, units[unit]);
}

/// Resumable state, so a rerun after an interruption continues the same session.
struct ResumeState {
  std::string upload_id;
  std::uint64_t chunk_size = 0;
  FileDigest digest;
};

fs::path StatePath(const UploadCommandOptions& options, const fs::path& file,
                   const struct stat& info) {
  fs::path dir = options.state_dir;
  if (dir.empty()) {
    const char* xdg = std::getenv("XDG_STATE_HOME");
    const char* home = std::getenv("HOME");
    dir = xdg != nullptr ? fs::path(xdg) / "streamgate"
                         : fs::path(home != nullptr ? home : "/tmp") / ".local/state/streamgate";
  }
  Sha256 key;
  std::string identity = fmt::format("{}|{}|{}|{}", options.server, file.string(), info.st_size,
                                     info.st_mtim.tv_sec * 1'000'000'000ll + info.st_mtim.tv_nsec);
  key.Update(identity.data(), identity.size());
  return dir / ("upload-" + key.HexDigest().substr(0, 32) + ".json");
}

std::optional<ResumeState> LoadState(const fs::path& path) {
  std::ifstream in(path);
  if (!in) {
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  auto value = json::parse(text.str(), ec);
  if (ec || !value.is_object()) {
    return std::nullopt;
  }
  try {
    ResumeState state;
    state.upload_id = json::value_to<std::string>(value.at("upload_id"));
    state.chunk_size = json::value_to<std::uint64_t>(value.at("chunk_size"));
    state.digest.sha256 = json::value_to<std::string>(value.at("sha256"));
    state.digest.chunk_sha256 = json::value_to<std::vector<std::string>>(value.at("chunk_sha256"));
    return state;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void SaveState(const fs::path& path, const ResumeState& state) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  json::object object;
  object["upload_id"] = state.upload_id;
  object["chunk_size"] = state.chunk_size;
  object["sha256"] = state.digest.sha256;
  object["chunk_sha256"] = json::value_from(state.digest.chunk_sha256);
  fs::path temp = path;
  temp += ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << json::serialize(object);
  }
  fs::rename(temp, path, ec);
}

/// Chunk indices the server does not have, from GET /api/v1/upload/{id}.
std::optional<std::vector<std::uint32_t>> MissingChunks(const json::value& status) {
  if (!status.is_object() || !status.as_object().contains("missing_chunks")) {
    return std::nullopt;
  }
  std::vector<std::uint32_t> missing;
  for (const auto& range : status.at("missing_chunks").as_array()) {
    auto first = json::value_to<std::uint32_t>(range.as_array().at(0));
    auto last = json::value_to<std::uint32_t>(range.as_array().at(1));
    for (std::uint32_t n = first; n <= last; ++n) {
      missing.push_back(n);
    }
  }
  return missing;
}

}  // namespace

int RunUploadCommand(const UploadCommandOptions& options) {
  if (options.api_key.empty()) {
    fmt::print(stderr,
               "streamgate upload: an API key is needed (--api-key or STREAMGATE_API_KEY)\n");
    return 2;
  }
  if (options.chunk_mib < 1 || options.chunk_mib > 1024) {
    fmt::print(stderr, "streamgate upload: --chunk-size must be between 1 and 1024 MiB\n");
    return 2;
  }
  if (options.parallel < 1 || options.parallel > 8) {
    fmt::print(stderr, "streamgate upload: --parallel must be between 1 and 8\n");
    return 2;
  }
  if (!options.visibility.empty() && options.visibility != "public" &&
      options.visibility != "unlisted" && options.visibility != "private") {
    fmt::print(stderr, "streamgate upload: --visibility must be public, unlisted or private\n");
    return 2;
  }
  std::error_code ec;
  fs::path file = fs::absolute(options.file, ec);
  int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat info {};
  if (fd < 0 || fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    fmt::print(stderr, "streamgate upload: cannot read {}\n", options.file);
    return 2;
  }
  std::unique_ptr<int, void (*)(int*)> fd_guard(&fd, [](int* f) { close(*f); });
  const auto size = static_cast<std::uint64_t>(info.st_size);
  const std::uint64_t chunk_size = options.chunk_mib << 20;
  const std::string base = options.server + "/api/v1/upload";
  fs::path state_path = StatePath(options, file, info);

  curl_global_init(CURL_GLOBAL_DEFAULT);
  std::optional<ResumeState> state = LoadState(state_path);
  std::vector<std::uint32_t> todo;
  if (state) {
    auto status = Call("GET", base + "/" + state->upload_id, options.api_key, {}, nullptr, nullptr);
    boost::system::error_code parse_error;
    auto body = json::parse(status.body, parse_error);
    if (status.status == 200 && !parse_error && body.is_object() &&
        body.as_object().contains("content_id") && !body.at("content_id").as_string().empty()) {
      fmt::print("{}\n", std::string_view(body.at("content_id").as_string()));
      fs::remove(state_path, ec);
      return 0;
    }
    auto missing = status.status == 200 && !parse_error ? MissingChunks(body) : std::nullopt;
    if (missing && !options.visibility.empty() && body.as_object().contains("visibility") &&
        body.at("visibility") != json::value(options.visibility)) {
      // Resuming would create the content with the session's visibility, not the one asked
      // for now (a video meant to be private could go public): open a new session instead.
      if (!options.quiet) {
        fmt::print(stderr, "upload {} was started as {}: starting over as {}\n", state->upload_id,
                   json::serialize(body.at("visibility")), options.visibility);
      }
      (void)Call("DELETE", base + "/" + state->upload_id, options.api_key, {}, nullptr, nullptr);
      missing.reset();
    }
    if (missing) {
      todo = *missing;
      if (!options.quiet) {
        fmt::print(stderr, "resuming upload {}: {} chunk(s) left\n", state->upload_id, todo.size());
      }
    } else {
      state.reset();  // expired, deleted or unreadable: start over
    }
  }
  if (!state) {
    if (!options.quiet) {
      fmt::print(stderr, "hashing {} ({})\n", file.filename().string(),
                 HumanBytes(static_cast<double>(size)));
    }
    auto digest = HashFile(fd, size, chunk_size);
    if (!digest) {
      fmt::print(stderr, "streamgate upload: read error on {}\n", options.file);
      return 1;
    }
    json::object init;
    init["filename"] = file.filename().string();
    init["size"] = size;
    init["sha256"] = digest->sha256;
    init["chunk_size"] = chunk_size;
    if (!options.title.empty()) {
      init["title"] = options.title;
    }
    if (!options.description.empty()) {
      init["description"] = options.description;
    }
    if (!options.tags.empty()) {
      json::array tags;
      std::stringstream list(options.tags);
      for (std::string tag; std::getline(list, tag, ',');) {
        if (!tag.empty()) {
          tags.emplace_back(tag);
        }
      }
      init["tags"] = std::move(tags);
    }
    if (!options.visibility.empty()) {
      init["visibility"] = options.visibility;
    }
    std::string body = json::serialize(init);
    auto created = Call("POST", base + "/init", options.api_key, {"Content-Type: application/json"},
                        &body, nullptr);
    if (created.status != 201) {
      fmt::print(stderr, "streamgate upload: init failed: {}\n", ErrorMessage(created));
      return 1;
    }
    auto reply = json::parse(created.body);
    state = ResumeState{json::value_to<std::string>(reply.at("upload_id")),
                        json::value_to<std::uint64_t>(reply.at("chunk_size")), *digest};
    if (state->chunk_size != chunk_size) {
      state->digest = *HashFile(fd, size, state->chunk_size);
    }
    SaveState(state_path, *state);
    auto total = json::value_to<std::uint32_t>(reply.at("total_chunks"));
    for (std::uint32_t n = 0; n < total; ++n) {
      todo.push_back(n);
    }
  }

  // Send missing chunks `parallel` at a time; each retried with backoff on network errors,
  // 429 and 5xx. A 4xx is final.
  std::atomic<std::uint64_t> sent{0};
  std::uint64_t already = size;
  for (std::uint32_t n : todo) {
    already -=
        std::min(size - std::min(size, std::uint64_t{n} * state->chunk_size), state->chunk_size);
  }
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::string first_error;
  auto worker = [&] {
    SystemClock clock;
    SystemRandom random;
    BackoffPolicy policy;
    policy.initial = std::chrono::milliseconds(500);
    policy.max = std::chrono::seconds(15);
    policy.max_attempts = 8;
    while (!failed.load()) {
      std::size_t slot = next.fetch_add(1);
      if (slot >= todo.size()) {
        return;
      }
      std::uint32_t n = todo[slot];
      std::uint64_t offset = std::uint64_t{n} * state->chunk_size;
      std::uint64_t length = std::min(state->chunk_size, size - offset);
      std::string url = fmt::format("{}/{}/chunk/{}", base, state->upload_id, n);
      std::vector<std::string> headers = {"Content-Type: application/octet-stream",
                                          "Content-SHA256: " + state->digest.chunk_sha256[n]};
      for (int attempt = 1;; ++attempt) {
        std::atomic<std::uint64_t> this_try{0};
        FileRange range{fd, offset, length, 0, &this_try};
        auto result = Call("PUT", url, options.api_key, headers, nullptr, &range);
        if (result.status == 200 || result.status == 201 || result.status == 204) {
          sent.fetch_add(length);
          break;
        }
        if (!Retryable(result) || attempt >= policy.max_attempts) {
          std::lock_guard lock(error_mutex);
          if (first_error.empty()) {
            first_error = fmt::format("chunk {}: {}", n, ErrorMessage(result));
          }
          failed.store(true);
          return;
        }
        clock.SleepFor(BackoffDelay(policy, attempt, random));
      }
    }
  };
  auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int i = 0; i < options.parallel; ++i) {
    workers.emplace_back(worker);
  }
  const bool tty = isatty(STDERR_FILENO) != 0;
  std::uint64_t last_printed = 0;
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::uint64_t now_sent = sent.load();
    bool done = failed.load() || now_sent + already >= size;
    if (!options.quiet && (tty || now_sent - last_printed >= (64ull << 20) || done)) {
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      double rate = seconds > 0 ? static_cast<double>(now_sent) / seconds : 0;
      double percent =
          size == 0 ? 100.0
                    : 100.0 * static_cast<double>(now_sent + already) / static_cast<double>(size);
      int filled = static_cast<int>(percent / 5);
      double eta = rate > 0 ? static_cast<double>(size - already - now_sent) / rate : 0;
      fmt::print(stderr, "{}[{:<20}] {:5.1f}% {} / {}  {}/s  ETA {:.0f}s{}", tty ? "\r" : "",
                 std::string(static_cast<std::size_t>(filled), '#'), percent,
                 HumanBytes(static_cast<double>(now_sent + already)),
                 HumanBytes(static_cast<double>(size)), HumanBytes(rate), eta, tty ? "" : "\n");
      last_printed = now_sent;
    }
    if (done) {
      break;
    }
  }
  for (auto& w : workers) {
    w.join();
  }
  if (!options.quiet && tty) {
    fmt::print(stderr, "\n");
  }
  if (failed.load()) {
    fmt::print(stderr, "streamgate upload: {}; rerun the same command to resume\n", first_error);
    return 1;
  }

  SystemClock clock;
  SystemRandom random;
  BackoffPolicy policy;
  for (int attempt = 1;; ++attempt) {
    auto completed = Call("POST", base + "/" + state->upload_id + "/complete", options.api_key, {},
                          nullptr, nullptr);
    if (completed.status == 200 || completed.status == 201) {
      auto reply = json::parse(completed.body);
      fmt::print("{}\n", std::string_view(reply.at("content_id").as_string()));
      fs::remove(state_path, ec);
      return 0;
    }
    if (!Retryable(completed) || attempt >= policy.max_attempts) {
      fmt::print(stderr, "streamgate upload: complete failed: {}\n", ErrorMessage(completed));
      return 1;
    }
    clock.SleepFor(BackoffDelay(policy, attempt, random));
  }
}

}  // namespace sg::app
