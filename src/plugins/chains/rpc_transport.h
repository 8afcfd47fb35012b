#pragma once
/// HTTP POST of JSON-RPC bodies, behind an interface so that the chain client is tested
/// both against a real local server (libcurl) and, where timing matters, a fake.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/api/clock.h"
#include "core/api/result.h"

namespace sg::plugins::chains {

struct PostOptions {
  Duration timeout = std::chrono::seconds(5);
  Duration connect_timeout = std::chrono::seconds(2);
  std::size_t max_response_bytes = 4 * 1024 * 1024;
};

class RpcTransport {
 public:
  virtual ~RpcTransport() = default;
  /// POSTs `body` (JSON) to `url` and returns the body of a 2xx answer. kUnavailable for a
  /// failed connection, a timeout, a non-2xx status or an answer over the size cap; the
  /// message names `shown_url` (the redacted form), never `url`. Thread-safe.
  virtual Result<std::string> Post(const std::string& url, std::string_view shown_url,
                                   const std::string& body, const PostOptions& options) = 0;
};

/// libcurl, one easy handle per call: http/https only, no redirects, no signals
/// (CURLOPT_NOSIGNAL, safe in threads), the response cut off beyond the cap.
std::shared_ptr<RpcTransport> MakeCurlTransport();

}  // namespace sg::plugins::chains
