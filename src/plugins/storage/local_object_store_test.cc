#include "plugins/storage/local_object_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "core/testing/fake_clock.h"
#include "plugins/storage/storage_test_util.h"

namespace sg::plugins::storage {
namespace {

namespace fs = std::filesystem;
using testing::FirstMismatch;
using testing::GeneratingSource;
using testing::PatternByte;
using testing::ReadAll;
using testing::StringSource;
using testing::TempDir;
using testing::TreeOf;

constexpr std::size_t kIoBuffer = 64 * 1024;

class LocalObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_.path().empty());
    root_ = temp_.path() / "root";
    store_ = OpenStore(false);
  }

  std::shared_ptr<LocalObjectStore> OpenStore(bool fsync) {
    auto store =
        LocalObjectStore::Open({.root = root_, .fsync = fsync, .io_buffer = kIoBuffer}, clock_);
    EXPECT_TRUE(store) << store.error().ToString();
    return store ? *store : nullptr;
  }

  void PutString(std::string_view key, std::string data) {
    StringSource source(std::move(data));
    auto put = store_->Put(key, source);
    ASSERT_TRUE(put) << put.error().ToString();
  }

  std::string GetString(std::string_view key, ByteRange range = {}) {
    auto reader = store_->Get(key, range);
    EXPECT_TRUE(reader) << reader.error().ToString();
    if (!reader) {
      return "<error>";
    }
    auto data = ReadAll(**reader);
    EXPECT_TRUE(data);
    return data ? *data : "<error>";
  }

  std::vector<std::string> Keys(const ObjectListPage& page) {
    std::vector<std::string> keys;
    for (const auto& object : page.objects) {
      keys.push_back(object.key);
    }
    return keys;
  }

  bool TmpIsEmpty() { return fs::is_empty(root_ / ".tmp"); }

  TempDir temp_;
  fs::path root_;
  sg::testing::FakeClock clock_;
  std::shared_ptr<LocalObjectStore> store_;
};

// --- Put / Get ---------------------------------------------------------------------------

TEST_F(LocalObjectStoreTest, PutAndGetStreamSixtyFourMebibytesInBoundedPieces) {
  constexpr std::uint64_t kSize = 64ULL * 1024 * 1024;
  GeneratingSource source(kSize);

  auto put = store_->Put("videos/big/source.bin", source);

  ASSERT_TRUE(put) << put.error().ToString();
  EXPECT_EQ(put->size, kSize);
  EXPECT_EQ(put->key, "videos/big/source.bin");
  EXPECT_LE(source.largest_request(), kIoBuffer);
  EXPECT_GE(source.reads(), kSize / kIoBuffer);  // read in many pieces, never whole
  auto reader = store_->Get("videos/big/source.bin");
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->length(), kSize);
  EXPECT_EQ((*reader)->info().size, kSize);
  EXPECT_EQ((*reader)->info().etag, put->etag);
  EXPECT_EQ(FirstMismatch(**reader, 0, kSize), -1);
  EXPECT_TRUE(TmpIsEmpty());
}

TEST_F(LocalObjectStoreTest, PutWithFsyncOnWritesTheObject) {
  store_ = OpenStore(true);
  GeneratingSource source(300'000);

  auto put = store_->Put("a/b/c", source);

  ASSERT_TRUE(put) << put.error().ToString();
  auto reader = store_->Get("a/b/c");
  ASSERT_TRUE(reader);
  EXPECT_EQ(FirstMismatch(**reader, 0, 300'000), -1);
}

TEST_F(LocalObjectStoreTest, EmptyObjectRoundTrips) {
  PutString("empty", "");

  EXPECT_EQ(GetString("empty"), "");
  auto stat = store_->Stat("empty");
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->size, 0u);
  // An empty range at the end is fine.
  EXPECT_EQ(GetString("empty", {.offset = 0, .length = 10}), "");
}

TEST_F(LocalObjectStoreTest, RangesAreClampedToTheObject) {
  PutString("r", "0123456789");

  EXPECT_EQ(GetString("r", {.offset = 0, .length = 1}), "0");
  EXPECT_EQ(GetString("r", {.offset = 9, .length = 1}), "9");
  EXPECT_EQ(GetString("r", {.offset = 3, .length = 4}), "3456");
  EXPECT_EQ(GetString("r", {.offset = 7, .length = 100}), "789");
  EXPECT_EQ(GetString("r", {.offset = 4}), "456789");
  EXPECT_EQ(GetString("r", {.offset = 10}), "");
  auto reader = store_->Get("r", {.offset = 7, .length = 100});
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->length(), 3u);
  EXPECT_EQ((*reader)->info().size, 10u);
}

TEST_F(LocalObjectStoreTest, RangeStartingBeyondTheEndIsInvalid) {
  PutString("r", "0123456789");

  auto reader = store_->Get("r", {.offset = 11});

  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(reader.error().message.find("beyond"), std::string::npos);
}

TEST_F(LocalObjectStoreTest, FileSpanPointsAtTheRangeInAnOpenFile) {
  PutString("span", "abcdefghij");

  auto reader = store_->Get("span", {.offset = 2, .length = 5});

  ASSERT_TRUE(reader);
  auto span = (*reader)->file_span();
  ASSERT_TRUE(span.has_value());
  EXPECT_GE(span->fd, 0);
  EXPECT_EQ(span->offset, 2u);
  EXPECT_EQ(span->length, 5u);
  char bytes[5] = {};
  ASSERT_EQ(::pread(span->fd, bytes, 5, 2), 5);
  EXPECT_EQ(std::string(bytes, 5), "cdefg");
}

TEST_F(LocalObjectStoreTest, ReaderKeepsTheOldContentWhileTheObjectIsReplaced) {
  PutString("k", "old-content");
  auto reader = store_->Get("k");
  ASSERT_TRUE(reader);

  PutString("k", "new");

  auto old_data = ReadAll(**reader);
  ASSERT_TRUE(old_data);
  EXPECT_EQ(*old_data, "old-content");
  EXPECT_EQ(GetString("k"), "new");
}

TEST_F(LocalObjectStoreTest, FailingSourceLeavesTheOldObjectAndNoTemporaryFile) {
  PutString("doc", "the old object");
  auto before = store_->Stat("doc");
  ASSERT_TRUE(before);
  GeneratingSource source(10 * kIoBuffer);
  source.FailAfter(3 * kIoBuffer);

  auto put = store_->Put("doc", source);

  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, ErrorCode::kUnavailable);  // the source's own error
  EXPECT_NE(put.error().message.find("doc"), std::string::npos);
  EXPECT_EQ(GetString("doc"), "the old object");
  auto after = store_->Stat("doc");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->etag, before->etag);
  EXPECT_TRUE(TmpIsEmpty());
}

TEST_F(LocalObjectStoreTest, FailingSourceForANewKeyLeavesNothing) {
  GeneratingSource source(10 * kIoBuffer);
  source.FailAfter(kIoBuffer);

  ASSERT_FALSE(store_->Put("fresh/key", source));

  EXPECT_EQ(store_->Stat("fresh/key").error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(TmpIsEmpty());
}

TEST_F(LocalObjectStoreTest, EtagChangesWithContentAndIsStableOtherwise) {
  PutString("e", "one");
  auto first = store_->Stat("e");
  auto again = store_->Stat("e");
  PutString("e", "two");
  auto second = store_->Stat("e");

  ASSERT_TRUE(first && again && second);
  EXPECT_EQ(first->etag, again->etag);
  EXPECT_NE(first->etag, second->etag);
  EXPECT_FALSE(first->etag.empty());
}

TEST_F(LocalObjectStoreTest, MissingObjectsAreNotFound) {
  PutString("dir/file", "x");

  for (std::string_view key : {"nope", "dir/nope", "dir", "dir/file/below"}) {
    auto stat = store_->Stat(key);
    ASSERT_FALSE(stat) << key;
    EXPECT_EQ(stat.error().code, ErrorCode::kNotFound) << key;
    auto get = store_->Get(key);
    ASSERT_FALSE(get) << key;
    EXPECT_EQ(get.error().code, ErrorCode::kNotFound) << key;
  }
}

TEST_F(LocalObjectStoreTest, KeysThatCollideWithFoldersConflict) {
  PutString("a/b", "x");

  StringSource over_folder("y");
  auto put_folder = store_->Put("a", over_folder);
  StringSource below_file("z");
  auto put_below = store_->Put("a/b/c", below_file);

  ASSERT_FALSE(put_folder);
  EXPECT_EQ(put_folder.error().code, ErrorCode::kAlreadyExists);
  ASSERT_FALSE(put_below);
  EXPECT_EQ(put_below.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(GetString("a/b"), "x");
  EXPECT_TRUE(TmpIsEmpty());
}

// --- List ----------------------------------------------------------------------------------

TEST_F(LocalObjectStoreTest, ListReturnsKeysInByteOrderUnderThePrefix) {
  for (std::string_view key : {"v/a/2", "v/a/1", "v/a-b", "v/a.c", "v/b", "w/x", "v0", "top"}) {
    PutString(key, "x");
  }

  auto all = store_->List("", "", 100);
  auto under_v = store_->List("v/", "", 100);
  auto partial = store_->List("v/a", "", 100);
  auto v_anything = store_->List("v", "", 100);

  ASSERT_TRUE(all && under_v && partial && v_anything);
  // '-' < '.' < '/' in bytes, so "v/a-b" and "v/a.c" come before everything in "v/a/".
  EXPECT_EQ(Keys(*all), (std::vector<std::string>{"top", "v/a-b", "v/a.c", "v/a/1", "v/a/2", "v/b",
                                                  "v0", "w/x"}));
  EXPECT_EQ(Keys(*under_v), (std::vector<std::string>{"v/a-b", "v/a.c", "v/a/1", "v/a/2", "v/b"}));
  EXPECT_EQ(Keys(*partial), (std::vector<std::string>{"v/a-b", "v/a.c", "v/a/1", "v/a/2"}));
  EXPECT_EQ(Keys(*v_anything),
            (std::vector<std::string>{"v/a-b", "v/a.c", "v/a/1", "v/a/2", "v/b", "v0"}));
  EXPECT_TRUE(all->next_start_after.empty());
  EXPECT_EQ(all->objects[0].size, 1u);
}

TEST_F(LocalObjectStoreTest, ListPagesWithStartAfter) {
  std::vector<std::string> expected;
  for (int i = 0; i < 7; ++i) {
    std::string key = fmt::format("p/{}/obj", i);
    PutString(key, "x");
    expected.push_back(key);
  }

  std::vector<std::string> seen;
  std::string start_after;
  int pages = 0;
  while (true) {
    auto page = store_->List("p/", start_after, 3);
    ASSERT_TRUE(page) << page.error().ToString();
    ++pages;
    ASSERT_LE(page->objects.size(), 3u);
    for (const auto& object : page->objects) {
      seen.push_back(object.key);
    }
    if (page->next_start_after.empty()) {
      break;
    }
    start_after = page->next_start_after;
    ASSERT_LT(pages, 10);
  }

  EXPECT_EQ(seen, expected);
  EXPECT_EQ(pages, 3);
}

TEST_F(LocalObjectStoreTest, ListOfAnExactPageSizeSaysThereIsNoMore) {
  PutString("q/1", "x");
  PutString("q/2", "x");

  auto page = store_->List("q/", "", 2);

  ASSERT_TRUE(page);
  EXPECT_EQ(page->objects.size(), 2u);
  EXPECT_TRUE(page->next_start_after.empty());
}

TEST_F(LocalObjectStoreTest, ListSkipsTemporaryAndMultipartFiles) {
  PutString("real", "x");
  ASSERT_TRUE(store_->CreateMultipart("pending", {.part_size = 4, .total_size = 8}));
  std::ofstream(root_ / ".tmp" / "leftover") << "junk";

  auto page = store_->List("", "", 100);

  ASSERT_TRUE(page);
  EXPECT_EQ(Keys(*page), std::vector<std::string>{"real"});
}

TEST_F(LocalObjectStoreTest, ListOfAMissingFolderIsEmpty) {
  auto page = store_->List("nothing/here/", "", 10);

  ASSERT_TRUE(page);
  EXPECT_TRUE(page->objects.empty());
}

TEST_F(LocalObjectStoreTest, ListRejectsBadPrefixesAndAZeroLimit) {
  for (std::string_view prefix : {"../", "/abs", "a//", "a/./", ".tmp/", "%2e", "a b"}) {
    auto page = store_->List(prefix, "", 10);
    ASSERT_FALSE(page) << prefix;
    EXPECT_EQ(page.error().code, ErrorCode::kInvalidArgument) << prefix;
  }
  auto zero = store_->List("", "", 0);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code, ErrorCode::kInvalidArgument);
}

// --- Delete ----------------------------------------------------------------------------

TEST_F(LocalObjectStoreTest, DeleteIsIdempotentAndPrunesEmptyFolders) {
  PutString("x/y/z/obj", "1");
  PutString("x/keep", "2");

  ASSERT_TRUE(store_->Delete("x/y/z/obj"));
  ASSERT_TRUE(store_->Delete("x/y/z/obj"));
  ASSERT_TRUE(store_->Delete("never/existed"));

  EXPECT_EQ(store_->Stat("x/y/z/obj").error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(fs::exists(root_ / "x" / "y"));
  EXPECT_TRUE(fs::exists(root_ / "x"));  // still holds x/keep
  ASSERT_TRUE(store_->Delete("x/keep"));
  EXPECT_FALSE(fs::exists(root_ / "x"));
  EXPECT_TRUE(fs::exists(root_));
}

TEST_F(LocalObjectStoreTest, DeleteOfAFolderNameDeletesNothing) {
  PutString("f/obj", "1");

  ASSERT_TRUE(store_->Delete("f"));

  EXPECT_EQ(GetString("f/obj"), "1");
}

TEST_F(LocalObjectStoreTest, DeletePrefixRemovesTheSubtreeAndCountsObjects) {
  PutString("c/1/a", "1");
  PutString("c/1/b/c", "2");
  PutString("c/1/b/d", "3");
  PutString("c/10", "4");
  PutString("c/2/a", "5");

  auto removed = store_->DeletePrefix("c/1/");

  ASSERT_TRUE(removed) << removed.error().ToString();
  EXPECT_EQ(*removed, 3u);
  auto page = store_->List("", "", 100);
  ASSERT_TRUE(page);
  EXPECT_EQ(Keys(*page), (std::vector<std::string>{"c/10", "c/2/a"}));
  EXPECT_FALSE(fs::exists(root_ / "c" / "1"));
  auto again = store_->DeletePrefix("c/1/");
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0u);
}

TEST_F(LocalObjectStoreTest, DeletePrefixOfAMissingFolderIsZeroWithFsyncOn) {
  store_ = OpenStore(true);

  auto removed = store_->DeletePrefix("no/such/folder/");

  ASSERT_TRUE(removed) << removed.error().ToString();
  EXPECT_EQ(*removed, 0u);
}

TEST_F(LocalObjectStoreTest, DeletePrefixPrunesEmptyParents) {
  PutString("d/e/f/1", "1");

  auto removed = store_->DeletePrefix("d/e/");

  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, 1u);
  EXPECT_FALSE(fs::exists(root_ / "d"));
}

TEST_F(LocalObjectStoreTest, DeletePrefixMustEndInASlash) {
  PutString("g/1", "1");

  for (std::string_view prefix : {"g", "", "/", "../", "g//"}) {
    auto removed = store_->DeletePrefix(prefix);
    ASSERT_FALSE(removed) << prefix;
    EXPECT_EQ(removed.error().code, ErrorCode::kInvalidArgument) << prefix;
  }
  EXPECT_EQ(GetString("g/1"), "1");
}

// --- Key validation on every method ------------------------------------------------------

TEST_F(LocalObjectStoreTest, EveryMethodRejectsBadKeysAndCreatesNothingOutsideTheRoot) {
  auto tree_before = TreeOf(temp_.path());
  const std::string kUploadId(32, 'a');
  std::vector<std::string> bad_keys = {"../x",      "/abs",     "a//b",
                                       "a/./b",     "%2e%2e/x", std::string("a\0b", 3),
                                       "a/",        "",         std::string(513, 'k'),
                                       "../../etc", ".tmp/x",   ".multipart/y"};
  for (const auto& key : bad_keys) {
    SCOPED_TRACE(::testing::PrintToString(key));
    auto expect_invalid = [](const auto& result) {
      ASSERT_FALSE(result);
      EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument) << result.error().ToString();
    };
    StringSource source("payload");
    expect_invalid(store_->Put(key, source));
    expect_invalid(store_->Stat(key));
    expect_invalid(store_->Get(key));
    expect_invalid(store_->Delete(key));
    expect_invalid(store_->DeletePrefix(key + "/"));
    expect_invalid(store_->CreateMultipart(key, {.part_size = 4, .total_size = 4}));
    StringSource part("abcd");
    expect_invalid(store_->UploadPart(key, kUploadId, 1, part, 4));
    PartInfo info{1, 4, "1-4"};
    expect_invalid(store_->CompleteMultipart(key, kUploadId, std::span(&info, 1)));
    expect_invalid(store_->AbortMultipart(key, kUploadId));
    expect_invalid(store_->ReadPart(key, kUploadId, 1, 4));
    EXPECT_FALSE(store_->LocalPath(key).has_value());
  }
  EXPECT_EQ(TreeOf(temp_.path()), tree_before);
}

TEST_F(LocalObjectStoreTest, UploadIdsAreValidatedBeforeTouchingPaths) {
  for (std::string_view id :
       {"../../../../tmp", "", "ABCDEF0123456789ABCDEF0123456789",
        "0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdeg"}) {
    SCOPED_TRACE(id);
    StringSource part("abcd");
    auto upload = store_->UploadPart("k", id, 1, part, 4);
    ASSERT_FALSE(upload);
    EXPECT_EQ(upload.error().code, ErrorCode::kInvalidArgument);
    auto abort = store_->AbortMultipart("k", id);
    ASSERT_FALSE(abort);
    EXPECT_EQ(abort.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_TRUE(fs::exists(root_ / ".multipart"));
}

TEST_F(LocalObjectStoreTest, LocalPathIsBelowTheRoot) {
  auto path = store_->LocalPath("videos/a/source.mp4");

  ASSERT_TRUE(path.has_value());
  EXPECT_EQ(*path, root_ / "videos" / "a" / "source.mp4");
}

// --- Multipart -------------------------------------------------------------------------

class MultipartTest : public LocalObjectStoreTest {
 protected:
  static constexpr std::uint64_t kPartSize = 100'000;
  static constexpr std::uint64_t kTotal = 4 * kPartSize + 12'345;  // 5 parts, last short

  void SetUp() override {
    LocalObjectStoreTest::SetUp();
    auto id =
        store_->CreateMultipart("up/video.mp4", {.part_size = kPartSize, .total_size = kTotal});
    ASSERT_TRUE(id) << id.error().ToString();
    upload_id_ = *id;
  }

  static std::uint64_t SizeOf(std::uint32_t n) {
    return n < 5 ? kPartSize : kTotal - 4 * kPartSize;
  }

  // Part n's bytes are the pattern at its offset in the whole object.
  class PartPattern final : public ByteSource {
   public:
    PartPattern(std::uint32_t n, std::uint64_t size) : offset_((n - 1) * kPartSize), size_(size) {}
    Result<std::size_t> Read(std::span<char> buffer) override {
      auto count = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), size_ - read_));
      for (std::size_t i = 0; i < count; ++i) {
        buffer[i] = PatternByte(offset_ + read_ + i);
      }
      read_ += count;
      return count;
    }

   private:
    std::uint64_t offset_;
    std::uint64_t size_;
    std::uint64_t read_ = 0;
  };

  Result<PartInfo> Upload(std::uint32_t n) {
    PartPattern source(n, SizeOf(n));
    return store_->UploadPart("up/video.mp4", upload_id_, n, source, SizeOf(n));
  }

  std::vector<PartInfo> AllParts() {
    std::vector<PartInfo> parts;
    for (std::uint32_t n = 1; n <= 5; ++n) {
      parts.push_back({n, SizeOf(n), fmt::format("{}-{}", n, SizeOf(n))});
    }
    return parts;
  }

  std::string upload_id_;
};

TEST_F(MultipartTest, PartsInReverseOrderCompleteToTheConcatenation) {
  for (std::uint32_t n = 5; n >= 1; --n) {
    auto part = Upload(n);
    ASSERT_TRUE(part) << part.error().ToString();
    EXPECT_EQ(part->part_number, n);
    EXPECT_EQ(part->size, SizeOf(n));
  }
  auto parts = AllParts();

  auto done = store_->CompleteMultipart("up/video.mp4", upload_id_, parts);

  ASSERT_TRUE(done) << done.error().ToString();
  EXPECT_EQ(done->size, kTotal);
  EXPECT_EQ(done->key, "up/video.mp4");
  auto reader = store_->Get("up/video.mp4");
  ASSERT_TRUE(reader);
  EXPECT_EQ(FirstMismatch(**reader, 0, kTotal), -1);
  EXPECT_FALSE(fs::exists(root_ / ".multipart" / upload_id_));
}

TEST_F(MultipartTest, PartsUploadedFromParallelThreadsCompleteWithFsyncOn) {
  store_ = OpenStore(true);
  std::vector<std::thread> threads;
  // Not vector<bool>: its elements share words, so writes from threads would race.
  std::vector<char> ok(6, 0);
  for (std::uint32_t n = 1; n <= 5; ++n) {
    threads.emplace_back([this, n, &ok] { ok[n] = Upload(n).has_value(); });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  for (std::uint32_t n = 1; n <= 5; ++n) {
    EXPECT_TRUE(ok[n]) << "part " << n;
  }
  auto parts = AllParts();

  auto done = store_->CompleteMultipart("up/video.mp4", upload_id_, parts);

  ASSERT_TRUE(done) << done.error().ToString();
  auto reader = store_->Get("up/video.mp4");
  ASSERT_TRUE(reader);
  EXPECT_EQ(FirstMismatch(**reader, 0, kTotal), -1);
}

TEST_F(MultipartTest, PartsAreWrittenInPieces) {
  GeneratingSource source(kPartSize);

  ASSERT_TRUE(store_->UploadPart("up/video.mp4", upload_id_, 1, source, kPartSize));

  EXPECT_LE(source.largest_request(), kIoBuffer);
  EXPECT_GE(source.reads(), 2u);
}

TEST_F(MultipartTest, WrongPartSizeIsRejected) {
  StringSource source("tiny");

  auto part = store_->UploadPart("up/video.mp4", upload_id_, 2, source, 4);

  ASSERT_FALSE(part);
  EXPECT_EQ(part.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(part.error().message.find("part 2"), std::string::npos);
}

TEST_F(MultipartTest, PartNumbersOutsideThePlanAreRejected) {
  for (std::uint32_t n : {0u, 6u, 10'001u}) {
    StringSource source("x");
    auto part = store_->UploadPart("up/video.mp4", upload_id_, n, source, kPartSize);
    ASSERT_FALSE(part) << n;
    EXPECT_EQ(part.error().code, ErrorCode::kInvalidArgument) << n;
  }
}

TEST_F(MultipartTest, ShortSourceFailsAndLeavesThePartAbsent) {
  GeneratingSource short_source(100);

  auto part = store_->UploadPart("up/video.mp4", upload_id_, 3, short_source, kPartSize);

  ASSERT_FALSE(part);
  EXPECT_EQ(part.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(part.error().message, "part 3: expected 100000 bytes, got 100");
  auto read = store_->ReadPart("up/video.mp4", upload_id_, 3, kPartSize);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ErrorCode::kNotFound);
}

TEST_F(MultipartTest, LongSourceFails) {
  GeneratingSource long_source(kPartSize + 1);

  auto part = store_->UploadPart("up/video.mp4", upload_id_, 1, long_source, kPartSize);

  ASSERT_FALSE(part);
  EXPECT_EQ(part.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(part.error().message.find("got more"), std::string::npos);
}

TEST_F(MultipartTest, FailedReuploadMakesAStoredPartAbsent) {
  ASSERT_TRUE(Upload(2));
  GeneratingSource broken(kPartSize);
  broken.FailAfter(kPartSize / 2);

  ASSERT_FALSE(store_->UploadPart("up/video.mp4", upload_id_, 2, broken, kPartSize));

  for (std::uint32_t n : {1u, 3u, 4u, 5u}) {
    ASSERT_TRUE(Upload(n));
  }
  auto parts = AllParts();
  auto done = store_->CompleteMultipart("up/video.mp4", upload_id_, parts);
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(done.error().message.find("part 2"), std::string::npos);
}

TEST_F(MultipartTest, CompleteWithAMissingPartNamesIt) {
  for (std::uint32_t n : {1u, 2u, 4u, 5u}) {
    ASSERT_TRUE(Upload(n));
  }
  auto parts = AllParts();
  auto listed_without_three = parts;
  listed_without_three.erase(listed_without_three.begin() + 2);

  auto not_stored = store_->CompleteMultipart("up/video.mp4", upload_id_, parts);
  auto not_listed = store_->CompleteMultipart("up/video.mp4", upload_id_, listed_without_three);

  ASSERT_FALSE(not_stored);
  EXPECT_EQ(not_stored.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(not_stored.error().message.find("part 3"), std::string::npos);
  ASSERT_FALSE(not_listed);
  EXPECT_EQ(not_listed.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(not_listed.error().message.find("holds part 4"), std::string::npos);
  EXPECT_EQ(store_->Stat("up/video.mp4").error().code, ErrorCode::kNotFound);
}

TEST_F(MultipartTest, CompleteChecksSizesAndCount) {
  for (std::uint32_t n = 1; n <= 5; ++n) {
    ASSERT_TRUE(Upload(n));
  }
  auto wrong_size = AllParts();
  wrong_size[4].size = kPartSize;
  auto too_many = AllParts();
  too_many.push_back({6, 1, "6-1"});
  auto too_few = AllParts();
  too_few.pop_back();

  for (const auto& parts : {wrong_size, too_many, too_few}) {
    auto done = store_->CompleteMultipart("up/video.mp4", upload_id_, parts);
    ASSERT_FALSE(done);
    EXPECT_EQ(done.error().code, ErrorCode::kInvalidArgument);
  }
  // Nothing was consumed: the right list still completes.
  auto parts = AllParts();
  EXPECT_TRUE(store_->CompleteMultipart("up/video.mp4", upload_id_, parts));
}

TEST_F(MultipartTest, CompleteTwiceReturnsTheObject) {
  for (std::uint32_t n = 1; n <= 5; ++n) {
    ASSERT_TRUE(Upload(n));
  }
  auto parts = AllParts();

  auto first = store_->CompleteMultipart("up/video.mp4", upload_id_, parts);
  auto second = store_->CompleteMultipart("up/video.mp4", upload_id_, parts);

  ASSERT_TRUE(first);
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_EQ(second->size, kTotal);
  EXPECT_EQ(second->etag, first->etag);
}

TEST_F(MultipartTest, CompleteOfAnUnknownUploadIsNotFound) {
  auto parts = AllParts();

  auto done = store_->CompleteMultipart("up/video.mp4", std::string(32, 'f'), parts);

  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, ErrorCode::kNotFound);
}

TEST_F(MultipartTest, AbortRemovesTheUploadAndIsIdempotent) {
  ASSERT_TRUE(Upload(1));

  ASSERT_TRUE(store_->AbortMultipart("up/video.mp4", upload_id_));
  ASSERT_TRUE(store_->AbortMultipart("up/video.mp4", upload_id_));
  ASSERT_TRUE(store_->AbortMultipart("up/video.mp4", std::string(32, '0')));

  EXPECT_FALSE(fs::exists(root_ / ".multipart" / upload_id_));
  auto part = Upload(2);
  ASSERT_FALSE(part);
  EXPECT_EQ(part.error().code, ErrorCode::kNotFound);
}

TEST_F(MultipartTest, UploadIdBelongsToItsKey) {
  StringSource source("x");

  auto part = store_->UploadPart("other/key", upload_id_, 1, source, kPartSize);
  auto abort = store_->AbortMultipart("other/key", upload_id_);

  ASSERT_FALSE(part);
  EXPECT_EQ(part.error().code, ErrorCode::kInvalidArgument);
  ASSERT_FALSE(abort);
  EXPECT_TRUE(fs::exists(root_ / ".multipart" / upload_id_));
}

TEST_F(MultipartTest, ReadPartReturnsTheStoredBytes) {
  ASSERT_TRUE(Upload(5));
  ASSERT_TRUE(Upload(2));

  auto last = store_->ReadPart("up/video.mp4", upload_id_, 5, SizeOf(5));
  auto second = store_->ReadPart("up/video.mp4", upload_id_, 2, kPartSize);
  auto wrong_size = store_->ReadPart("up/video.mp4", upload_id_, 2, 7);

  ASSERT_TRUE(last) << last.error().ToString();
  ASSERT_TRUE(second);
  EXPECT_EQ(FirstMismatch(**last, 4 * kPartSize, SizeOf(5)), -1);
  EXPECT_EQ(FirstMismatch(**second, kPartSize, kPartSize), -1);
  ASSERT_FALSE(wrong_size);
  EXPECT_EQ(wrong_size.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(MultipartTest, ReuploadReplacesAPart) {
  ASSERT_TRUE(Upload(1));
  std::string replacement(kPartSize, 'Z');
  StringSource source(replacement);

  ASSERT_TRUE(store_->UploadPart("up/video.mp4", upload_id_, 1, source, kPartSize));

  auto read = store_->ReadPart("up/video.mp4", upload_id_, 1, kPartSize);
  ASSERT_TRUE(read);
  auto data = ReadAll(**read);
  ASSERT_TRUE(data);
  EXPECT_EQ(*data, replacement);
}

TEST_F(LocalObjectStoreTest, CreateMultipartValidatesThePlan) {
  auto zero_part = store_->CreateMultipart("k", {.part_size = 0, .total_size = 10});
  auto too_many = store_->CreateMultipart("k", {.part_size = 1, .total_size = 10'001});
  auto max_parts = store_->CreateMultipart("k", {.part_size = 1, .total_size = 10'000});

  ASSERT_FALSE(zero_part);
  EXPECT_EQ(zero_part.error().code, ErrorCode::kInvalidArgument);
  ASSERT_FALSE(too_many);
  EXPECT_EQ(too_many.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(too_many.error().message.find("10001 parts"), std::string::npos);
  ASSERT_TRUE(max_parts);
  EXPECT_EQ(max_parts->size(), 32u);
}

TEST_F(LocalObjectStoreTest, CreateMultipartRejectsHugeSizesWithoutOverflow) {
  auto huge_part = store_->CreateMultipart("k", {.part_size = UINT64_MAX, .total_size = 10});
  auto huge_total =
      store_->CreateMultipart("k", {.part_size = 1ULL << 40, .total_size = UINT64_MAX});

  ASSERT_TRUE(huge_part);  // one part of 10 bytes
  ASSERT_FALSE(huge_total);
  EXPECT_EQ(huge_total.error().code, ErrorCode::kInvalidArgument);
  StringSource ten("0123456789");
  EXPECT_TRUE(store_->UploadPart("k", *huge_part, 1, ten, 10));
}

TEST_F(LocalObjectStoreTest, EmptyMultipartUploadHasNoParts) {
  auto id = store_->CreateMultipart("empty", {.part_size = 10, .total_size = 0});
  ASSERT_TRUE(id);

  auto done = store_->CompleteMultipart("empty", *id, {});

  ASSERT_TRUE(done) << done.error().ToString();
  EXPECT_EQ(done->size, 0u);
  EXPECT_EQ(GetString("empty"), "");
}

TEST_F(LocalObjectStoreTest, CompleteReplacesAnExistingObject) {
  PutString("replace/me", "old");
  auto id = store_->CreateMultipart("replace/me", {.part_size = 3, .total_size = 5});
  ASSERT_TRUE(id);
  StringSource one("abc");
  StringSource two("de");
  ASSERT_TRUE(store_->UploadPart("replace/me", *id, 1, one, 3));
  ASSERT_TRUE(store_->UploadPart("replace/me", *id, 2, two, 2));
  std::vector<PartInfo> parts{{1, 3, "1-3"}, {2, 2, "2-2"}};

  ASSERT_TRUE(store_->CompleteMultipart("replace/me", *id, parts));

  EXPECT_EQ(GetString("replace/me"), "abcde");
}

// --- Stale temporary files and health ---------------------------------------------------

TEST_F(LocalObjectStoreTest, RemoveStaleTemporaryFilesKeepsRecentOnes) {
  auto touch = [&](const std::string& name, std::chrono::seconds age) {
    fs::path path = root_ / ".tmp" / name;
    std::ofstream(path) << "partial";
    auto when = clock_.WallNow() - age;
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch());
    struct timespec times[2];
    times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(ns.count() / 1'000'000'000);
    times[0].tv_nsec = times[1].tv_nsec = static_cast<long>(ns.count() % 1'000'000'000);
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  };
  touch("old1", std::chrono::hours(2));
  touch("old2", std::chrono::hours(30));
  touch("recent", std::chrono::minutes(10));
  PutString("object", "kept");

  auto removed = store_->RemoveStaleTemporaryFiles(std::chrono::hours(1));

  ASSERT_TRUE(removed) << removed.error().ToString();
  EXPECT_EQ(*removed, 2u);
  EXPECT_EQ(TreeOf(root_ / ".tmp"), std::vector<std::string>{"recent"});
  EXPECT_EQ(GetString("object"), "kept");
}

TEST(DiskHealthTest, OkWithPlentyOfSpace) {
  auto health = EvaluateDiskHealth(
      {.writable = true, .free_bytes = 50ULL << 30, .total_bytes = 100ULL << 30});

  EXPECT_EQ(health.status, HealthStatus::kOk);
  EXPECT_NE(health.detail.find("50.0 GiB free"), std::string::npos) << health.detail;
}

TEST(DiskHealthTest, DegradedBelowFivePercent) {
  auto health =
      EvaluateDiskHealth({.writable = true, .free_bytes = 4ULL << 30, .total_bytes = 100ULL << 30});

  EXPECT_EQ(health.status, HealthStatus::kDegraded);
  EXPECT_NE(health.detail.find("4.0 GiB free"), std::string::npos) << health.detail;
}

TEST(DiskHealthTest, DegradedBelowOneGibibyteEvenOnASmallDisk) {
  auto health =
      EvaluateDiskHealth({.writable = true, .free_bytes = 900ULL << 20, .total_bytes = 2ULL << 30});

  EXPECT_EQ(health.status, HealthStatus::kDegraded);
  EXPECT_NE(health.detail.find("900.0 MiB"), std::string::npos) << health.detail;
}

TEST(DiskHealthTest, DownWhenNotWritable) {
  auto health = EvaluateDiskHealth({.writable = false, .problem = "Read-only file system"});

  EXPECT_EQ(health.status, HealthStatus::kDown);
  EXPECT_NE(health.detail.find("Read-only"), std::string::npos);
}

TEST_F(LocalObjectStoreTest, ProbeDiskReportsTheRootsFilesystem) {
  auto status = store_->ProbeDisk();

  EXPECT_TRUE(status.writable) << status.problem;
  EXPECT_GT(status.total_bytes, 0u);
  EXPECT_LE(status.free_bytes, status.total_bytes);
}

TEST_F(LocalObjectStoreTest, ProbeDiskOfAVanishedRootIsNotWritable) {
  fs::remove_all(root_);

  auto status = store_->ProbeDisk();

  EXPECT_FALSE(status.writable);
  EXPECT_FALSE(status.problem.empty());
}

// The cache of open files (open_file_cache.h) must never make the store answer with bytes it
// no longer holds.
TEST_F(LocalObjectStoreTest, AReplacedObjectReadsNewBytesAtOnceDespiteTheOpenFileCache) {
  PutString("media/c/r/segment_0.m4s", "old bytes");
  auto held = store_->Get("media/c/r/segment_0.m4s");  // now cached, and held by a reader
  ASSERT_TRUE(held);
  PutString("media/c/r/segment_0.m4s", "new bytes!");
  EXPECT_EQ(GetString("media/c/r/segment_0.m4s"), "new bytes!");
  auto old = ReadAll(**held);
  ASSERT_TRUE(old);
  EXPECT_EQ(*old, "old bytes") << "a reader that started before keeps its consistent view";
}

TEST_F(LocalObjectStoreTest, DeletedObjectsAreGoneAtOnceDespiteTheOpenFileCache) {
  PutString("media/c/r/segment_0.m4s", "bytes");
  PutString("media/c/r/segment_1.m4s", "bytes");
  PutString("media/d/r/segment_0.m4s", "bytes");
  for (auto key :
       {"media/c/r/segment_0.m4s", "media/c/r/segment_1.m4s", "media/d/r/segment_0.m4s"}) {
    ASSERT_EQ(GetString(key), "bytes");
  }
  ASSERT_TRUE(store_->Delete("media/d/r/segment_0.m4s"));
  EXPECT_EQ(store_->Get("media/d/r/segment_0.m4s").error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(store_->DeletePrefix("media/c/"));
  EXPECT_EQ(store_->Get("media/c/r/segment_0.m4s").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->Get("media/c/r/segment_1.m4s").error().code, ErrorCode::kNotFound);
}

TEST_F(LocalObjectStoreTest, ChangesMadeOutsideTheStoreShowAfterTheValidity) {
  auto store =
      LocalObjectStore::Open({.root = root_,
                              .fsync = false,
                              .io_buffer = kIoBuffer,
                              .open_files = {.max_files = 8, .valid = std::chrono::seconds(10)}},
                             clock_);
  ASSERT_TRUE(store);
  StringSource source("bytes");
  ASSERT_TRUE((*store)->Put("media/c/x", source));
  ASSERT_TRUE((*store)->Get("media/c/x"));
  fs::remove(root_ / "media/c/x");  // an operator's rm
  EXPECT_TRUE((*store)->Get("media/c/x")) << "still trusted within `valid`";
  clock_.Advance(std::chrono::seconds(10));
  auto gone = (*store)->Get("media/c/x");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace sg::plugins::storage
