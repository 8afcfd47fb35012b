#pragma once

#include <string>

#include "core/api/config.h"

namespace sg::plugins::auth {

/// Shortest API key accepted from the config: shorter keys are guessable.
inline constexpr std::size_t kMinApiKeyLength = 16;

struct AuthConfig {
  /// The admin API key; empty = read (or create) `api_key_file`.
  std::string api_key;
  /// Where the admin API key lives; empty = "<server.data_dir>/api_key".
  std::string api_key_file;

  void Visit(ConfigVisitor& v) {
    v.Field("api_key", api_key,
            {.doc = "admin API key (Authorization: Bearer <key>); empty = use api_key_file",
             .secret = true});
    v.Field("api_key_file", api_key_file,
            {.doc = "file holding the admin API key, created (mode 0600) when missing; "
                    "empty = <data_dir>/api_key"});
  }

  Result<> Validate() const {
    if (!api_key.empty() && api_key.size() < kMinApiKeyLength) {
      // The length is fine to say; the key itself never appears in a message.
      return MakeError(ErrorCode::kInvalidArgument, "api_key: must be at least {} characters",
                       kMinApiKeyLength);
    }
    for (char c : api_key) {
      if (c <= ' ' || c == 0x7f) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "api_key: must not contain spaces or control characters");
      }
    }
    return {};
  }
};

}  // namespace sg::plugins::auth
