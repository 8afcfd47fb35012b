#pragma once
/// Who may play a content. The streaming plugin asks on every manifest request; the
/// embedded decider (streaming plugin) applies visibility only. The wallet sign-in issue
/// provides one with NFT policies and playback tokens, so that segment requests check a
/// token instead of asking a chain.

#include <string_view>

#include "core/api/result.h"
#include "core/api/services/http.h"
#include "core/api/services/metadata_store.h"

namespace sg {

class AccessDecider {
 public:
  static constexpr std::string_view kServiceName = "AccessDecider";
  virtual ~AccessDecider() = default;
  /// Success: `viewer` may play `content`. kNotFound to hide it (private content answers
  /// exactly like absent content), kUnauthenticated when signing in would help,
  /// kPermissionDenied when it would not, kUnavailable when the answer cannot be known now
  /// (a chain that cannot be asked): access is never granted by default.
  virtual Result<> MayPlay(const ContentRecord& content, const Principal& viewer) = 0;
};

}  // namespace sg
