#pragma once
/// A deliberately low-level HTTP/1.1 client for integration tests: raw bytes out, so tests
/// can send half a request line or an oversized header; responses parsed by Boost.Beast.

#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace sg::testing {

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  ///< lower-case names
  std::string body;
  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

class RawConnection {
 public:
  /// Connects to 127.0.0.1:port; `connected()` tells whether it worked.
  explicit RawConnection(int port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool Send(const std::string& bytes);
  /// Reads one response; nullopt on timeout, close or a parse error.
  std::optional<HttpReply> ReadResponse(std::chrono::milliseconds timeout,
                                        bool head_request = false);
  /// True when the server closes the connection (EOF or reset) within `timeout`.
  bool WaitClosed(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
  std::string pending_;  // bytes read past the previous response
};

/// One request on a fresh connection. `extra_headers` are raw "Name: value\r\n" lines.
std::optional<HttpReply> HttpGet(int port, const std::string& target,
                                 const std::string& extra_headers = "",
                                 std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// Polls GET `path` until it answers 200 or `timeout` passes: /healthz (the process is
/// live) or /readyz (every plugin started and is up).
bool WaitUntilHealthy(int port, std::chrono::milliseconds timeout,
                      const std::string& path = "/healthz");

}  // namespace sg::testing
