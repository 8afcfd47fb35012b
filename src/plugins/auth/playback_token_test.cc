#include "plugins/auth/playback_token.h"

#include "plugins/auth/base64url.h"

#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <thread>

#include "core/testing/fake_clock.h"
#include "core/testing/temp_dir.h"

namespace sg::plugins::auth {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::AnyOf;
using ::testing::HasSubstr;

constexpr std::string_view kContent = "01hxyzcontent0000000000000a";
constexpr std::string_view kViewer = "eip155:1:0xabcdef0123456789abcdef0123456789abcdef01";

PlaybackKey KeyOf(std::uint8_t fill) {
  PlaybackKey::Bytes bytes{};
  bytes.fill(fill);
  return PlaybackKey(bytes);
}

PlaybackTokens Tokens(std::uint8_t fill = 7, std::optional<std::uint8_t> previous = {}) {
  PlaybackKeys keys{KeyOf(fill), std::nullopt};
  if (previous) {
    keys.previous = KeyOf(*previous);
  }
  return PlaybackTokens(std::move(keys));
}

class PlaybackTokenTest : public ::testing::Test {
 protected:
  std::string Mint(std::string_view content = kContent, std::string_view viewer = kViewer) {
    auto token = tokens_.Mint(content, viewer, clock_.WallNow());
    EXPECT_TRUE(token) << token.error().ToString();
    return token ? *token : std::string();
  }
  Result<PlaybackClaims> Verify(std::string_view token, std::string_view content = kContent) {
    return tokens_.Verify(token, content, clock_.WallNow());
  }

  sg::testing::FakeClock clock_;
  PlaybackTokens tokens_ = Tokens();
};

TEST_F(PlaybackTokenTest, MintedTokenVerifiesAndNamesTheViewer) {
  const std::string token = Mint();
  auto claims = Verify(token);
  ASSERT_TRUE(claims) << claims.error().ToString();
  EXPECT_EQ(claims->viewer, kViewer);
  EXPECT_EQ(claims->content_id, kContent);
  EXPECT_EQ(claims->expires_at,
            std::chrono::floor<seconds>(clock_.WallNow() + PlaybackTokens::kDefaultTtl));
}

TEST_F(PlaybackTokenTest, TokenIsOnePathSafeSegment) {
  const std::string token = Mint();
  EXPECT_EQ(
      token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos)
      << token;
  EXPECT_NE(token, ".");
  EXPECT_NE(token, "..");
}

TEST_F(PlaybackTokenTest, AnonymousViewerForPublicContent) {
  auto claims = Verify(Mint(kContent, "anonymous"));
  ASSERT_TRUE(claims) << claims.error().ToString();
  EXPECT_EQ(claims->viewer, "anonymous");
  auto empty = Verify(Mint(kContent, ""));
  ASSERT_TRUE(empty) << empty.error().ToString();
  EXPECT_EQ(empty->viewer, "");
}

TEST_F(PlaybackTokenTest, TokenForAnotherContentIsRefused) {
  auto claims = Verify(Mint("other-content"));
  ASSERT_FALSE(claims);
  EXPECT_EQ(claims.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(claims.error().message, "playback token is for another content");
  // A prefix of the content id is another content too.
  auto prefix = Verify(Mint(kContent.substr(0, 5)));
  ASSERT_FALSE(prefix);
  EXPECT_EQ(prefix.error().message, "playback token is for another content");
}

TEST_F(PlaybackTokenTest, TokenExpiresAfterItsTtl) {
  const std::string token = Mint();
  clock_.Advance(minutes(10) - seconds(1));
  EXPECT_TRUE(Verify(token));
  clock_.Advance(seconds(1));
  auto expired = Verify(token);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, ErrorCode::kUnauthenticated);
  EXPECT_THAT(expired.error().message, HasSubstr("playback token expired"));
}

TEST_F(PlaybackTokenTest, ConfiguredTtlIsUsed) {
  PlaybackTokens short_lived(PlaybackKeys{KeyOf(7), std::nullopt}, seconds(30));
  auto token = short_lived.Mint(kContent, kViewer, clock_.WallNow());
  ASSERT_TRUE(token);
  clock_.Advance(seconds(30));
  EXPECT_FALSE(short_lived.Verify(*token, kContent, clock_.WallNow()));
}

TEST_F(PlaybackTokenTest, EveryCharacterReplacedIsRefused) {
  const std::string token = Mint();
  for (std::size_t i = 0; i < token.size(); ++i) {
    for (char replacement : {'A', 'B', '_', '-', 'z', '0'}) {
      if (token[i] == replacement) {
        continue;
      }
      std::string tampered = token;
      tampered[i] = replacement;
      auto claims = Verify(tampered);
      ASSERT_FALSE(claims) << "position " << i << " -> " << replacement;
      EXPECT_EQ(claims.error().code, ErrorCode::kPermissionDenied) << i;
    }
  }
}

TEST_F(PlaybackTokenTest, EveryDecodedBitFlippedIsRefused) {
  const std::string raw = *Base64UrlDecode(Mint());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = raw;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      auto claims = Verify(Base64UrlEncode(flipped));
      ASSERT_FALSE(claims) << "byte " << i << " bit " << bit;
      EXPECT_EQ(claims.error().code, ErrorCode::kPermissionDenied);
      EXPECT_THAT(claims.error().message,
                  AnyOf("playback token is tampered", "playback token is malformed"));
    }
  }
}

TEST_F(PlaybackTokenTest, ForgedExpiryOrContentIsTampered) {
  std::string raw = *Base64UrlDecode(Mint());
  raw[1] = static_cast<char>(0x7f);  // expiry pushed far into the future
  auto claims = Verify(Base64UrlEncode(raw));
  ASSERT_FALSE(claims);
  EXPECT_EQ(claims.error().message, "playback token is tampered");
}

TEST_F(PlaybackTokenTest, TokenSignedWithAnotherKeyIsTampered) {
  auto token = Tokens(9).Mint(kContent, kViewer, clock_.WallNow());
  ASSERT_TRUE(token);
  auto claims = Verify(*token);
  ASSERT_FALSE(claims);
  EXPECT_EQ(claims.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(claims.error().message, "playback token is tampered");
}

TEST_F(PlaybackTokenTest, PreviousKeyStillVerifiesAfterRotation) {
  auto old_token = Tokens(1).Mint(kContent, kViewer, clock_.WallNow());
  ASSERT_TRUE(old_token);
  PlaybackTokens rotated = Tokens(2, 1);
  auto claims = rotated.Verify(*old_token, kContent, clock_.WallNow());
  ASSERT_TRUE(claims) << claims.error().ToString();
  EXPECT_EQ(claims->viewer, kViewer);
  // New tokens are signed with the new key only.
  auto fresh = rotated.Mint(kContent, kViewer, clock_.WallNow());
  ASSERT_TRUE(fresh);
  EXPECT_FALSE(Tokens(1).Verify(*fresh, kContent, clock_.WallNow()));
  EXPECT_TRUE(Tokens(2).Verify(*fresh, kContent, clock_.WallNow()));
}

TEST_F(PlaybackTokenTest, EveryTruncationIsRefused) {
  const std::string token = Mint();
  for (std::size_t length = 0; length < token.size(); ++length) {
    auto claims = Verify(token.substr(0, length));
    ASSERT_FALSE(claims) << length;
    EXPECT_EQ(claims.error().code, ErrorCode::kPermissionDenied);
  }
}

TEST_F(PlaybackTokenTest, AppendedBytesAreRefused) {
  const std::string token = Mint();
  for (std::string_view extra : {"A", "AA", "AAA", "AAAA", "=", "==", "/", ".", "%2F"}) {
    EXPECT_FALSE(Verify(token + std::string(extra))) << extra;
  }
  std::string raw = *Base64UrlDecode(token);
  EXPECT_FALSE(Verify(Base64UrlEncode(raw + std::string(1, '\0'))));
}

TEST_F(PlaybackTokenTest, OversizedTokenIsRefusedBeforeDecoding) {
  auto claims = Verify(std::string(kMaxPlaybackTokenChars + 1, 'A'));
  ASSERT_FALSE(claims);
  EXPECT_EQ(claims.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(claims.error().message, "playback token is malformed");
  EXPECT_FALSE(Verify(std::string(1 << 20, 'A')));
}

TEST_F(PlaybackTokenTest, LargestFieldsFitUnderTheLengthLimit) {
  const std::string content(kMaxPlaybackFieldBytes, 'c');
  const std::string viewer(kMaxPlaybackFieldBytes, 'v');
  const std::string token = Mint(content, viewer);
  EXPECT_LE(token.size(), kMaxPlaybackTokenChars);
  auto claims = Verify(token, content);
  ASSERT_TRUE(claims) << claims.error().ToString();
  EXPECT_EQ(claims->viewer, viewer);
}

TEST_F(PlaybackTokenTest, MintRefusesFieldsThatDoNotFit) {
  EXPECT_FALSE(tokens_.Mint("", kViewer, clock_.WallNow()));
  EXPECT_FALSE(tokens_.Mint(std::string(256, 'c'), kViewer, clock_.WallNow()));
  EXPECT_FALSE(tokens_.Mint(kContent, std::string(256, 'v'), clock_.WallNow()));
}

TEST_F(PlaybackTokenTest, GarbageIsMalformed) {
  for (std::string_view garbage : {"", "a", "not a token", "....", "AAAA====", "++//"}) {
    auto claims = Verify(garbage);
    ASSERT_FALSE(claims) << garbage;
    EXPECT_EQ(claims.error().message, "playback token is malformed") << garbage;
  }
}

TEST(PlaybackKeyFileTest, FirstStartCreatesAPrivateKeyThatLaterStartsReuse) {
  sg::testing::TempDir dir("sg-playback-key");
  auto first = LoadOrCreatePlaybackKeys(dir.path());
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_FALSE(first->previous);

  const auto path = PlaybackKeyPath(dir.path());
  EXPECT_EQ(path, dir.path() / "auth" / "playback.key");
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0600u);
  EXPECT_EQ(info.st_size, 32);
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator(path.parent_path())) {
    ++files;
  }
  EXPECT_EQ(files, 1u) << "no temporary file left behind";

  auto second = LoadOrCreatePlaybackKeys(dir.path());
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_EQ(second->current.bytes(), first->current.bytes());

  // A token minted by one process verifies in another that loaded the same file.
  sg::testing::FakeClock clock;
  auto token = PlaybackTokens(std::move(*first)).Mint(kContent, kViewer, clock.WallNow());
  ASSERT_TRUE(token);
  EXPECT_TRUE(PlaybackTokens(std::move(*second)).Verify(*token, kContent, clock.WallNow()));
}

TEST(PlaybackKeyFileTest, ConcurrentFirstStartsAgreeOnOneKey) {
  sg::testing::TempDir dir("sg-playback-key");
  std::vector<std::optional<PlaybackKey::Bytes>> keys(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    threads.emplace_back([&, i] {
      auto loaded = LoadOrCreatePlaybackKeys(dir.path());
      if (loaded) {
        keys[i] = loaded->current.bytes();
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  for (const auto& key : keys) {
    ASSERT_TRUE(key);
    EXPECT_EQ(*key, *keys[0]);
  }
}

TEST(PlaybackKeyFileTest, KeyReadableByOthersIsRefused) {
  sg::testing::TempDir dir("sg-playback-key");
  ASSERT_TRUE(LoadOrCreatePlaybackKeys(dir.path()));
  ASSERT_EQ(::chmod(PlaybackKeyPath(dir.path()).c_str(), 0644), 0);
  auto loaded = LoadOrCreatePlaybackKeys(dir.path());
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, ErrorCode::kPermissionDenied);
  EXPECT_THAT(loaded.error().message, HasSubstr("chmod 600"));
}

TEST(PlaybackKeyFileTest, KeyOfTheWrongSizeIsRefused) {
  sg::testing::TempDir dir("sg-playback-key");
  std::filesystem::create_directories(dir.path() / "auth");
  const auto path = PlaybackKeyPath(dir.path());
  {
    std::ofstream out(path, std::ios::binary);
    out << "short-secret";
  }
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  auto loaded = LoadOrCreatePlaybackKeys(dir.path());
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(loaded.error().message, HasSubstr("exactly 32 bytes"));
  EXPECT_THAT(loaded.error().message, ::testing::Not(HasSubstr("short-secret")));
}

TEST(PlaybackKeyFileTest, RotationKeepsThePreviousKeyForVerification) {
  sg::testing::TempDir dir("sg-playback-key");
  auto before = LoadOrCreatePlaybackKeys(dir.path());
  ASSERT_TRUE(before);
  sg::testing::FakeClock clock;
  auto old_token = PlaybackTokens(*before).Mint(kContent, kViewer, clock.WallNow());
  ASSERT_TRUE(old_token);

  ASSERT_TRUE(RotatePlaybackKey(dir.path()));
  auto after = LoadOrCreatePlaybackKeys(dir.path());
  ASSERT_TRUE(after) << after.error().ToString();
  ASSERT_TRUE(after->previous);
  EXPECT_EQ(after->previous->bytes(), before->current.bytes());
  EXPECT_NE(after->current.bytes(), before->current.bytes());
  struct stat info {};
  ASSERT_EQ(::stat(PreviousPlaybackKeyPath(dir.path()).c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0600u);

  EXPECT_TRUE(PlaybackTokens(*after).Verify(*old_token, kContent, clock.WallNow()));

  // A second rotation drops the oldest key.
  ASSERT_TRUE(RotatePlaybackKey(dir.path()));
  auto third = LoadOrCreatePlaybackKeys(dir.path());
  ASSERT_TRUE(third);
  EXPECT_FALSE(PlaybackTokens(*third).Verify(*old_token, kContent, clock.WallNow()));
}

}  // namespace
}  // namespace sg::plugins::auth
