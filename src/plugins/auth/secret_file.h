#pragma once
/// Files that hold a secret (the admin API key, the ES256 signing keys, the playback key):
/// read only when nobody else can read them, written so that a crash leaves either no file
/// or the whole secret, and never with more than mode 0600.
///
/// Every message names the file and the kind of file (`what`, e.g. "signing key file"),
/// never its contents.

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/api/result.h"

namespace sg::plugins::auth {

/// Marks the temporary files WriteSecretFile writes beside the target
/// (`<path>.tmp-<random hex>`): a crash can leave one behind, and it never held a
/// finished secret.
inline constexpr std::string_view kSecretTempMarker = ".tmp-";

/// Owns a file descriptor: closes it however the scope is left.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  /// Gives up ownership (e.g. to close(2) it and check the result).
  int Release() noexcept;

 private:
  int fd_ = -1;
};

/// strerror-like text of an errno value, thread-safe.
std::string ErrnoText(int error);

/// Reads the secret in `path`, or std::nullopt when the file does not exist.
/// Refused: a symbolic link (kInvalidArgument; checked on the descriptor read from, so a
/// swap after the check cannot slip past), anything but a regular file (kInvalidArgument),
/// a file with any group or other permission bit (kPermissionDenied, the message says to
/// run `chmod 600 <path>`, followed by `if_exposed`, e.g. " (if others may have read it,
/// delete it ...)"), a file larger than `max_bytes` (kInvalidArgument). kPermissionDenied
/// when it cannot be opened for lack of rights, kUnavailable on other I/O errors.
/// Partial reads are wiped before an error is returned; the caller wipes the result.
Result<std::optional<std::string>> ReadSecretFile(const std::filesystem::path& path,
                                                  std::string_view what, std::size_t max_bytes,
                                                  std::string_view if_exposed = {});

enum class Placement {
  /// rename(2): replaces whatever `path` holds.
  kReplace,
  /// link(2): fails with kAlreadyExists when `path` exists, so that two processes
  /// creating the same secret at once agree on one file (the loser reads the winner's).
  kCreateOnly,
};

/// Writes `bytes` to a new temporary file beside `path` (`<path>.tmp-<random>`, O_EXCL so
/// a planted symlink is never followed, mode exactly 0600 whatever the umask, fsynced) and
/// returns the temporary file's path: the caller moves it into place or unlinks it. The
/// parent folder is created when missing. Nothing is left behind on error.
Result<std::filesystem::path> WriteSecretTempFile(const std::filesystem::path& path,
                                                  std::string_view bytes, std::string_view what);

/// Writes `bytes` to `path` through WriteSecretTempFile and `placement`, then fsyncs the
/// folder so the new name is durable. No temporary file remains, whatever the outcome.
/// kAlreadyExists (kCreateOnly only) when `path` already exists; kUnavailable on I/O errors.
Result<> WriteSecretFile(const std::filesystem::path& path, std::string_view bytes,
                         std::string_view what, Placement placement);

/// fsyncs a folder so that a rename, link or unlink in it survives a crash. Best effort:
/// a folder that cannot be opened is skipped (the change itself already happened).
void SyncDirectory(const std::filesystem::path& directory);

}  // namespace sg::plugins::auth
