#pragma once
/// Short-lived playback tokens: minted on a manifest request after the policy granted
/// access, carried in the URL path (`/api/v1/streaming/{id}/t/{token}/...`) so that every
/// relative URI of the manifests inherits it, and checked on each segment request without
/// asking a chain.
///
/// A token is base64url (RFC 4648 §5, no padding: only [A-Za-z0-9_-], safe as one path
/// segment) of
///   version (1 byte, = 1) | expires_at (uint64 BE, Unix seconds) |
///   len (1 byte) content_id | len (1 byte) viewer | HMAC-SHA256(key, all previous bytes)
/// The key is 32 random bytes in `<data_dir>/auth/playback.key` (mode 0600). After a
/// rotation the previous key, in `playback.key.previous`, still verifies, so tokens minted
/// just before keep working until they expire. Expiry is wall-clock time (Unix seconds), so
/// several processes sharing the key agree.

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/api/clock.h"
#include "core/api/result.h"

namespace sg::plugins::auth {

inline constexpr std::size_t kPlaybackKeyBytes = 32;
/// Longest content id and viewer id a token carries (one length byte each).
inline constexpr std::size_t kMaxPlaybackFieldBytes = 255;
/// Longer tokens are refused before decoding (the largest valid one is 738 characters).
inline constexpr std::size_t kMaxPlaybackTokenChars = 768;
inline constexpr std::uint8_t kPlaybackTokenVersion = 1;

/// A secret HMAC key. Wiped on destruction; never formatted or logged.
class PlaybackKey {
 public:
  using Bytes = std::array<std::uint8_t, kPlaybackKeyBytes>;
  explicit PlaybackKey(const Bytes& bytes) : bytes_(bytes) {}
  PlaybackKey(const PlaybackKey&) = default;
  PlaybackKey& operator=(const PlaybackKey&) = default;
  ~PlaybackKey();
  const Bytes& bytes() const noexcept { return bytes_; }

 private:
  Bytes bytes_;
};

/// The key that signs, and the one before it that still verifies.
struct PlaybackKeys {
  PlaybackKey current;
  std::optional<PlaybackKey> previous;
};

/// `<data_dir>/auth/playback.key` and `<data_dir>/auth/playback.key.previous`.
std::filesystem::path PlaybackKeyPath(const std::filesystem::path& data_dir);
std::filesystem::path PreviousPlaybackKeyPath(const std::filesystem::path& data_dir);

/// Reads the keys, creating the current one at first start: 32 bytes from the OpenSSL
/// CSPRNG, written to a temporary file with mode 0600, fsynced, then hard-linked into place
/// so that two processes starting together end up with the same key (the loser reads the
/// winner's). Errors: kPermissionDenied when a key file is readable by group or others
/// (`chmod 600` it), kInvalidArgument when it is not exactly 32 bytes (delete it to have a
/// new one generated: tokens in flight then stop verifying), kUnavailable on I/O failure.
/// Messages name the file, never its contents.
Result<PlaybackKeys> LoadOrCreatePlaybackKeys(const std::filesystem::path& data_dir);

/// Makes a new current key; the current one becomes the previous (the older previous is
/// dropped). Each step is a rename, so `playback.key` always exists. Running processes
/// pick the change up when they load the keys again.
Result<> RotatePlaybackKey(const std::filesystem::path& data_dir);

/// What a valid token says.
struct PlaybackClaims {
  std::string content_id;
  std::string viewer;  ///< the principal id given to Mint ("" or "anonymous" for public)
  WallTime expires_at;
};

/// Mints and verifies tokens. Thread-safe (immutable after construction).
class PlaybackTokens {
 public:
  static constexpr Duration kDefaultTtl = std::chrono::minutes(10);

  explicit PlaybackTokens(PlaybackKeys keys, Duration ttl = kDefaultTtl);

  /// A token for `viewer` to play `content_id` until now + ttl (rounded down to the second).
  /// kInvalidArgument when content_id is empty or either field is longer than 255 bytes.
  Result<std::string> Mint(std::string_view content_id, std::string_view viewer,
                           WallTime now) const;

  /// The claims of `token` when it is authentic, for `content_id` and not expired at `now`.
  /// Checked in this order, each refusal a distinct message:
  /// - kPermissionDenied "playback token is malformed" (too long, not base64url, bad
  ///   layout or version);
  /// - kPermissionDenied "playback token is tampered" (no key's HMAC matches; compared in
  ///   constant time);
  /// - kPermissionDenied "playback token is for another content";
  /// - kUnauthenticated "playback token expired" (fetch the manifest again for a new one).
  Result<PlaybackClaims> Verify(std::string_view token, std::string_view content_id,
                                WallTime now) const;

  Duration ttl() const noexcept { return ttl_; }

 private:
  PlaybackKeys keys_;
  Duration ttl_;
};

}  // namespace sg::plugins::auth
