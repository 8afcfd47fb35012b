#include "plugins/auth/secret_file.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/testing/temp_dir.h"

namespace sg::plugins::auth {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::string_view kWhat = "test secret file";
constexpr std::string_view kSecret = "s3cret-value-0123456789";
constexpr std::size_t kMax = 64;

class SecretFileTest : public ::testing::Test {
 protected:
  fs::path Path(std::string_view name) const { return dir_.path() / name; }

  // Writes `text` with exactly `mode`, whatever the umask.
  fs::path Put(std::string_view name, std::string_view text, mode_t mode) const {
    const fs::path path = Path(name);
    std::ofstream(path, std::ios::binary) << text;
    EXPECT_EQ(::chmod(path.c_str(), mode), 0) << path;
    return path;
  }

  static std::string Contents(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  static unsigned Mode(const fs::path& path) {
    struct stat info {};
    EXPECT_EQ(::lstat(path.c_str(), &info), 0) << path;
    return info.st_mode & 07777;
  }

  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_.path())) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  sg::testing::TempDir dir_{"sg-secret-file"};
};

TEST_F(SecretFileTest, AMissingFileIsNotAnError) {
  auto read = ReadSecretFile(Path("absent"), kWhat, kMax);

  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_FALSE(read->has_value());
}

TEST_F(SecretFileTest, AnOwnerOnlyFileIsReadWhole) {
  const fs::path path = Put("key", kSecret, 0600);

  auto read = ReadSecretFile(path, kWhat, kMax);

  ASSERT_TRUE(read) << read.error().ToString();
  ASSERT_TRUE(read->has_value());
  EXPECT_EQ(**read, kSecret);
}

TEST_F(SecretFileTest, AFileOfExactlyTheLimitIsRead) {
  const fs::path path = Put("key", std::string(kMax, 'k'), 0400);

  auto read = ReadSecretFile(path, kWhat, kMax);

  ASSERT_TRUE(read) << read.error().ToString();
  ASSERT_TRUE(read->has_value());
  EXPECT_EQ((*read)->size(), kMax);
}

TEST_F(SecretFileTest, ASymbolicLinkIsRefusedEvenToAPrivateFile) {
  const fs::path target = Put("target", kSecret, 0600);
  const fs::path link = Path("key");
  fs::create_symlink(target, link);

  auto read = ReadSecretFile(link, kWhat, kMax);

  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(read.error().message, HasSubstr("test secret file " + link.string()));
  EXPECT_THAT(read.error().message, HasSubstr("symbolic link"));
  EXPECT_THAT(read.error().message, Not(HasSubstr(std::string(kSecret))));
}

TEST_F(SecretFileTest, ADanglingSymbolicLinkIsRefusedNotTakenForMissing) {
  const fs::path link = Path("key");
  fs::create_symlink(Path("nowhere"), link);

  auto read = ReadSecretFile(link, kWhat, kMax);

  ASSERT_FALSE(read);
  EXPECT_THAT(read.error().message, HasSubstr("symbolic link"));
}

TEST_F(SecretFileTest, AGroupReadableFileIsRefusedWithTheChmodToRun) {
  const fs::path path = Put("key", kSecret, 0640);

  auto read = ReadSecretFile(path, kWhat, kMax, " (and more advice)");

  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ErrorCode::kPermissionDenied);
  EXPECT_THAT(read.error().message, HasSubstr("test secret file " + path.string()));
  EXPECT_THAT(read.error().message, HasSubstr("0640"));
  EXPECT_THAT(read.error().message, HasSubstr("run `chmod 600 " + path.string() + "`"));
  EXPECT_THAT(read.error().message, HasSubstr("start again (and more advice)"));
  EXPECT_THAT(read.error().message, Not(HasSubstr(std::string(kSecret))));
}

TEST_F(SecretFileTest, AnyOtherPermissionBitIsRefusedToo) {
  for (mode_t mode : {0601, 0602, 0610, 0620, 0604, 0700 | 0001}) {
    const fs::path path = Put("key", kSecret, mode);

    auto read = ReadSecretFile(path, kWhat, kMax);

    ASSERT_FALSE(read) << std::oct << mode;
    EXPECT_EQ(read.error().code, ErrorCode::kPermissionDenied) << std::oct << mode;
  }
}

TEST_F(SecretFileTest, AFolderIsNotARegularFile) {
  const fs::path path = Path("key");
  fs::create_directory(path);
  ASSERT_EQ(::chmod(path.c_str(), 0700), 0);

  auto read = ReadSecretFile(path, kWhat, kMax);

  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(read.error().message, HasSubstr("is not a regular file"));
}

TEST_F(SecretFileTest, AFifoIsRefusedWithoutWaitingForAWriter) {
  const fs::path path = Path("key");
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);

  // Would block forever in open(2) if the FIFO were opened without O_NONBLOCK.
  auto read = ReadSecretFile(path, kWhat, kMax);

  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(read.error().message, HasSubstr("is not a regular file"));
}

TEST_F(SecretFileTest, AFileLargerThanTheLimitIsRefused) {
  const fs::path path = Put("key", std::string(kMax + 1, 'k'), 0600);

  auto read = ReadSecretFile(path, kWhat, kMax);

  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(read.error().message, HasSubstr("larger than 64 bytes"));
  EXPECT_THAT(read.error().message, Not(HasSubstr("kkkk")));
}

TEST_F(SecretFileTest, ReplaceWritesAnOwnerOnlyFileAndLeavesNoTemporaryFile) {
  const fs::path path = Path("key");
  // An umask that narrows 0600 (to 0400) must not change the mode either.
  const mode_t old_umask = ::umask(0277);
  auto written = WriteSecretFile(path, kSecret, kWhat, Placement::kReplace);
  ::umask(old_umask);

  ASSERT_TRUE(written) << written.error().ToString();
  EXPECT_EQ(Contents(path), kSecret);
  EXPECT_EQ(Mode(path), 0600u);
  EXPECT_EQ(Names(), std::vector<std::string>{"key"});
}

TEST_F(SecretFileTest, ReplaceOverwritesAnExistingFile) {
  const fs::path path = Put("key", "old secret", 0644);

  auto written = WriteSecretFile(path, kSecret, kWhat, Placement::kReplace);

  ASSERT_TRUE(written) << written.error().ToString();
  EXPECT_EQ(Contents(path), kSecret);
  EXPECT_EQ(Mode(path), 0600u);
  EXPECT_EQ(Names(), std::vector<std::string>{"key"});
}

TEST_F(SecretFileTest, ReplaceReplacesASymbolicLinkInsteadOfWritingThroughIt) {
  const fs::path target = Put("target", "not yours", 0644);
  const fs::path link = Path("key");
  fs::create_symlink(target, link);

  auto written = WriteSecretFile(link, kSecret, kWhat, Placement::kReplace);

  ASSERT_TRUE(written) << written.error().ToString();
  EXPECT_FALSE(fs::is_symlink(link));
  EXPECT_EQ(Contents(link), kSecret);
  EXPECT_EQ(Contents(target), "not yours");
}

TEST_F(SecretFileTest, CreateOnlyCreatesAMissingFile) {
  const fs::path path = Path("key");

  auto written = WriteSecretFile(path, kSecret, kWhat, Placement::kCreateOnly);

  ASSERT_TRUE(written) << written.error().ToString();
  EXPECT_EQ(Contents(path), kSecret);
  EXPECT_EQ(Mode(path), 0600u);
  EXPECT_EQ(Names(), std::vector<std::string>{"key"});
}

TEST_F(SecretFileTest, CreateOnlyKeepsAnExistingFileAndSaysItExists) {
  const fs::path path = Put("key", "the winner's secret", 0600);

  auto written = WriteSecretFile(path, kSecret, kWhat, Placement::kCreateOnly);

  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().code, ErrorCode::kAlreadyExists);
  EXPECT_THAT(written.error().message, HasSubstr("test secret file " + path.string()));
  EXPECT_THAT(written.error().message, Not(HasSubstr(std::string(kSecret))));
  EXPECT_EQ(Contents(path), "the winner's secret");
  EXPECT_EQ(Names(), std::vector<std::string>{"key"}) << "no temporary file left behind";
}

TEST_F(SecretFileTest, TheParentFolderIsCreated) {
  const fs::path path = Path("a") / "b" / "key";

  auto written = WriteSecretFile(path, kSecret, kWhat, Placement::kReplace);

  ASSERT_TRUE(written) << written.error().ToString();
  EXPECT_EQ(Contents(path), kSecret);
}

TEST_F(SecretFileTest, AFailedWriteLeavesNothingBehindAndNamesTheFile) {
  // A file where the folder should be: the temporary file cannot be made (also for root).
  Put("folder", "a file", 0600);
  const fs::path path = Path("folder") / "key";

  auto written = WriteSecretFile(path, kSecret, kWhat, Placement::kReplace);

  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(written.error().message, Not(HasSubstr(std::string(kSecret))));
  EXPECT_EQ(Names(), std::vector<std::string>{"folder"});
}

TEST_F(SecretFileTest, ReplaceIntoAFolderFailsAndRemovesTheTemporaryFile) {
  // rename(2) cannot put a file in place of a non-empty folder.
  const fs::path path = Path("key");
  fs::create_directories(path / "inside");

  auto written = WriteSecretFile(path, kSecret, kWhat, Placement::kReplace);

  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(written.error().message, HasSubstr("cannot rename"));
  EXPECT_EQ(Names(), std::vector<std::string>{"key"});
}

TEST_F(SecretFileTest, ATemporaryFileIsOwnerOnlyAndBesideTheTarget) {
  const fs::path path = Path("key");

  auto temp = WriteSecretTempFile(path, kSecret, kWhat);

  ASSERT_TRUE(temp) << temp.error().ToString();
  EXPECT_EQ(temp->parent_path(), path.parent_path());
  EXPECT_THAT(temp->filename().string(),
              ::testing::StartsWith("key" + std::string(kSecretTempMarker)));
  EXPECT_EQ(Mode(*temp), 0600u);
  EXPECT_EQ(Contents(*temp), kSecret);
  EXPECT_FALSE(fs::exists(path));
}

TEST(UniqueFdTest, ClosesOnScopeExitAndNotAfterRelease) {
  int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(raw, 0);
  { UniqueFd fd(raw); }
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1) << "closed by the destructor";

  raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(raw, 0);
  {
    UniqueFd fd(raw);
    EXPECT_EQ(fd.Release(), raw);
    EXPECT_FALSE(fd.valid());
  }
  EXPECT_NE(::fcntl(raw, F_GETFD), -1) << "released, so still open";
  ::close(raw);
}

TEST(UniqueFdTest, MovingTransfersOwnership) {
  const int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(raw, 0);
  UniqueFd first(raw);
  UniqueFd second(std::move(first));
  EXPECT_FALSE(first.valid());  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(second.get(), raw);
  second = UniqueFd();
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1) << "closed when replaced";
}

}  // namespace
}  // namespace sg::plugins::auth
