#include <curl/curl.h>

#include <chrono>
#include <memory>
#include <mutex>

#include "plugins/chains/rpc_transport.h"

namespace sg::plugins::chains {
namespace {

struct Sink {
  std::string body;
  std::size_t limit = 0;
  bool overflow = false;
};

// libcurl write callback: returning less than given aborts the transfer
// (CURLE_WRITE_ERROR), which is how the size cap stops a runaway answer early.
std::size_t Write(char* data, std::size_t size, std::size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  std::size_t bytes = size * count;
  if (bytes > sink->limit - sink->body.size()) {
    sink->overflow = true;
    return 0;
  }
  sink->body.append(data, bytes);
  return bytes;
}

long Millis(Duration duration) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(duration).count();
  return ms < 1 ? 1 : static_cast<long>(ms);
}

struct EasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct ListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

class CurlTransport final : public RpcTransport {
 public:
  CurlTransport() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  Result<std::string> Post(const std::string& url, std::string_view shown_url,
                           const std::string& body, const PostOptions& options) override {
    std::unique_ptr<CURL, EasyDeleter> handle(curl_easy_init());
    if (!handle) {
      return MakeError(ErrorCode::kUnavailable, "{}: cannot create an HTTP client", shown_url);
    }
    std::unique_ptr<curl_slist, ListDeleter> headers(
        curl_slist_append(nullptr, "Content-Type: application/json"));
    headers.reset(curl_slist_append(headers.release(), "Accept: application/json"));
    Sink sink;
    sink.limit = options.max_response_bytes;
    char error_buffer[CURL_ERROR_SIZE] = {};
    CURL* h = handle.get();
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, Millis(options.timeout));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, Millis(options.connect_timeout));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
    if (options.max_response_bytes > 0) {
      curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
                       static_cast<curl_off_t>(options.max_response_bytes));
    }

    CURLcode code = curl_easy_perform(h);
    if (sink.overflow || code == CURLE_FILESIZE_EXCEEDED) {
      return MakeError(ErrorCode::kUnavailable, "{}: response larger than {} bytes", shown_url,
                       options.max_response_bytes);
    }
    if (code == CURLE_OPERATION_TIMEDOUT) {
      return MakeError(ErrorCode::kUnavailable, "{}: no answer within {} ms", shown_url,
                       Millis(options.timeout));
    }
    if (code != CURLE_OK) {
      // The error buffer names hosts and ports at most, never the path or query of the URL.
      return MakeError(ErrorCode::kUnavailable, "{}: {}", shown_url,
                       error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code));
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
      return MakeError(ErrorCode::kUnavailable, "{}: HTTP status {}", shown_url, status);
    }
    return std::move(sink.body);
  }
};

}  // namespace

std::shared_ptr<RpcTransport> MakeCurlTransport() { return std::make_shared<CurlTransport>(); }

}  // namespace sg::plugins::chains
