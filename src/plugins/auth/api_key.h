#pragma once
/// The admin API key: where it is kept and how a request proves it knows it.

#include <spdlog/logger.h>

#include <array>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/api/result.h"
#include "core/api/services/http.h"

namespace sg::plugins::auth {

/// Reads the key from `path`; when the file does not exist, generates 32 random bytes
/// (64 hex characters) and writes them there with mode 0600 (parent directory created,
/// temp file + fsync + rename, so a crash never leaves a half-written key).
/// kPermissionDenied when the file is accessible by group or others (the message says to
/// chmod 600); kInvalidArgument when it is empty, a symbolic link or not a regular file;
/// kUnavailable on I/O errors. Never logs the key; logs where it is.
Result<std::string> LoadOrCreateApiKey(const std::filesystem::path& path, spdlog::logger& logger);

/// `Authorization: Bearer <admin key>` -> the admin principal. Thread-safe (immutable).
class ApiKeyAuthenticator final : public Authenticator {
 public:
  explicit ApiKeyAuthenticator(std::string_view api_key);

  /// No header: anonymous. Bearer with the key: {"admin", {"admin", "creator"}}. Anything
  /// else: kUnauthenticated, with a message that never repeats the credential.
  Result<Principal> Authenticate(const HttpRequest& request) override;

 private:
  // Only a digest is kept: comparing digests takes the same time whatever the length or
  // content of the presented token.
  std::array<unsigned char, 32> key_digest_{};
};

}  // namespace sg::plugins::auth
