#include "plugins/storage/open_file_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "core/testing/fake_clock.h"

namespace sg::plugins::storage {
namespace {

using namespace std::chrono_literals;

CachedFile DevNull() {
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0);
  CachedFile file{std::make_shared<const SharedFile>(fd), {}};
  ::fstat(fd, &file.st);
  return file;
}

bool IsOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

TEST(OpenFileCacheTest, AFoundEntryIsTheSameOpenFileUntilItIsOlderThanValid) {
  sg::testing::FakeClock clock;
  OpenFileCache cache({.max_files = 8, .valid = 10s}, clock);
  CachedFile file = DevNull();
  cache.Insert("media/a/x", file, cache.generation());

  auto found = cache.Find("media/a/x");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->file->fd(), file.file->fd());
  clock.Advance(9s);
  EXPECT_TRUE(cache.Find("media/a/x"));
  clock.Advance(1s);
  EXPECT_FALSE(cache.Find("media/a/x"));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(OpenFileCacheTest, TheDescriptorClosesWithItsLastHolderNotWithTheCache) {
  sg::testing::FakeClock clock;
  OpenFileCache cache({.max_files = 8, .valid = 10s}, clock);
  int fd = -1;
  std::optional<CachedFile> reader;
  {
    CachedFile file = DevNull();
    fd = file.file->fd();
    cache.Insert("k", std::move(file), cache.generation());
    reader = cache.Find("k");
  }
  cache.Erase("k");
  EXPECT_TRUE(IsOpen(fd)) << "a reader still holds it";
  reader.reset();
  EXPECT_FALSE(IsOpen(fd));
}

TEST(OpenFileCacheTest, AnInsertAfterAnInvalidationSinceTheLookupIsRefused) {
  sg::testing::FakeClock clock;
  OpenFileCache cache({.max_files = 8, .valid = 10s}, clock);
  std::uint64_t before_open = cache.generation();
  cache.Erase("k");  // the object was replaced while the reader was opening the old file
  cache.Insert("k", DevNull(), before_open);
  EXPECT_FALSE(cache.Find("k"));

  cache.Insert("k", DevNull(), cache.generation());
  EXPECT_TRUE(cache.Find("k"));
}

TEST(OpenFileCacheTest, ErasePrefixDropsOnlyThatFolder) {
  sg::testing::FakeClock clock;
  OpenFileCache cache({.max_files = 64, .valid = 10s}, clock);
  for (std::string key : {"media/a/1", "media/a/2", "media/ab/1", "media/b/1"}) {
    cache.Insert(key, DevNull(), cache.generation());
  }
  cache.ErasePrefix("media/a/");
  EXPECT_FALSE(cache.Find("media/a/1"));
  EXPECT_FALSE(cache.Find("media/a/2"));
  EXPECT_TRUE(cache.Find("media/ab/1"));
  EXPECT_TRUE(cache.Find("media/b/1"));
}

TEST(OpenFileCacheTest, StaysWithinMaxFilesEvictingTheLeastRecentlyUsed) {
  sg::testing::FakeClock clock;
  OpenFileCache cache({.max_files = 16, .valid = 10s}, clock);
  for (int i = 0; i < 200; ++i) {
    cache.Insert("key" + std::to_string(i), DevNull(), cache.generation());
  }
  EXPECT_LE(cache.size(), 16u);
  EXPECT_TRUE(cache.Find("key199")) << "the newest entry is kept";
}

TEST(OpenFileCacheTest, ZeroMaxFilesTurnsItOff) {
  sg::testing::FakeClock clock;
  OpenFileCache cache({.max_files = 0, .valid = 10s}, clock);
  cache.Insert("k", DevNull(), cache.generation());
  EXPECT_FALSE(cache.Find("k"));
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace sg::plugins::storage
