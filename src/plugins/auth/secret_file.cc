#include "plugins/auth/secret_file.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

#include "core/api/random.h"

namespace sg::plugins::auth {
namespace {

namespace fs = std::filesystem;

fs::path DirectoryOf(const fs::path& path) {
  return path.parent_path().empty() ? fs::path(".") : path.parent_path();
}

Result<> WriteAll(int fd, std::string_view bytes, const fs::path& path, std::string_view what) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      return MakeError(ErrorCode::kUnavailable, "cannot write {} {}: {}", what, path.string(),
                       ErrnoText(errno));
    }
    bytes.remove_prefix(static_cast<std::size_t>(written));
  }
  return {};
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    UniqueFd old(std::exchange(fd_, other.Release()));
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

int UniqueFd::Release() noexcept { return std::exchange(fd_, -1); }

std::string ErrnoText(int error) {
  return std::error_code(error, std::generic_category()).message();
}

Result<std::optional<std::string>> ReadSecretFile(const fs::path& path, std::string_view what,
                                                  std::size_t max_bytes,
                                                  std::string_view if_exposed) {
  // O_NOFOLLOW + fstat: what is checked is what is read, and a planted symlink is refused.
  // O_NONBLOCK: a FIFO planted in place of the file is refused below instead of blocking
  // the open until someone writes to it; it changes nothing for a regular file.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd.valid()) {
    const int error = errno;
    if (error == ENOENT) {
      return std::optional<std::string>();
    }
    struct stat link {};
    // ELOOP also means too many links among the folders; only a link itself is named so.
    if (error == ELOOP && ::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "{} {} is a symbolic link; replace it with the file itself", what,
                       path.string());
    }
    return MakeError(error == EACCES ? ErrorCode::kPermissionDenied : ErrorCode::kUnavailable,
                     "cannot open {} {}: {}", what, path.string(), ErrnoText(error));
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    return MakeError(ErrorCode::kUnavailable, "cannot stat {} {}: {}", what, path.string(),
                     ErrnoText(errno));
  }
  if (!S_ISREG(info.st_mode)) {
    return MakeError(ErrorCode::kInvalidArgument, "{} {} is not a regular file", what,
                     path.string());
  }
  if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "{} {} is accessible by group or others (mode {:04o}); run `chmod 600 {}` "
                     "and start again{}",
                     what, path.string(), info.st_mode & 07777, path.string(), if_exposed);
  }
  // Read in place into a buffer that never grows: a reallocation would leave a copy of
  // the secret behind in freed memory. One byte more than allowed notices a larger file.
  std::string text(max_bytes + 1, '\0');
  std::size_t have = 0;
  while (have < text.size()) {
    const ssize_t got = ::read(fd.get(), text.data() + have, text.size() - have);
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int error = errno;
      OPENSSL_cleanse(text.data(), text.size());
      return MakeError(ErrorCode::kUnavailable, "cannot read {} {}: {}", what, path.string(),
                       ErrnoText(error));
    }
    if (got == 0) {
      break;
    }
    have += static_cast<std::size_t>(got);
  }
  if (have > max_bytes) {
    OPENSSL_cleanse(text.data(), text.size());
    return MakeError(ErrorCode::kInvalidArgument, "{} {} is larger than {} bytes", what,
                     path.string(), max_bytes);
  }
  text.resize(have);  // shrinking keeps the buffer: nothing is copied
  return std::optional<std::string>(std::move(text));
}

Result<fs::path> WriteSecretTempFile(const fs::path& path, std::string_view bytes,
                                     std::string_view what) {
  const fs::path directory = DirectoryOf(path);
  std::error_code fs_error;
  fs::create_directories(directory, fs_error);
  if (fs_error) {
    return MakeError(ErrorCode::kUnavailable, "cannot create directory {}: {}", directory.string(),
                     fs_error.message());
  }
  fs::path temp = path;
  temp += std::string(kSecretTempMarker) + RandomHex(8);
  // O_EXCL on a random name: never follows a planted symlink, never clobbers a stranger.
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) {
    return MakeError(ErrorCode::kUnavailable, "cannot create {} {}: {}", what, temp.string(),
                     ErrnoText(errno));
  }
  auto fail = [&](std::string_view step) -> Result<fs::path> {
    const int error = errno;
    fd = UniqueFd();
    ::unlink(temp.c_str());
    return MakeError(ErrorCode::kUnavailable, "cannot {} {} {}: {}", step, what, temp.string(),
                     ErrnoText(error));
  };
  // The umask cannot widen 0600, but an odd one could narrow it: make it exactly 0600.
  if (::fchmod(fd.get(), 0600) != 0) {
    return fail("chmod");
  }
  if (auto written = WriteAll(fd.get(), bytes, temp, what); !written) {
    fd = UniqueFd();
    ::unlink(temp.c_str());
    return MakeError(std::move(written).error());
  }
  if (::fsync(fd.get()) != 0) {
    return fail("fsync");
  }
  if (::close(fd.Release()) != 0) {
    return fail("close");
  }
  return temp;
}

Result<> WriteSecretFile(const fs::path& path, std::string_view bytes, std::string_view what,
                         Placement placement) {
  SG_ASSIGN_OR_RETURN(fs::path temp, WriteSecretTempFile(path, bytes, what));
  if (placement == Placement::kReplace) {
    if (::rename(temp.c_str(), path.c_str()) != 0) {
      const int error = errno;
      ::unlink(temp.c_str());
      return MakeError(ErrorCode::kUnavailable, "cannot rename {} to {}: {}", temp.string(),
                       path.string(), ErrnoText(error));
    }
  } else {
    // link(2), unlike rename(2), fails with EEXIST instead of replacing the file.
    const int linked = ::link(temp.c_str(), path.c_str());
    const int error = errno;
    ::unlink(temp.c_str());
    if (linked != 0) {
      SyncDirectory(DirectoryOf(path));  // the unlink of the temporary file
      if (error == EEXIST) {
        return MakeError(ErrorCode::kAlreadyExists, "{} {} already exists", what, path.string());
      }
      return MakeError(ErrorCode::kUnavailable, "cannot create {} {}: {}", what, path.string(),
                       ErrnoText(error));
    }
  }
  // The new name is durable only once the folder entry is.
  SyncDirectory(DirectoryOf(path));
  return {};
}

void SyncDirectory(const fs::path& directory) {
  UniqueFd dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) {
    ::fsync(dir.get());
  }
}

}  // namespace sg::plugins::auth
