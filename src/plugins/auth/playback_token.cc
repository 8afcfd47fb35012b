#include "plugins/auth/playback_token.h"

#include "plugins/auth/base64url.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "core/api/random.h"

namespace sg::plugins::auth {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMacBytes = 32;
// version + expiry + two length bytes.
constexpr std::size_t kHeaderBytes = 1 + 8 + 1 + 1;

std::string ErrnoText(int error) { return std::system_category().message(error); }

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

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
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) {
    const int error = errno;
    if (error == ENOENT) {
      return std::optional<PlaybackKey>();
    }
    return MakeError(error == EACCES ? ErrorCode::kPermissionDenied : ErrorCode::kUnavailable,
                     "cannot open playback key file {}: {}", path.string(), ErrnoText(error));
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    return MakeError(ErrorCode::kUnavailable, "cannot stat playback key file {}: {}", path.string(),
                     ErrnoText(errno));
  }
  if (!S_ISREG(info.st_mode)) {
    return MakeError(ErrorCode::kInvalidArgument, "playback key file {} is not a regular file",
                     path.string());
  }
  if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "playback key file {} is accessible by group or others (mode {:04o}); run "
                     "`chmod 600 {}` and start again",
                     path.string(), info.st_mode & 07777, path.string());
  }
  PlaybackKey::Bytes bytes{};
  std::size_t have = 0;
  // One byte more than a key, to notice a longer file.
  std::array<std::uint8_t, kPlaybackKeyBytes + 1> buffer{};
  while (have < buffer.size()) {
    const ssize_t got = ::read(fd.get(), buffer.data() + have, buffer.size() - have);
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      return MakeError(ErrorCode::kUnavailable, "cannot read playback key file {}: {}",
                       path.string(), ErrnoText(errno));
    }
    if (got == 0) {
      break;
    }
    have += static_cast<std::size_t>(got);
  }
  if (have != kPlaybackKeyBytes) {
    OPENSSL_cleanse(buffer.data(), buffer.size());
    return MakeError(ErrorCode::kInvalidArgument,
                     "playback key file {} must hold exactly {} bytes; delete it to have a new "
                     "key generated (playback tokens in flight then stop verifying)",
                     path.string(), kPlaybackKeyBytes);
  }
  std::memcpy(bytes.data(), buffer.data(), bytes.size());
  OPENSSL_cleanse(buffer.data(), buffer.size());
  PlaybackKey key(bytes);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return std::optional<PlaybackKey>(std::move(key));
}

void SyncDirectory(const fs::path& directory) {
  Fd dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) {
    ::fsync(dir.get());
  }
}

// Writes a fresh random key to a new temporary file beside `path` (mode exactly 0600,
// fsynced) and returns the temporary file's path.
Result<fs::path> WriteNewKeyFile(const fs::path& path) {
  const fs::path directory = path.parent_path();
  std::error_code fs_error;
  fs::create_directories(directory, fs_error);
  if (fs_error) {
    return MakeError(ErrorCode::kUnavailable, "cannot create directory {}: {}", directory.string(),
                     fs_error.message());
  }
  PlaybackKey::Bytes bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return MakeError(ErrorCode::kUnavailable, "the OpenSSL random generator failed");
  }
  fs::path temp = path;
  temp += ".tmp-" + RandomHex(8);
  // O_EXCL on a random name: never follows a planted symlink, never clobbers a stranger.
  Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return MakeError(ErrorCode::kUnavailable, "cannot create {}: {}", temp.string(),
                     ErrnoText(errno));
  }
  auto fail = [&](std::string what) -> Result<fs::path> {
    const int error = errno;
    OPENSSL_cleanse(bytes.data(), bytes.size());
    ::unlink(temp.c_str());
    return MakeError(ErrorCode::kUnavailable, "cannot {} {}: {}", what, temp.string(),
                     ErrnoText(error));
  };
  // The umask cannot widen 0600, but an odd one could narrow it: make it exactly 0600.
  if (::fchmod(fd.get(), 0600) != 0) {
    return fail("chmod");
  }
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t put = ::write(fd.get(), bytes.data() + written, bytes.size() - written);
    if (put < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail("write");
    }
    written += static_cast<std::size_t>(put);
  }
  OPENSSL_cleanse(bytes.data(), bytes.size());
  if (::fsync(fd.get()) != 0) {
    return fail("fsync");
  }
  if (::close(fd.Release()) != 0) {
    return fail("close");
  }
  return temp;
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
    SG_ASSIGN_OR_RETURN(fs::path temp, WriteNewKeyFile(path));
    // link(2) fails with EEXIST instead of replacing: when another process created the key
    // meanwhile, everyone uses that one.
    const int linked = ::link(temp.c_str(), path.c_str());
    const int error = errno;
    ::unlink(temp.c_str());
    if (linked != 0 && error != EEXIST) {
      return MakeError(ErrorCode::kUnavailable, "cannot create playback key file {}: {}",
                       path.string(), ErrnoText(error));
    }
    SyncDirectory(path.parent_path());
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
  SG_ASSIGN_OR_RETURN(fs::path fresh, WriteNewKeyFile(path));
  // current -> previous through a hard link, so that `path` never disappears.
  fs::path staged = previous;
  staged += ".tmp-" + RandomHex(8);
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
