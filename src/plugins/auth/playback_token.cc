#include "plugins/auth/playback_token.h"

#include "plugins/auth/base64url.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/api/random.h"
#include "plugins/auth/secret_file.h"

namespace sg::plugins::auth {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMacBytes = 32;
// version + expiry + two length bytes.
constexpr std::size_t kHeaderBytes = 1 + 8 + 1 + 1;
constexpr std::string_view kWhat = "playback key file";
// Far more than a key: a file of any size up to this is refused for its exact size.
constexpr std::size_t kMaxKeyFileBytes = 4096;

std::array<std::uint8_t, kMacBytes> Mac(const PlaybackKey& key, std::string_view data) {
  std::array<std::uint8_t, kMacBytes> mac{};
  unsigned int length = 0;
  const unsigned char* result =
      HMAC(EVP_sha256(), key.bytes().data(), static_cast<int>(key.bytes().size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(), &length);
  // HMAC-SHA256 fails only when OpenSSL itself is broken; an all-zero MAC never verifies
  // against a real one, but refuse loudly rather than rely on that.
  SG_CHECK(result != nullptr && length == kMacBytes, "HMAC-SHA256 failed");
  return mac;
}

bool MacMatches(const PlaybackKey& key, std::string_view data, std::string_view mac) {
  std::array<std::uint8_t, kMacBytes> expected = Mac(key, data);
  const bool same =
      mac.size() == kMacBytes && CRYPTO_memcmp(expected.data(), mac.data(), kMacBytes) == 0;
  OPENSSL_cleanse(expected.data(), expected.size());
  return same;
}

tl::unexpected<Error> Malformed() {
  return MakeError(ErrorCode::kPermissionDenied, "playback token is malformed");
}

// ---- key files

Result<std::optional<PlaybackKey>> ReadKeyFile(const fs::path& path) {
  SG_ASSIGN_OR_RETURN(std::optional<std::string> text,
                      ReadSecretFile(path, kWhat, kMaxKeyFileBytes));
  if (!text) {
    return std::optional<PlaybackKey>();
  }
  if (text->size() != kPlaybackKeyBytes) {
    OPENSSL_cleanse(text->data(), text->size());
    return MakeError(ErrorCode::kInvalidArgument,
                     "playback key file {} must hold exactly {} bytes; delete it to have a new "
                     "key generated (playback tokens in flight then stop verifying)",
                     path.string(), kPlaybackKeyBytes);
  }
  PlaybackKey::Bytes bytes{};
  std::memcpy(bytes.data(), text->data(), bytes.size());
  OPENSSL_cleanse(text->data(), text->size());
  PlaybackKey key(bytes);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return std::optional<PlaybackKey>(std::move(key));
}

/// Makes a fresh random key, hands its bytes to `write` and wipes them afterwards.
template <class Write>
auto WriteFreshKey(Write write) -> decltype(write(std::string_view())) {
  PlaybackKey::Bytes bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return MakeError(ErrorCode::kUnavailable, "the OpenSSL random generator failed");
  }
  auto written = write(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return written;
}

}  // namespace

PlaybackKey::~PlaybackKey() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

fs::path PlaybackKeyPath(const fs::path& data_dir) { return data_dir / "auth" / "playback.key"; }

fs::path PreviousPlaybackKeyPath(const fs::path& data_dir) {
  return data_dir / "auth" / "playback.key.previous";
}

Result<PlaybackKeys> LoadOrCreatePlaybackKeys(const fs::path& data_dir) {
  const fs::path path = PlaybackKeyPath(data_dir);
  SG_ASSIGN_OR_RETURN(std::optional<PlaybackKey> current, ReadKeyFile(path));
  if (!current) {
    // When another process created the key meanwhile, everyone uses that one.
    auto created = WriteFreshKey([&](std::string_view key) {
      return WriteSecretFile(path, key, kWhat, Placement::kCreateOnly);
    });
    if (!created && created.error().code != ErrorCode::kAlreadyExists) {
      return MakeError(std::move(created).error());
    }
    SG_ASSIGN_OR_RETURN(current, ReadKeyFile(path));
    if (!current) {
      return MakeError(ErrorCode::kUnavailable, "playback key file {} vanished while created",
                       path.string());
    }
  }
  SG_ASSIGN_OR_RETURN(std::optional<PlaybackKey> previous,
                      ReadKeyFile(PreviousPlaybackKeyPath(data_dir)));
  return PlaybackKeys{std::move(*current), std::move(previous)};
}

Result<> RotatePlaybackKey(const fs::path& data_dir) {
  const fs::path path = PlaybackKeyPath(data_dir);
  const fs::path previous = PreviousPlaybackKeyPath(data_dir);
  // Make sure a valid current key exists (and is ours to rotate) before touching anything.
  SG_RETURN_IF_ERROR(LoadOrCreatePlaybackKeys(data_dir));
  SG_ASSIGN_OR_RETURN(fs::path fresh, WriteFreshKey([&](std::string_view key) {
                        return WriteSecretTempFile(path, key, kWhat);
                      }));
  // current -> previous through a hard link, so that `path` never disappears.
  fs::path staged = previous;
  staged += std::string(kSecretTempMarker) + RandomHex(8);
  if (::link(path.c_str(), staged.c_str()) != 0) {
    const int error = errno;
    ::unlink(fresh.c_str());
    return MakeError(ErrorCode::kUnavailable, "cannot link {} to {}: {}", path.string(),
                     staged.string(), ErrnoText(error));
  }
  if (::rename(staged.c_str(), previous.c_str()) != 0) {
    const int error = errno;
    ::unlink(staged.c_str());
    ::unlink(fresh.c_str());
    return MakeError(ErrorCode::kUnavailable, "cannot rename {} to {}: {}", staged.string(),
                     previous.string(), ErrnoText(error));
  }
  if (::rename(fresh.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(fresh.c_str());
    return MakeError(ErrorCode::kUnavailable, "cannot rename {} to {}: {}", fresh.string(),
                     path.string(), ErrnoText(error));
  }
  SyncDirectory(path.parent_path());
  return {};
}

PlaybackTokens::PlaybackTokens(PlaybackKeys keys, Duration ttl)
    : keys_(std::move(keys)), ttl_(ttl) {}

Result<std::string> PlaybackTokens::Mint(std::string_view content_id, std::string_view viewer,
                                         WallTime now) const {
  if (content_id.empty() || content_id.size() > kMaxPlaybackFieldBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "content id must be 1 to {} bytes long",
                     kMaxPlaybackFieldBytes);
  }
  if (viewer.size() > kMaxPlaybackFieldBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "viewer id must be at most {} bytes long",
                     kMaxPlaybackFieldBytes);
  }
  const auto expires =
      std::chrono::duration_cast<std::chrono::seconds>((now + ttl_).time_since_epoch()).count();
  const auto expires_u64 = static_cast<std::uint64_t>(expires < 0 ? 0 : expires);
  std::string payload;
  payload.reserve(kHeaderBytes + content_id.size() + viewer.size() + kMacBytes);
  payload.push_back(static_cast<char>(kPlaybackTokenVersion));
  for (int shift = 56; shift >= 0; shift -= 8) {
    payload.push_back(static_cast<char>((expires_u64 >> shift) & 0xffu));
  }
  payload.push_back(static_cast<char>(content_id.size()));
  payload.append(content_id);
  payload.push_back(static_cast<char>(viewer.size()));
  payload.append(viewer);
  const std::array<std::uint8_t, kMacBytes> mac = Mac(keys_.current, payload);
  payload.append(reinterpret_cast<const char*>(mac.data()), mac.size());
  return Base64UrlEncode(payload);
}

Result<PlaybackClaims> PlaybackTokens::Verify(std::string_view token, std::string_view content_id,
                                              WallTime now) const {
  // Bounded before any decoding work: the token comes straight from a URL.
  if (token.size() > kMaxPlaybackTokenChars) {
    return Malformed();
  }
  std::optional<std::string> raw = Base64UrlDecode(token);
  if (!raw || raw->size() < kHeaderBytes + 1 + kMacBytes ||
      static_cast<std::uint8_t>((*raw)[0]) != kPlaybackTokenVersion) {
    return Malformed();
  }
  const std::string_view bytes = *raw;
  std::uint64_t expires = 0;
  for (std::size_t i = 1; i <= 8; ++i) {
    expires = (expires << 8) | static_cast<std::uint8_t>(bytes[i]);
  }
  std::size_t offset = 9;
  const std::size_t content_length = static_cast<std::uint8_t>(bytes[offset++]);
  // Remaining after the content id: viewer length byte + MAC at least.
  if (content_length == 0 || bytes.size() < offset + content_length + 1 + kMacBytes) {
    return Malformed();
  }
  const std::string_view token_content = bytes.substr(offset, content_length);
  offset += content_length;
  const std::size_t viewer_length = static_cast<std::uint8_t>(bytes[offset++]);
  if (bytes.size() != offset + viewer_length + kMacBytes) {
    return Malformed();
  }
  const std::string_view viewer = bytes.substr(offset, viewer_length);
  offset += viewer_length;
  const std::string_view signed_part = bytes.substr(0, offset);
  const std::string_view mac = bytes.substr(offset);
  bool authentic = MacMatches(keys_.current, signed_part, mac);
  if (!authentic && keys_.previous) {
    authentic = MacMatches(*keys_.previous, signed_part, mac);
  }
  if (!authentic) {
    return MakeError(ErrorCode::kPermissionDenied, "playback token is tampered");
  }
  // Only an authentic token gets past here, so these answers reveal nothing to a forger.
  if (token_content != content_id) {
    return MakeError(ErrorCode::kPermissionDenied, "playback token is for another content");
  }
  const auto now_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (now_seconds < 0 || static_cast<std::uint64_t>(now_seconds) >= expires) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "playback token expired; request the manifest again");
  }
  return PlaybackClaims{.content_id = std::string(token_content),
                        .viewer = std::string(viewer),
                        .expires_at = WallTime(std::chrono::duration_cast<WallTime::duration>(
                            std::chrono::seconds(static_cast<std::int64_t>(expires))))};
}

}  // namespace sg::plugins::auth
