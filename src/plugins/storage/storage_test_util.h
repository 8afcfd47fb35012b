#pragma once
/// Test helpers shared by the storage plugin's tests.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "core/api/byte_source.h"
#include "core/api/result.h"
#include "core/testing/string_source.h"

namespace sg::plugins::storage::testing {

/// A fresh folder under /tmp, removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/sg-storage-test-XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    path_ = made == nullptr ? std::filesystem::path() : std::filesystem::path(made);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// Byte i of every generated stream: position-dependent, so a misplaced piece shows.
inline char PatternByte(std::uint64_t i, std::uint64_t seed = 0) {
  std::uint64_t x = (i + seed) * 0x9E3779B97F4A7C15ULL;
  return static_cast<char>((x >> 56) ^ (i & 0xff));
}

/// Yields `size` pattern bytes without holding them, and records how it was read.
class GeneratingSource final : public ByteSource {
 public:
  explicit GeneratingSource(std::uint64_t size, std::uint64_t seed = 0)
      : size_(size), seed_(seed) {}

  /// After this many bytes, Read fails (to test what a broken stream leaves behind).
  GeneratingSource& FailAfter(std::uint64_t bytes) {
    fail_after_ = bytes;
    return *this;
  }

  Result<std::size_t> Read(std::span<char> buffer) override {
    ++reads_;
    largest_request_ = std::max<std::size_t>(largest_request_, buffer.size());
    if (position_ >= fail_after_) {
      return MakeError(ErrorCode::kUnavailable, "client went away after {} bytes", position_);
    }
    std::uint64_t end = std::min(size_, fail_after_);
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), end - position_));
    for (std::size_t i = 0; i < n; ++i) {
      buffer[i] = PatternByte(position_ + i, seed_);
    }
    position_ += n;
    return n;
  }

  std::size_t largest_request() const { return largest_request_; }
  std::uint64_t reads() const { return reads_; }
  std::uint64_t position() const { return position_; }

 private:
  std::uint64_t size_;
  std::uint64_t seed_;
  std::uint64_t fail_after_ = UINT64_MAX;
  std::uint64_t position_ = 0;
  std::size_t largest_request_ = 0;
  std::uint64_t reads_ = 0;
};

using sg::testing::StringSource;

/// Reads a source to its end (small objects only).
inline Result<std::string> ReadAll(ByteSource& source, std::size_t piece = 4096) {
  std::string out;
  std::vector<char> buffer(piece);
  while (true) {
    SG_ASSIGN_OR_RETURN(std::size_t n, source.Read(std::span<char>(buffer)));
    if (n == 0) {
      return out;
    }
    out.append(buffer.data(), n);
  }
}

/// The first differing position between `source` and the pattern [from, from + length),
/// or -1 when equal (compares in pieces; never holds the stream).
inline std::int64_t FirstMismatch(ByteSource& source, std::uint64_t from, std::uint64_t length,
                                  std::uint64_t seed = 0) {
  std::vector<char> buffer(64 * 1024);
  std::uint64_t position = 0;
  while (true) {
    auto n = source.Read(std::span<char>(buffer));
    if (!n) {
      return static_cast<std::int64_t>(position);
    }
    if (*n == 0) {
      return position == length ? -1 : static_cast<std::int64_t>(position);
    }
    for (std::size_t i = 0; i < *n; ++i) {
      if (position + i >= length || buffer[i] != PatternByte(from + position + i, seed)) {
        return static_cast<std::int64_t>(position + i);
      }
    }
    position += *n;
  }
}

/// Paths below `dir` (relative), sorted; to check nothing appeared where it must not.
inline std::vector<std::string> TreeOf(const std::filesystem::path& dir) {
  std::vector<std::string> paths;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    paths.push_back(std::filesystem::relative(it->path(), dir).string());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

}  // namespace sg::plugins::storage::testing
