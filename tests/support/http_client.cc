#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <thread>

namespace sg::testing {
namespace http = boost::beast::http;

RawConnection::RawConnection(int port) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) {
    close(fd_);
  }
}

bool RawConnection::Send(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    sent += static_cast<size_t>(n);
  }
  return true;
}

std::optional<HttpReply> RawConnection::ReadResponse(std::chrono::milliseconds timeout,
                                                     bool head_request) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  http::response_parser<http::string_body> parser;
  parser.eager(true);
  parser.body_limit(64 * 1024 * 1024);
  parser.skip(head_request);
  std::string buffer = std::move(pending_);
  pending_.clear();
  while (true) {
    while (!buffer.empty() && !parser.is_done()) {
      boost::system::error_code ec;
      size_t used = parser.put(boost::asio::buffer(buffer), ec);
      if (ec == http::error::need_more) {
        buffer.erase(0, used);
        break;
      }
      if (ec) {
        return std::nullopt;
      }
      buffer.erase(0, used);
      if (used == 0) {
        break;
      }
    }
    if (parser.is_done()) {
      pending_ = std::move(buffer);
      break;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return std::nullopt;
    }
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
      return std::nullopt;
    }
    char chunk[16384];
    ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      // EOF before any byte of a response: the connection was closed on us (a server
      // shutting down). Beast's put_eof asserts on a parser that got nothing.
      if (!parser.got_some()) {
        return std::nullopt;
      }
      // EOF: a response without Content-Length ends here.
      boost::system::error_code ec;
      parser.put_eof(ec);
      if (ec || !parser.is_done()) {
        return std::nullopt;
      }
      break;
    }
    buffer.append(chunk, static_cast<size_t>(n));
  }
  HttpReply reply;
  auto& message = parser.get();
  reply.status = static_cast<int>(message.result_int());
  for (const auto& field : message) {
    std::string name(field.name_string());
    for (auto& c : name) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    reply.headers[name] = std::string(field.value());
  }
  reply.body = message.body();
  return reply;
}

bool RawConnection::WaitClosed(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return false;
    }
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) < 0) {
      return true;
    }
    if (pfd.revents == 0) {
      continue;
    }
    char chunk[4096];
    ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      return true;
    }
  }
}

std::optional<HttpReply> HttpGet(int port, const std::string& target,
                                 const std::string& extra_headers,
                                 std::chrono::milliseconds timeout) {
  RawConnection connection(port);
  if (!connection.connected()) {
    return std::nullopt;
  }
  connection.Send("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers +
                  "Connection: close\r\n\r\n");
  return connection.ReadResponse(timeout);
}

bool WaitUntilHealthy(int port, std::chrono::milliseconds timeout, const std::string& path) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto reply = HttpGet(port, path, "", std::chrono::seconds(1));
    if (reply && reply->status == 200) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return false;
}

}  // namespace sg::testing
