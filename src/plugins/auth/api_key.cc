#include "plugins/auth/api_key.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "core/api/random.h"
#include "plugins/auth/auth_config.h"

namespace sg::plugins::auth {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kGeneratedKeyBytes = 32;
// A key file is one line; anything much larger is not a key file.
constexpr std::size_t kMaxKeyFileBytes = 4096;

std::array<unsigned char, 32> Digest(std::string_view text) {
  std::array<unsigned char, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

std::string_view Trim(std::string_view text) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && space(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && space(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) {
    return false;
  }
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
    if (lower(text[i]) != lower(prefix[i])) {
      return false;
    }
  }
  return true;
}

std::string ErrnoText(int error) {
  return std::error_code(error, std::generic_category()).message();
}

/// Closes the descriptor however the scope is left.
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
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

Result<std::string> ReadKeyFile(const fs::path& path, const struct stat& info) {
  if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "API key file {} is accessible by group or others (mode {:04o}); run "
                     "`chmod 600 {}` and start again",
                     path.string(), info.st_mode & 07777, path.string());
  }
  if (!S_ISREG(info.st_mode)) {
    return MakeError(ErrorCode::kInvalidArgument, "API key file {} is not a regular file",
                     path.string());
  }
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    int error = errno;
    return MakeError(error == EACCES ? ErrorCode::kPermissionDenied : ErrorCode::kUnavailable,
                     "cannot open API key file {}: {}", path.string(), ErrnoText(error));
  }
  std::string text;
  char chunk[1024];
  while (text.size() <= kMaxKeyFileBytes) {
    ssize_t read = ::read(fd.get(), chunk, sizeof(chunk));
    if (read < 0) {
      if (errno == EINTR) {
        continue;
      }
      return MakeError(ErrorCode::kUnavailable, "cannot read API key file {}: {}", path.string(),
                       ErrnoText(errno));
    }
    if (read == 0) {
      break;
    }
    text.append(chunk, static_cast<std::size_t>(read));
  }
  if (text.size() > kMaxKeyFileBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "API key file {} is larger than {} bytes",
                     path.string(), kMaxKeyFileBytes);
  }
  std::string_view key = Trim(text);
  if (key.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "API key file {} is empty; delete it to have a new key generated",
                     path.string());
  }
  if (key.size() < kMinApiKeyLength) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "API key in {} is shorter than {} characters; delete the file to have a "
                     "new key generated",
                     path.string(), kMinApiKeyLength);
  }
  return std::string(key);
}

Result<> WriteAll(int fd, std::string_view text, const fs::path& path) {
  while (!text.empty()) {
    ssize_t written = ::write(fd, text.data(), text.size());
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      return MakeError(ErrorCode::kUnavailable, "cannot write {}: {}", path.string(),
                       ErrnoText(errno));
    }
    text.remove_prefix(static_cast<std::size_t>(written));
  }
  return {};
}

Result<> CreateKeyFile(const fs::path& path, std::string_view key) {
  fs::path directory = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  std::error_code fs_error;
  fs::create_directories(directory, fs_error);
  if (fs_error) {
    return MakeError(ErrorCode::kUnavailable, "cannot create directory {}: {}", directory.string(),
                     fs_error.message());
  }
  // O_EXCL on a random name: never follows a planted symlink, never clobbers a stranger.
  fs::path temp = path;
  temp += ".tmp-" + RandomHex(8);
  Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    return MakeError(ErrorCode::kUnavailable, "cannot create {}: {}", temp.string(),
                     ErrnoText(errno));
  }
  auto fail = [&](Error error) -> Result<> {
    ::unlink(temp.c_str());
    return MakeError(std::move(error));
  };
  // The umask cannot widen 0600, but an odd one could narrow it: make it exactly 0600.
  if (::fchmod(fd.get(), 0600) != 0) {
    return fail({ErrorCode::kUnavailable,
                 fmt::format("cannot chmod {}: {}", temp.string(), ErrnoText(errno))});
  }
  std::string line = std::string(key) + "\n";
  if (auto written = WriteAll(fd.get(), line, temp); !written) {
    return fail(written.error());
  }
  if (::fsync(fd.get()) != 0) {
    return fail({ErrorCode::kUnavailable,
                 fmt::format("cannot fsync {}: {}", temp.string(), ErrnoText(errno))});
  }
  if (::close(fd.Release()) != 0) {
    return fail({ErrorCode::kUnavailable,
                 fmt::format("cannot close {}: {}", temp.string(), ErrnoText(errno))});
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return fail({ErrorCode::kUnavailable, fmt::format("cannot rename {} to {}: {}", temp.string(),
                                                      path.string(), ErrnoText(errno))});
  }
  // The rename is durable only once the directory entry is.
  Fd dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) {
    ::fsync(dir.get());
  }
  return {};
}

}  // namespace

Result<std::string> LoadOrCreateApiKey(const fs::path& path, spdlog::logger& logger) {
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0) {
    SG_ASSIGN_OR_RETURN(std::string key, ReadKeyFile(path, info));
    logger.info("admin API key is in {}", path.string());
    return key;
  }
  if (errno != ENOENT) {
    return MakeError(ErrorCode::kUnavailable, "cannot stat API key file {}: {}", path.string(),
                     ErrnoText(errno));
  }
  std::string key = RandomHex(kGeneratedKeyBytes);
  SG_RETURN_IF_ERROR(CreateKeyFile(path, key));
  logger.info("generated a new admin API key; admin API key is in {}", path.string());
  return key;
}

ApiKeyAuthenticator::ApiKeyAuthenticator(std::string_view api_key) : key_digest_(Digest(api_key)) {}

Result<Principal> ApiKeyAuthenticator::Authenticate(const HttpRequest& request) {
  auto header = request.Header("Authorization");
  if (!header) {
    return Principal{};
  }
  static constexpr std::string_view kScheme = "Bearer";
  std::string_view value = Trim(*header);
  if (!StartsWithIgnoreCase(value, kScheme) ||
      (value.size() > kScheme.size() && value[kScheme.size()] != ' ' &&
       value[kScheme.size()] != '\t')) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "unsupported Authorization scheme; use \"Authorization: Bearer <API key>\"");
  }
  std::string_view token = Trim(value.substr(kScheme.size()));
  if (token.empty()) {
    return MakeError(ErrorCode::kUnauthenticated, "the Bearer credential is empty");
  }
  auto presented = Digest(token);
  if (CRYPTO_memcmp(presented.data(), key_digest_.data(), key_digest_.size()) != 0) {
    return MakeError(ErrorCode::kUnauthenticated, "invalid API key");
  }
  return Principal{.id = "admin", .roles = {"admin", "creator"}};
}

}  // namespace sg::plugins::auth
