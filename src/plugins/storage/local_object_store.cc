#include "plugins/storage/local_object_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <limits>
#include <system_error>
#include <utility>
#include <vector>

#include "core/api/random.h"

namespace sg::plugins::storage {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kTmpDirName = ".tmp";
constexpr std::string_view kMultipartDirName = ".multipart";
constexpr std::string_view kDataFileName = "data";
constexpr std::string_view kPlanFileName = "plan";
constexpr std::size_t kUploadIdLength = 32;
constexpr std::size_t kMaxPlanBytes = 1024;
// A concurrent Delete may prune an empty parent folder between our mkdir and rename.
constexpr int kRenameAttempts = 4;
constexpr std::uint64_t kGiB = 1024ULL * 1024 * 1024;

std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

// Errors name the key (never the absolute path: messages may reach clients) and the errno.
Error ErrnoError(int err, std::string_view action) {
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return Error{ErrorCode::kUnavailable,
                   fmt::format("{}: {} (disk full)", action, ErrnoText(err))};
    case EIO:
    case EROFS:
      return Error{ErrorCode::kUnavailable, fmt::format("{}: {}", action, ErrnoText(err))};
    default:
      return Error{ErrorCode::kInternal, fmt::format("{}: {}", action, ErrnoText(err))};
  }
}

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  /// Gives up ownership (to fdopendir).
  int Release() noexcept { return std::exchange(fd_, -1); }
  void Reset() noexcept {
    if (fd_ >= 0) {
      // close(2) must not be retried on EINTR on Linux: the fd is released either way.
      ::close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_ = -1;
};

UniqueFd OpenFile(const fs::path& path, int flags, mode_t mode = 0) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  return UniqueFd(fd);
}

// Removes a file when the operation that created it did not finish.
class FileRemover {
 public:
  explicit FileRemover(fs::path path) : path_(std::move(path)) {}
  FileRemover(const FileRemover&) = delete;
  FileRemover& operator=(const FileRemover&) = delete;
  ~FileRemover() {
    if (armed_) {
      ::unlink(path_.c_str());
    }
  }
  void Disarm() noexcept { armed_ = false; }

 private:
  fs::path path_;
  bool armed_ = true;
};

Result<> PwriteAll(int fd, const char* data, std::size_t size, std::uint64_t offset,
                   std::string_view action) {
  while (size > 0) {
    ssize_t written = ::pwrite(fd, data, size, static_cast<off_t>(offset));
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      return MakeError(ErrnoError(errno, action));
    }
    data += written;
    size -= static_cast<std::size_t>(written);
    offset += static_cast<std::uint64_t>(written);
  }
  return {};
}

Result<std::size_t> PreadSome(int fd, char* data, std::size_t size, std::uint64_t offset,
                              std::string_view action) {
  while (true) {
    ssize_t got = ::pread(fd, data, size, static_cast<off_t>(offset));
    if (got >= 0) {
      return static_cast<std::size_t>(got);
    }
    if (errno != EINTR) {
      return MakeError(ErrnoError(errno, action));
    }
  }
}

Result<> SyncFd(int fd, bool data_only, std::string_view action) {
  while ((data_only ? ::fdatasync(fd) : ::fsync(fd)) != 0) {
    if (errno != EINTR) {
      return MakeError(ErrnoError(errno, action));
    }
  }
  return {};
}

WallTime ModifiedTime(const struct stat& st) {
  auto since_epoch =
      std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec);
  return WallTime(std::chrono::duration_cast<WallTime::duration>(since_epoch));
}

// FNV-1a over (inode, size, mtime ns): any rewrite changes the inode (rename) or the mtime.
std::string MakeEtag(const struct stat& st) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  auto mix = [&hash](std::uint64_t value) {
    for (int i = 0; i < 8; ++i) {
      hash ^= (value >> (i * 8)) & 0xff;
      hash *= 0x100000001b3ULL;
    }
  };
  mix(static_cast<std::uint64_t>(st.st_ino));
  mix(static_cast<std::uint64_t>(st.st_size));
  mix(static_cast<std::uint64_t>(st.st_mtim.tv_sec) * 1'000'000'000ULL +
      static_cast<std::uint64_t>(st.st_mtim.tv_nsec));
  return fmt::format("{:016x}", hash);
}

ObjectInfo InfoFromStat(std::string_view key, const struct stat& st) {
  return ObjectInfo{.key = std::string(key),
                    .size = static_cast<std::uint64_t>(st.st_size),
                    .modified = ModifiedTime(st),
                    .etag = MakeEtag(st)};
}

bool IsReservedTopLevel(std::string_view segment) {
  return segment == kTmpDirName || segment == kMultipartDirName;
}

std::string_view FirstSegment(std::string_view key) { return key.substr(0, key.find('/')); }

Result<> ValidateKey(std::string_view key) {
  SG_RETURN_IF_ERROR(ValidateObjectKey(key));
  if (IsReservedTopLevel(FirstSegment(key))) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "object key {} starts with {}, which the local store reserves", key,
                     FirstSegment(key));
  }
  return {};
}

Result<> ValidateUploadId(std::string_view upload_id) {
  bool ok = upload_id.size() == kUploadIdLength &&
            std::all_of(upload_id.begin(), upload_id.end(),
                        [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  if (!ok) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "multipart upload id must be 32 lower-case hex digits");
  }
  return {};
}

// A List prefix: complete segments follow the key rule; the last, partial one only has to
// use key characters (it is matched against names, never used as a path).
Result<> ValidateListPrefix(std::string_view prefix) {
  if (prefix.empty()) {
    return {};
  }
  std::size_t slash = prefix.rfind('/');
  if (slash != std::string_view::npos) {
    SG_RETURN_IF_ERROR(ValidateKey(prefix.substr(0, slash)).map_error([&](Error error) {
      error.message = fmt::format("list prefix: {}", error.message);
      return error;
    }));
  }
  std::string_view partial = slash == std::string_view::npos ? prefix : prefix.substr(slash + 1);
  std::string probe = partial.empty() ? std::string("x") : std::string(partial);
  // "." and ".." are fine as the start of a name ("..a"), so check them as part of one.
  if (!ValidateObjectKey(probe + "x")) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "list prefix has a character outside [A-Za-z0-9._-/]");
  }
  return {};
}

std::string FormatBytes(std::uint64_t bytes) {
  constexpr std::array<std::string_view, 5> kUnits = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < kUnits.size()) {
    value /= 1024;
    ++unit;
  }
  if (unit == 0) {
    return fmt::format("{} B", bytes);
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

// Reads [offset, offset + length) of an open file with pread, so the fd's own position is
// never used (sendfile callers may share it).
class FileRange {
 public:
  FileRange(std::shared_ptr<const SharedFile> file, std::uint64_t offset, std::uint64_t length,
            std::string name)
      : file_(std::move(file)), offset_(offset), length_(length), name_(std::move(name)) {}
  FileRange(UniqueFd fd, std::uint64_t offset, std::uint64_t length, std::string name)
      : FileRange(std::make_shared<const SharedFile>(fd.Release()), offset, length,
                  std::move(name)) {}

  Result<std::size_t> Read(std::span<char> buffer) {
    std::uint64_t remaining = length_ - position_;
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, buffer.size()));
    if (want == 0) {
      return 0;
    }
    SG_ASSIGN_OR_RETURN(std::size_t got,
                        PreadSome(file_->fd(), buffer.data(), want, offset_ + position_,
                                  fmt::format("read {}", name_)));
    if (got == 0) {
      // The file shrank under us (it never does in this store: objects are replaced by
      // rename), so fail rather than hand out a short object as if it were whole.
      return MakeError(ErrorCode::kInternal, "read {}: file ended {} bytes early", name_,
                       remaining);
    }
    position_ += got;
    return got;
  }

  int fd() const noexcept { return file_->fd(); }
  std::uint64_t offset() const noexcept { return offset_; }
  std::uint64_t length() const noexcept { return length_; }

 private:
  std::shared_ptr<const SharedFile> file_;
  std::uint64_t offset_;
  std::uint64_t length_;
  std::uint64_t position_ = 0;
  std::string name_;
};

class LocalObjectReader final : public ObjectReader {
 public:
  LocalObjectReader(ObjectInfo info, FileRange range)
      : info_(std::move(info)), range_(std::move(range)) {}
  Result<std::size_t> Read(std::span<char> buffer) override { return range_.Read(buffer); }
  const ObjectInfo& info() const noexcept override { return info_; }
  std::uint64_t length() const noexcept override { return range_.length(); }
  std::optional<FileSpan> file_span() const noexcept override {
    return FileSpan{range_.fd(), range_.offset(), range_.length()};
  }

 private:
  ObjectInfo info_;
  FileRange range_;
};

class PartSource final : public ByteSource {
 public:
  explicit PartSource(FileRange range) : range_(std::move(range)) {}
  Result<std::size_t> Read(std::span<char> buffer) override { return range_.Read(buffer); }

 private:
  FileRange range_;
};

struct DirEntry {
  std::string name;
  bool is_dir = false;
  struct stat st {};
  std::string SortName() const { return is_dir ? name + "/" : name; }
};

// The entries of a folder that are regular files or folders (symlinks and others are not
// objects). ENOENT/ENOTDIR = an empty folder.
Result<std::vector<DirEntry>> ReadDirEntries(const fs::path& dir, std::string_view what) {
  std::vector<DirEntry> entries;
  UniqueFd dir_fd = OpenFile(dir, O_RDONLY | O_DIRECTORY);
  if (!dir_fd.valid()) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return entries;
    }
    return MakeError(ErrnoError(errno, fmt::format("open folder {}", what)));
  }
  int fd_for_stat = dir_fd.get();
  DIR* dir_stream = ::fdopendir(fd_for_stat);
  if (dir_stream == nullptr) {
    return MakeError(ErrnoError(errno, fmt::format("read folder {}", what)));
  }
  dir_fd.Release();  // closedir closes it
  struct Closer {
    DIR* dir;
    ~Closer() { ::closedir(dir); }
  } closer{dir_stream};
  while (true) {
    errno = 0;
    struct dirent* entry = ::readdir(dir_stream);
    if (entry == nullptr) {
      if (errno != 0) {
        return MakeError(ErrnoError(errno, fmt::format("read folder {}", what)));
      }
      break;
    }
    std::string_view name = entry->d_name;
    if (name == "." || name == "..") {
      continue;
    }
    DirEntry item;
    item.name = std::string(name);
    if (::fstatat(fd_for_stat, entry->d_name, &item.st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) {
        continue;  // removed since readdir
      }
      return MakeError(ErrnoError(errno, fmt::format("stat {}/{}", what, name)));
    }
    if (S_ISDIR(item.st.st_mode)) {
      item.is_dir = true;
    } else if (!S_ISREG(item.st.st_mode)) {
      continue;
    }
    entries.push_back(std::move(item));
  }
  return entries;
}

// Collects objects under `dir` (whose keys start with `key_prefix`) in key order, at most
// `want`, skipping every key <= start_after without descending where it can.
Result<> WalkOrdered(const fs::path& dir, const std::string& key_prefix,
                     std::string_view name_filter, bool top_level, std::string_view start_after,
                     std::size_t want, std::vector<ObjectInfo>& out) {
  SG_ASSIGN_OR_RETURN(auto entries,
                      ReadDirEntries(dir, key_prefix.empty() ? std::string_view(".")
                                                             : std::string_view(key_prefix)));
  // Ordering by name + "/" for folders makes the depth-first walk yield keys in byte order:
  // every key below folder "a" starts with "a/".
  std::sort(entries.begin(), entries.end(),
            [](const DirEntry& a, const DirEntry& b) { return a.SortName() < b.SortName(); });
  for (const auto& entry : entries) {
    if (out.size() >= want) {
      return {};
    }
    if (top_level && IsReservedTopLevel(entry.name)) {
      continue;
    }
    if (!std::string_view(entry.name).starts_with(name_filter)) {
      continue;
    }
    std::string key = key_prefix + entry.name;
    if (entry.is_dir) {
      std::string below = key + "/";
      bool all_before = !start_after.empty() && std::string_view(below) < start_after &&
                        !start_after.starts_with(below);
      if (all_before) {
        continue;
      }
      SG_RETURN_IF_ERROR(WalkOrdered(dir / entry.name, below, "", false, start_after, want, out));
      continue;
    }
    if (!start_after.empty() && std::string_view(key) <= start_after) {
      continue;
    }
    out.push_back(InfoFromStat(key, entry.st));
  }
  return {};
}

// Removes everything below `dir` (not `dir` itself); returns how many objects went.
Result<std::uint64_t> RemoveTree(const fs::path& dir, const std::string& name) {
  SG_ASSIGN_OR_RETURN(auto entries, ReadDirEntries(dir, name));
  std::uint64_t removed = 0;
  for (const auto& entry : entries) {
    fs::path path = dir / entry.name;
    std::string child = name + "/" + entry.name;
    if (entry.is_dir) {
      SG_ASSIGN_OR_RETURN(std::uint64_t below, RemoveTree(path, child));
      removed += below;
      // ENOTEMPTY: a concurrent Put added an object; it stays.
      if (::rmdir(path.c_str()) != 0 && errno != ENOENT && errno != ENOTEMPTY) {
        return MakeError(ErrnoError(errno, fmt::format("remove folder {}", child)));
      }
      continue;
    }
    if (::unlink(path.c_str()) != 0) {
      if (errno == ENOENT) {
        continue;
      }
      return MakeError(ErrnoError(errno, fmt::format("delete object {}", child)));
    }
    ++removed;
  }
  return removed;
}

Result<std::uint64_t> ParseU64(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return MakeError(ErrorCode::kInternal, "not a number: {}", text);
  }
  return value;
}

}  // namespace

Health EvaluateDiskHealth(const DiskStatus& status) {
  if (!status.writable) {
    return {HealthStatus::kDown,
            fmt::format("object store root is not writable: {}", status.problem)};
  }
  double percent = status.total_bytes == 0 ? 0.0
                                           : 100.0 * static_cast<double>(status.free_bytes) /
                                                 static_cast<double>(status.total_bytes);
  std::string detail = fmt::format("{} free of {} ({:.1f}%)", FormatBytes(status.free_bytes),
                                   FormatBytes(status.total_bytes), percent);
  // Integer form of free < 5% of total, exact for any size.
  bool low = status.free_bytes < kGiB || status.free_bytes * 20 < status.total_bytes;
  if (low) {
    return {HealthStatus::kDegraded, "low disk space: " + detail};
  }
  return {HealthStatus::kOk, detail};
}

std::uint64_t LocalObjectStore::Plan::PartCount() const {
  return total_size / part_size + (total_size % part_size != 0 ? 1 : 0);
}

std::uint64_t LocalObjectStore::Plan::PartSize(std::uint64_t part_number) const {
  if (part_number < PartCount()) {
    return part_size;
  }
  return total_size - (PartCount() - 1) * part_size;
}

LocalObjectStore::LocalObjectStore(Options options, const Clock& clock)
    : options_(std::move(options)),
      clock_(clock),
      tmp_dir_(options_.root / kTmpDirName),
      multipart_dir_(options_.root / kMultipartDirName),
      open_files_(options_.open_files, clock) {}

Result<std::shared_ptr<LocalObjectStore>> LocalObjectStore::Open(Options options,
                                                                 const Clock& clock) {
  if (options.root.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "object store root is empty");
  }
  if (options.io_buffer == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "object store io_buffer must be > 0");
  }
  std::shared_ptr<LocalObjectStore> store(new LocalObjectStore(std::move(options), clock));
  for (const fs::path& dir : {store->options_.root, store->tmp_dir_, store->multipart_dir_}) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      return MakeError(ErrnoError(ec.value(), fmt::format("create {}", dir.string())));
    }
  }
  return store;
}

Result<> LocalObjectStore::SyncDir(const fs::path& dir, std::string_view what) const {
  if (!options_.fsync) {
    return {};
  }
  UniqueFd fd = OpenFile(dir, O_RDONLY | O_DIRECTORY);
  if (!fd.valid()) {
    return MakeError(ErrnoError(errno, fmt::format("open folder of {}", what)));
  }
  return SyncFd(fd.get(), false, fmt::format("fsync folder of {}", what));
}

Result<> LocalObjectStore::CreateParents(std::string_view key) const {
  std::size_t slash = key.find('/');
  fs::path dir = options_.root;
  while (slash != std::string_view::npos) {
    std::string_view parent_key = key.substr(0, slash);
    dir = options_.root / parent_key;
    if (::mkdir(dir.c_str(), 0755) == 0) {
      SG_RETURN_IF_ERROR(SyncDir(dir.parent_path(), parent_key));
    } else if (errno == EEXIST) {
      struct stat st {};
      if (::stat(dir.c_str(), &st) != 0) {
        return MakeError(ErrnoError(errno, fmt::format("stat folder {}", parent_key)));
      }
      if (!S_ISDIR(st.st_mode)) {
        return MakeError(ErrorCode::kAlreadyExists, "object key {} conflicts with the object {}",
                         key, parent_key);
      }
    } else if (errno == ENOTDIR) {
      return MakeError(ErrorCode::kAlreadyExists, "object key {} conflicts with an object above {}",
                       key, parent_key);
    } else {
      return MakeError(ErrnoError(errno, fmt::format("create folder {}", parent_key)));
    }
    slash = key.find('/', slash + 1);
  }
  return {};
}

void LocalObjectStore::PruneEmptyParents(std::string_view key) const {
  std::size_t slash = key.rfind('/');
  while (slash != std::string_view::npos && slash > 0) {
    std::string_view parent_key = key.substr(0, slash);
    fs::path dir = options_.root / parent_key;
    // Fails with ENOTEMPTY as soon as a folder still holds something: stop there.
    if (::rmdir(dir.c_str()) != 0) {
      return;
    }
    slash = parent_key.rfind('/');
  }
}

Result<> LocalObjectStore::RenameIntoPlace(const fs::path& from, std::string_view key) {
  fs::path to = options_.root / key;
  for (int attempt = 1;; ++attempt) {
    SG_RETURN_IF_ERROR(CreateParents(key));
    if (::rename(from.c_str(), to.c_str()) == 0) {
      // After the rename: a reader that opened the old file before it either cached it
      // already (dropped here) or is refused by the bumped generation when it tries.
      open_files_.Erase(key);
      return SyncDir(to.parent_path(), key);
    }
    int err = errno;
    if (err == ENOENT && attempt < kRenameAttempts) {
      continue;
    }
    if (err == EISDIR || err == ENOTEMPTY || err == EEXIST) {
      return MakeError(ErrorCode::kAlreadyExists,
                       "object key {} conflicts with a folder of other objects", key);
    }
    if (err == ENOTDIR) {
      return MakeError(ErrorCode::kAlreadyExists, "object key {} conflicts with an object above it",
                       key);
    }
    return MakeError(ErrnoError(err, fmt::format("rename into object {}", key)));
  }
}

Result<ObjectInfo> LocalObjectStore::Put(std::string_view key, ByteSource& source) {
  SG_RETURN_IF_ERROR(ValidateKey(key));
  fs::path tmp = tmp_dir_ / RandomHex(16);
  UniqueFd fd = OpenFile(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (!fd.valid()) {
    return MakeError(ErrnoError(errno, fmt::format("create temporary file for object {}", key)));
  }
  FileRemover remover(tmp);
  std::string action = fmt::format("write object {}", key);
  std::vector<char> buffer(options_.io_buffer);
  std::uint64_t offset = 0;
  while (true) {
    auto got = source.Read(std::span<char>(buffer));
    if (!got) {
      return MakeError(got.error().WithContext(fmt::format("put {}", key)));
    }
    if (*got == 0) {
      break;
    }
    SG_RETURN_IF_ERROR(PwriteAll(fd.get(), buffer.data(), *got, offset, action));
    offset += *got;
  }
  if (options_.fsync) {
    SG_RETURN_IF_ERROR(SyncFd(fd.get(), false, fmt::format("fsync object {}", key)));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return MakeError(ErrnoError(errno, fmt::format("stat object {}", key)));
  }
  SG_RETURN_IF_ERROR(RenameIntoPlace(tmp, key));
  remover.Disarm();
  return InfoFromStat(key, st);
}

Result<ObjectInfo> LocalObjectStore::Stat(std::string_view key) {
  SG_RETURN_IF_ERROR(ValidateKey(key));
  fs::path path = options_.root / key;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return MakeError(ErrorCode::kNotFound, "object {} does not exist", key);
    }
    return MakeError(ErrnoError(errno, fmt::format("stat object {}", key)));
  }
  if (!S_ISREG(st.st_mode)) {
    return MakeError(ErrorCode::kNotFound, "object {} does not exist (it is a folder)", key);
  }
  return InfoFromStat(key, st);
}

Result<std::unique_ptr<ObjectReader>> LocalObjectStore::Get(std::string_view key, ByteRange range) {
  SG_RETURN_IF_ERROR(ValidateKey(key));
  std::optional<CachedFile> open = open_files_.Find(key);
  if (!open) {
    const std::uint64_t generation = open_files_.generation();
    fs::path path = options_.root / key;
    UniqueFd fd = OpenFile(path, O_RDONLY);
    if (!fd.valid()) {
      if (errno == ENOENT || errno == ENOTDIR) {
        return MakeError(ErrorCode::kNotFound, "object {} does not exist", key);
      }
      return MakeError(ErrnoError(errno, fmt::format("open object {}", key)));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
      return MakeError(ErrnoError(errno, fmt::format("stat object {}", key)));
    }
    if (!S_ISREG(st.st_mode)) {
      return MakeError(ErrorCode::kNotFound, "object {} does not exist (it is a folder)", key);
    }
    open = CachedFile{std::make_shared<const SharedFile>(fd.Release()), st};
    open_files_.Insert(key, *open, generation);
  }
  const struct stat& st = open->st;
  auto size = static_cast<std::uint64_t>(st.st_size);
  if (range.offset > size) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "range of object {} starts at byte {}, beyond its end ({} bytes)", key,
                     range.offset, size);
  }
  std::uint64_t available = size - range.offset;
  std::uint64_t length = std::min(range.length.value_or(available), available);
  FileRange file_range(std::move(open->file), range.offset, length, std::string(key));
  return std::make_unique<LocalObjectReader>(InfoFromStat(key, st), std::move(file_range));
}

Result<ObjectListPage> LocalObjectStore::List(std::string_view prefix, std::string_view start_after,
                                              std::size_t limit) {
  SG_RETURN_IF_ERROR(ValidateListPrefix(prefix));
  if (limit == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "list limit must be at least 1");
  }
  std::size_t slash = prefix.rfind('/');
  std::string dir_part =
      slash == std::string_view::npos ? std::string() : std::string(prefix.substr(0, slash + 1));
  std::string_view name_filter =
      slash == std::string_view::npos ? prefix : prefix.substr(slash + 1);
  fs::path dir = dir_part.empty() ? options_.root : options_.root / dir_part.substr(0, slash);

  ObjectListPage page;
  // One more than asked tells whether another page follows.
  SG_RETURN_IF_ERROR(WalkOrdered(dir, dir_part, name_filter, dir_part.empty(), start_after,
                                 limit + 1, page.objects));
  if (page.objects.size() > limit) {
    page.objects.pop_back();
    page.next_start_after = page.objects.back().key;
  }
  return page;
}

Result<> LocalObjectStore::Delete(std::string_view key) {
  SG_RETURN_IF_ERROR(ValidateKey(key));
  fs::path path = options_.root / key;
  const int unlinked = ::unlink(path.c_str());
  open_files_.Erase(key);
  if (unlinked != 0) {
    // EISDIR: the key names a folder of other objects, so there is no such object.
    if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR) {
      return {};
    }
    return MakeError(ErrnoError(errno, fmt::format("delete object {}", key)));
  }
  SG_RETURN_IF_ERROR(SyncDir(path.parent_path(), key));
  PruneEmptyParents(key);
  return {};
}

Result<std::uint64_t> LocalObjectStore::DeletePrefix(std::string_view prefix) {
  if (prefix.empty() || prefix.back() != '/') {
    return MakeError(ErrorCode::kInvalidArgument, "delete prefix {} must end in '/'", prefix);
  }
  std::string_view folder = prefix.substr(0, prefix.size() - 1);
  SG_RETURN_IF_ERROR(ValidateKey(folder).map_error([&](Error error) {
    error.message = fmt::format("delete prefix: {}", error.message);
    return error;
  }));
  fs::path dir = options_.root / folder;
  auto removed_tree = RemoveTree(dir, std::string(folder));
  open_files_.ErasePrefix(prefix);
  SG_ASSIGN_OR_RETURN(std::uint64_t removed, std::move(removed_tree));
  if (::rmdir(dir.c_str()) == 0) {
    SG_RETURN_IF_ERROR(SyncDir(dir.parent_path(), folder));
    PruneEmptyParents(folder);
  } else if (errno == ENOENT) {
    PruneEmptyParents(folder);  // an earlier call may have stopped before pruning
  }
  return removed;
}

fs::path LocalObjectStore::UploadDir(std::string_view upload_id) const {
  return multipart_dir_ / upload_id;
}

Result<LocalObjectStore::Plan> LocalObjectStore::ReadPlan(std::string_view key,
                                                          std::string_view upload_id) const {
  SG_RETURN_IF_ERROR(ValidateKey(key));
  SG_RETURN_IF_ERROR(ValidateUploadId(upload_id));
  UniqueFd fd = OpenFile(UploadDir(upload_id) / kPlanFileName, O_RDONLY);
  if (!fd.valid()) {
    if (errno == ENOENT) {
      return MakeError(ErrorCode::kNotFound, "multipart upload {} does not exist", upload_id);
    }
    return MakeError(ErrnoError(errno, fmt::format("open multipart upload {}", upload_id)));
  }
  std::array<char, kMaxPlanBytes> text{};
  std::size_t size = 0;
  while (size < text.size()) {
    SG_ASSIGN_OR_RETURN(std::size_t got,
                        PreadSome(fd.get(), text.data() + size, text.size() - size, size,
                                  fmt::format("read multipart upload {}", upload_id)));
    if (got == 0) {
      break;
    }
    size += got;
  }
  std::string_view line(text.data(), size);
  if (!line.empty() && line.back() == '\n') {
    line.remove_suffix(1);
  }
  std::size_t first = line.find(',');
  std::size_t second = first == std::string_view::npos ? first : line.find(',', first + 1);
  auto corrupt = [&] {
    return MakeError(ErrorCode::kInternal, "multipart upload {} has a corrupt plan", upload_id);
  };
  if (second == std::string_view::npos) {
    return corrupt();
  }
  auto part_size = ParseU64(line.substr(0, first));
  auto total_size = ParseU64(line.substr(first + 1, second - first - 1));
  if (!part_size || !total_size || *part_size == 0) {
    return corrupt();
  }
  Plan plan{*part_size, *total_size, std::string(line.substr(second + 1))};
  if (plan.key != key) {
    return MakeError(ErrorCode::kInvalidArgument, "multipart upload {} is not for object {}",
                     upload_id, key);
  }
  return plan;
}

Result<std::string> LocalObjectStore::CreateMultipart(std::string_view key,
                                                      const MultipartPlan& plan) {
  SG_RETURN_IF_ERROR(ValidateKey(key));
  if (plan.part_size == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "multipart part size must be > 0");
  }
  if (plan.total_size > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max())) {
    return MakeError(ErrorCode::kInvalidArgument, "multipart total size {} is too large",
                     plan.total_size);
  }
  Plan stored{plan.part_size, plan.total_size, std::string(key)};
  if (stored.PartCount() > kMaxParts) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "multipart upload of {} bytes in parts of {} needs {} parts, at most {}",
                     plan.total_size, plan.part_size, stored.PartCount(), kMaxParts);
  }
  std::string upload_id = RandomHex(kUploadIdLength / 2);
  fs::path dir = UploadDir(upload_id);
  if (::mkdir(dir.c_str(), 0755) != 0) {
    return MakeError(ErrnoError(errno, fmt::format("create multipart upload for {}", key)));
  }
  auto cleanup = [&] {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  };
  std::string action = fmt::format("create multipart upload for {}", key);
  UniqueFd data = OpenFile(dir / kDataFileName, O_WRONLY | O_CREAT | O_EXCL, 0644);
  // Sparse: parts fill it in place, so completing is a rename.
  if (!data.valid() || ::ftruncate(data.get(), static_cast<off_t>(plan.total_size)) != 0) {
    Error error = ErrnoError(errno, action);
    cleanup();
    return MakeError(std::move(error));
  }
  // The plan appears last and atomically: an upload exists exactly when its plan does.
  std::string text = fmt::format("{},{},{}\n", plan.part_size, plan.total_size, key);
  fs::path plan_tmp = dir / "plan.new";
  UniqueFd plan_fd = OpenFile(plan_tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (!plan_fd.valid()) {
    Error error = ErrnoError(errno, action);
    cleanup();
    return MakeError(std::move(error));
  }
  auto written = PwriteAll(plan_fd.get(), text.data(), text.size(), 0, action);
  if (written && options_.fsync) {
    written = SyncFd(plan_fd.get(), false, action);
  }
  if (written && ::rename(plan_tmp.c_str(), (dir / kPlanFileName).c_str()) != 0) {
    written = MakeError(ErrnoError(errno, action));
  }
  if (written) {
    written = SyncDir(dir, key);
  }
  if (written) {
    written = SyncDir(multipart_dir_, key);
  }
  if (!written) {
    cleanup();
    return MakeError(std::move(written).error());
  }
  return upload_id;
}

Result<PartInfo> LocalObjectStore::UploadPart(std::string_view key, std::string_view upload_id,
                                              std::uint32_t part_number, ByteSource& source,
                                              std::uint64_t expected_size) {
  SG_ASSIGN_OR_RETURN(Plan plan, ReadPlan(key, upload_id));
  if (part_number == 0 || part_number > plan.PartCount()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "part {} of multipart upload {} is out of range 1..{}", part_number, upload_id,
                     plan.PartCount());
  }
  std::uint64_t planned = plan.PartSize(part_number);
  if (expected_size != planned) {
    return MakeError(ErrorCode::kInvalidArgument, "part {}: the plan says {} bytes, not {}",
                     part_number, planned, expected_size);
  }
  fs::path dir = UploadDir(upload_id);
  fs::path marker = dir / fmt::format("part-{}", part_number);
  // The part is absent while it is rewritten: a failure below leaves it absent, never a
  // mix of old and new bytes that claims to be stored.
  if (::unlink(marker.c_str()) == 0) {
    SG_RETURN_IF_ERROR(SyncDir(dir, key));
  } else if (errno != ENOENT) {
    return MakeError(ErrnoError(errno, fmt::format("reset part {} of {}", part_number, key)));
  }
  UniqueFd data = OpenFile(dir / kDataFileName, O_WRONLY);
  if (!data.valid()) {
    if (errno == ENOENT) {
      return MakeError(ErrorCode::kNotFound, "multipart upload {} does not exist", upload_id);
    }
    return MakeError(ErrnoError(errno, fmt::format("open multipart upload {}", upload_id)));
  }
  std::string action = fmt::format("write part {} of {}", part_number, key);
  std::uint64_t offset = (part_number - 1) * plan.part_size;
  std::vector<char> buffer(static_cast<std::size_t>(
      std::max<std::uint64_t>(1, std::min<std::uint64_t>(options_.io_buffer, planned))));
  std::uint64_t received = 0;
  while (true) {
    std::uint64_t remaining = planned - received;
    // At the planned size, ask for one more byte: a source that still has some is too long.
    std::size_t want =
        remaining == 0
            ? 1
            : static_cast<std::size_t>(std::min<std::uint64_t>(remaining, buffer.size()));
    auto got = source.Read(std::span<char>(buffer.data(), want));
    if (!got) {
      return MakeError(got.error().WithContext(fmt::format("part {}", part_number)));
    }
    if (remaining == 0) {
      if (*got != 0) {
        return MakeError(ErrorCode::kInvalidArgument, "part {}: expected {} bytes, got more",
                         part_number, planned);
      }
      break;
    }
    if (*got == 0) {
      return MakeError(ErrorCode::kInvalidArgument, "part {}: expected {} bytes, got {}",
                       part_number, planned, received);
    }
    SG_RETURN_IF_ERROR(PwriteAll(data.get(), buffer.data(), *got, offset + received, action));
    received += *got;
  }
  if (options_.fsync) {
    SG_RETURN_IF_ERROR(SyncFd(data.get(), true, action));
  }
  UniqueFd marker_fd = OpenFile(marker, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (!marker_fd.valid()) {
    if (errno == ENOENT) {
      return MakeError(ErrorCode::kNotFound, "multipart upload {} was aborted", upload_id);
    }
    return MakeError(ErrnoError(errno, action));
  }
  marker_fd.Reset();
  SG_RETURN_IF_ERROR(SyncDir(dir, key));
  return PartInfo{.part_number = part_number,
                  .size = planned,
                  .etag = fmt::format("{}-{}", part_number, planned)};
}

Result<ObjectInfo> LocalObjectStore::CompleteMultipart(std::string_view key,
                                                       std::string_view upload_id,
                                                       std::span<const PartInfo> parts) {
  auto plan = ReadPlan(key, upload_id);
  // Completed before (the upload folder is gone) or crashed between rename and clean-up
  // (the plan is there, the data is not): the object itself says whether it worked.
  auto already_completed = [&]() -> Result<ObjectInfo> {
    std::uint64_t total = 0;
    for (const auto& part : parts) {
      total += part.size;
    }
    auto info = Stat(key);
    if (info && info->size == total) {
      std::error_code ignored;
      fs::remove_all(UploadDir(upload_id), ignored);
      return info;
    }
    return MakeError(ErrorCode::kNotFound, "multipart upload {} does not exist", upload_id);
  };
  if (!plan) {
    if (plan.error().code == ErrorCode::kNotFound) {
      return already_completed();
    }
    return MakeError(std::move(plan).error());
  }
  fs::path dir = UploadDir(upload_id);
  std::uint64_t count = plan->PartCount();
  for (std::uint64_t i = 0; i < std::max<std::uint64_t>(count, parts.size()); ++i) {
    std::uint64_t number = i + 1;
    if (i >= parts.size()) {
      return MakeError(ErrorCode::kInvalidArgument, "part {} of {} is missing", number, count);
    }
    const PartInfo& part = parts[i];
    if (part.part_number != number) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "parts must be listed 1..{} in order: position {} holds part {}", count,
                       number, part.part_number);
    }
    if (i >= count) {
      return MakeError(ErrorCode::kInvalidArgument, "part {} is beyond the plan's {} parts", number,
                       count);
    }
    if (part.size != plan->PartSize(number)) {
      return MakeError(ErrorCode::kInvalidArgument, "part {}: size {} does not match the plan's {}",
                       number, part.size, plan->PartSize(number));
    }
    struct stat st {};
    if (::stat((dir / fmt::format("part-{}", number)).c_str(), &st) != 0) {
      return MakeError(ErrorCode::kInvalidArgument, "part {} of {} is not stored", number, count);
    }
  }
  fs::path data_path = dir / kDataFileName;
  UniqueFd data = OpenFile(data_path, O_RDONLY);
  if (!data.valid()) {
    if (errno == ENOENT) {
      return already_completed();
    }
    return MakeError(ErrnoError(errno, fmt::format("open multipart upload {}", upload_id)));
  }
  if (options_.fsync) {
    SG_RETURN_IF_ERROR(SyncFd(data.get(), false, fmt::format("fsync object {}", key)));
  }
  struct stat st {};
  if (::fstat(data.get(), &st) != 0) {
    return MakeError(ErrnoError(errno, fmt::format("stat object {}", key)));
  }
  SG_RETURN_IF_ERROR(RenameIntoPlace(data_path, key));
  std::error_code ignored;
  fs::remove_all(dir, ignored);
  return InfoFromStat(key, st);
}

Result<> LocalObjectStore::AbortMultipart(std::string_view key, std::string_view upload_id) {
  auto plan = ReadPlan(key, upload_id);
  if (!plan && plan.error().code != ErrorCode::kNotFound) {
    return MakeError(std::move(plan).error());
  }
  // Also without a plan: a crash during CreateMultipart leaves a folder without one.
  std::error_code ec;
  fs::remove_all(UploadDir(upload_id), ec);
  if (ec) {
    return MakeError(ErrnoError(ec.value(), fmt::format("abort multipart upload {}", upload_id)));
  }
  return {};
}

Result<std::unique_ptr<ByteSource>> LocalObjectStore::ReadPart(std::string_view key,
                                                               std::string_view upload_id,
                                                               std::uint32_t part_number,
                                                               std::uint64_t size) {
  SG_ASSIGN_OR_RETURN(Plan plan, ReadPlan(key, upload_id));
  if (part_number == 0 || part_number > plan.PartCount()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "part {} of multipart upload {} is out of range 1..{}", part_number, upload_id,
                     plan.PartCount());
  }
  if (size != plan.PartSize(part_number)) {
    return MakeError(ErrorCode::kInvalidArgument, "part {}: the plan says {} bytes, not {}",
                     part_number, plan.PartSize(part_number), size);
  }
  fs::path dir = UploadDir(upload_id);
  struct stat st {};
  if (::stat((dir / fmt::format("part-{}", part_number)).c_str(), &st) != 0) {
    return MakeError(ErrorCode::kNotFound, "part {} of multipart upload {} is not stored",
                     part_number, upload_id);
  }
  UniqueFd data = OpenFile(dir / kDataFileName, O_RDONLY);
  if (!data.valid()) {
    if (errno == ENOENT) {
      return MakeError(ErrorCode::kNotFound, "multipart upload {} does not exist", upload_id);
    }
    return MakeError(ErrnoError(errno, fmt::format("open multipart upload {}", upload_id)));
  }
  FileRange range(std::move(data), (part_number - 1) * plan.part_size, size,
                  fmt::format("part {} of {}", part_number, key));
  return std::make_unique<PartSource>(std::move(range));
}

std::optional<fs::path> LocalObjectStore::LocalPath(std::string_view key) {
  if (!ValidateKey(key)) {
    return std::nullopt;
  }
  return options_.root / key;
}

Result<std::uint64_t> LocalObjectStore::RemoveStaleTemporaryFiles(std::chrono::seconds older_than) {
  SG_ASSIGN_OR_RETURN(auto entries, ReadDirEntries(tmp_dir_, kTmpDirName));
  WallTime cutoff = clock_.WallNow() - older_than;
  std::uint64_t removed = 0;
  for (const auto& entry : entries) {
    if (entry.is_dir || ModifiedTime(entry.st) >= cutoff) {
      continue;
    }
    if (::unlink((tmp_dir_ / entry.name).c_str()) != 0) {
      if (errno == ENOENT) {
        continue;
      }
      return MakeError(
          ErrnoError(errno, fmt::format("remove temporary file {}/{}", kTmpDirName, entry.name)));
    }
    ++removed;
  }
  return removed;
}

DiskStatus LocalObjectStore::ProbeDisk() const {
  DiskStatus status;
  struct statvfs vfs {};
  if (::statvfs(options_.root.c_str(), &vfs) != 0) {
    status.problem = ErrnoText(errno);
    return status;
  }
  status.free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  status.total_bytes = static_cast<std::uint64_t>(vfs.f_blocks) * vfs.f_frsize;
  if ((vfs.f_flag & ST_RDONLY) != 0) {
    status.problem = ErrnoText(EROFS);
    return status;
  }
  if (::access(options_.root.c_str(), W_OK | X_OK) != 0) {
    status.problem = ErrnoText(errno);
    return status;
  }
  status.writable = true;
  return status;
}

}  // namespace sg::plugins::storage
