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

/// The content's owner or an admin: who may change a content (metadata, visibility, access
/// policy) and who always sees and plays it. The one statement of that rule.
inline bool IsOwnerOrAdmin(const Principal& principal, const ContentRecord& content) noexcept {
  return principal.HasRole("admin") || (!principal.anonymous() && principal.id == content.owner);
}

class AccessDecider {
 public:
  static constexpr std::string_view kServiceName = "AccessDecider";
  virtual ~AccessDecider() = default;
  /// Success: `viewer` may play `content`. kNotFound to hide it (private content answers
  /// exactly like absent content), kUnauthenticated when signing in would help,
  /// kPermissionDenied when it would not, kUnavailable when the answer cannot be known now
  /// (a chain that cannot be asked): access is never granted by default.
  virtual Result<> MayPlay(const ContentRecord& content, const Principal& viewer) = 0;

  /// Whether requests for this content's playlists and segments must carry a playback
  /// token (`/api/v1/streaming/{id}/t/{token}/...`): gated or private content. Public
  /// content without a policy needs none, so its URLs stay the same for every viewer (and
  /// cacheable by anyone). The embedded decider never asks for tokens.
  virtual bool RequiresPlaybackToken(const ContentRecord& content) const { return false; }

  /// After MayPlay granted: a short-lived token bound to `content` and `viewer`, which the
  /// manifests put in the path of every URI so that segment requests are checked without
  /// asking a chain. Only called when RequiresPlaybackToken.
  virtual Result<std::string> MintPlaybackToken(const ContentRecord& content,
                                                const Principal& viewer) {
    return MakeError(ErrorCode::kInternal, "this access decider issues no playback tokens");
  }

  /// The viewer a token was minted for, when it is intact, unexpired and for `content_id`:
  /// kPermissionDenied for a tampered token or one for another content, kUnauthenticated
  /// for an expired one (the player should fetch the manifest again).
  virtual Result<std::string> VerifyPlaybackToken(std::string_view token,
                                                  std::string_view content_id) {
    return MakeError(ErrorCode::kPermissionDenied, "playback tokens are not in use here");
  }
};

}  // namespace sg
