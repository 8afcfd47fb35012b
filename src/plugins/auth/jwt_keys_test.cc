#include "plugins/auth/jwt_keys.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "core/testing/fake_clock.h"
#include "core/testing/temp_dir.h"

namespace sg::plugins::auth {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

// RFC 7517 Appendix A.2: the example P-256 private key, as PKCS#8 and as SEC1.
constexpr std::string_view kRfcKeyPkcs8 = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg870MB6gfuTJ4HtUn
UvYMyJpr5eUZNP4Bk43bVdj3eAGhRANCAAQwoEJM0hwpRIOKLXXJKzfnbqINnwCJ
OjtO7oo8Cq/sPuBLZekkVtmIi1Kzeb371R7oae8fD8ZbZllpW2zOCBcj
-----END PRIVATE KEY-----
)";
constexpr std::string_view kRfcKeySec1 = R"(-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIPO9DAeoH7kyeB7VJ1L2DMiaa+XlGTT+AZON21XY93gBoAoGCCqGSM49
AwEHoUQDQgAEMKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D7gS2XpJFbZ
iItSs3m9+9Ue6GnvHw/GW2ZZaVtszggXIw==
-----END EC PRIVATE KEY-----
)";
constexpr std::string_view kRfcX = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4";
constexpr std::string_view kRfcY = "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM";
// SHA-256 over {"crv":"P-256","kty":"EC","x":"<kRfcX>","y":"<kRfcY>"}, computed with
// Python's hashlib independently of this code.
constexpr std::string_view kRfcThumbprint = "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s";

constexpr std::string_view kP384Key = R"(-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDDUa1ecWN5/q805gEKV
o8bsO4TesWzKXgeWqLsDcaZlBtJaV9bSur2MLmhgVu1vBoChZANiAAR522Q4/1o1
t3dtsRDdxpaJWviZoXglDbUmvu/STlEIqcIM8XHnxE9qKsE/onE7QVI4bq4/4L6L
wlDMZo7GPb0wJaOOdNR5xLG36bDrWXIW9D+3ESVpTvUN9mYBCA/oscA=
-----END PRIVATE KEY-----
)";
constexpr std::string_view kEd25519Key = R"(-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIEVTnbUadwb5CCp5NWX4cqQdWEFslOOdNBBpUVbYGGNs
-----END PRIVATE KEY-----
)";

std::vector<std::string> KeyFiles(const fs::path& directory) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

unsigned Mode(const fs::path& path) {
  struct stat info {};
  EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
  return info.st_mode & 07777;
}

class SigningKeyRingTest : public ::testing::Test {
 protected:
  SigningKeyRingTest()
      : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(log_)), logger_("test", sink_) {}

  ~SigningKeyRingTest() override {
    // Whatever a test did, no private key material reached the log.
    EXPECT_THAT(log_.str(), Not(HasSubstr("PRIVATE KEY")));
  }

  SigningKeyRingOptions Options() const {
    return {.directory = keys_dir_,
            .rotation_period = 30 * 24h,
            .max_token_lifetime = 1h,
            .retire_grace = 5min};
  }

  Result<std::shared_ptr<SigningKeyRing>> Open() {
    return SigningKeyRing::Open(Options(), clock_, logger_);
  }

  testing::TempDir dir_{"sg-jwt-keys"};
  fs::path keys_dir_ = dir_.path() / "auth" / "keys";
  testing::FakeClock clock_;
  std::ostringstream log_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  spdlog::logger logger_;
};

TEST(SigningKeyTest, ThumbprintMatchesRfc7638ForTheRfc7517ExampleKey) {
  EXPECT_EQ(EcJwkThumbprint(kRfcX, kRfcY), kRfcThumbprint);
}

TEST(SigningKeyTest, ParsesPkcs8AndSec1IntoTheSameKeyWithItsThumbprintAsKid) {
  auto pkcs8 = SigningKey::FromPrivatePem(kRfcKeyPkcs8, WallTime{});
  auto sec1 = SigningKey::FromPrivatePem(kRfcKeySec1, WallTime{});
  ASSERT_TRUE(pkcs8) << pkcs8.error().ToString();
  ASSERT_TRUE(sec1) << sec1.error().ToString();
  EXPECT_EQ((*pkcs8)->x(), kRfcX);
  EXPECT_EQ((*pkcs8)->y(), kRfcY);
  EXPECT_EQ((*pkcs8)->kid(), kRfcThumbprint);
  EXPECT_EQ((*sec1)->kid(), kRfcThumbprint);
  EXPECT_THAT((*pkcs8)->public_pem(), HasSubstr("BEGIN PUBLIC KEY"));
  EXPECT_THAT((*sec1)->private_pem(), HasSubstr("BEGIN PRIVATE KEY"));  // normalized
}

TEST(SigningKeyTest, RefusesOtherCurvesOtherKeyTypesAndGarbageWithoutEchoingThem) {
  auto p384 = SigningKey::FromPrivatePem(kP384Key, WallTime{});
  ASSERT_FALSE(p384);
  EXPECT_EQ(p384.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(p384.error().message, HasSubstr("not P-256"));

  auto ed25519 = SigningKey::FromPrivatePem(kEd25519Key, WallTime{});
  ASSERT_FALSE(ed25519);
  EXPECT_THAT(ed25519.error().message, HasSubstr("not an EC key"));

  auto garbage = SigningKey::FromPrivatePem("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n", {});
  ASSERT_FALSE(garbage);
  EXPECT_THAT(garbage.error().message, Not(HasSubstr("c2VjcmV0")));
}

TEST(SigningKeyTest, GeneratedKeysAreDistinctAndNamedByTheirThumbprint) {
  auto a = SigningKey::Generate(WallTime{});
  auto b = SigningKey::Generate(WallTime{});
  ASSERT_TRUE(a && b);
  EXPECT_NE((*a)->kid(), (*b)->kid());
  EXPECT_EQ((*a)->kid(), EcJwkThumbprint((*a)->x(), (*a)->y()));
  EXPECT_EQ((*a)->kid().size(), 43u);
  EXPECT_EQ((*a)->x().size(), 43u);
}

TEST_F(SigningKeyRingTest, FirstStartMakesAPrivateFolderAndOnePrivateKeyFile) {
  auto ring = Open();
  ASSERT_TRUE(ring) << ring.error().ToString();

  EXPECT_EQ(Mode(keys_dir_), 0700u);
  auto files = KeyFiles(keys_dir_);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_THAT(files[0], ::testing::MatchesRegex("es256-[0-9]+\\.pem"));
  EXPECT_EQ(Mode(keys_dir_ / files[0]), 0600u);
  EXPECT_EQ((*ring)->VerifyingKeys().size(), 1u);
  EXPECT_THAT(log_.str(), HasSubstr("made a new ES256 signing key"));
}

TEST_F(SigningKeyRingTest, ASecondStartLoadsTheSameKey) {
  auto first = Open();
  ASSERT_TRUE(first);
  const std::string kid = (*first)->KeyForSigning()->kid();
  const WallTime created = (*first)->KeyForSigning()->created_at();
  first->reset();

  auto second = Open();
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_EQ((*second)->KeyForSigning()->kid(), kid);
  EXPECT_EQ((*second)->KeyForSigning()->created_at(), created);
  EXPECT_EQ(KeyFiles(keys_dir_).size(), 1u);
}

TEST_F(SigningKeyRingTest, AKeyFileReadableByOthersIsRefusedWithTheChmodToRun) {
  ASSERT_TRUE(Open());
  const fs::path file = keys_dir_ / KeyFiles(keys_dir_)[0];
  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);

  auto ring = Open();
  ASSERT_FALSE(ring);
  EXPECT_EQ(ring.error().code, ErrorCode::kPermissionDenied);
  EXPECT_THAT(ring.error().message, HasSubstr("chmod 600 " + file.string()));
  EXPECT_THAT(ring.error().message, HasSubstr("0644"));
}

TEST_F(SigningKeyRingTest, AFolderOpenToOthersIsRefused) {
  ASSERT_TRUE(Open());
  ASSERT_EQ(::chmod(keys_dir_.c_str(), 0755), 0);

  auto ring = Open();
  ASSERT_FALSE(ring);
  EXPECT_EQ(ring.error().code, ErrorCode::kPermissionDenied);
  EXPECT_THAT(ring.error().message, HasSubstr("chmod 700 " + keys_dir_.string()));
}

TEST_F(SigningKeyRingTest, ACorruptKeyFileIsRefusedNamingTheFile) {
  fs::create_directories(keys_dir_);
  ASSERT_EQ(::chmod(keys_dir_.c_str(), 0700), 0);
  const fs::path file = keys_dir_ / "es256-1767225600000.pem";
  std::ofstream(file) << "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n";
  ASSERT_EQ(::chmod(file.c_str(), 0600), 0);

  auto ring = Open();
  ASSERT_FALSE(ring);
  EXPECT_EQ(ring.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(ring.error().message, HasSubstr(file.string()));
}

TEST_F(SigningKeyRingTest, ASymlinkedKeyFileIsRefused) {
  fs::create_directories(keys_dir_);
  ASSERT_EQ(::chmod(keys_dir_.c_str(), 0700), 0);
  const fs::path target = dir_.path() / "elsewhere.pem";
  std::ofstream(target) << kRfcKeyPkcs8;
  ASSERT_EQ(::chmod(target.c_str(), 0600), 0);
  fs::create_symlink(target, keys_dir_ / "es256-1767225600000.pem");

  auto ring = Open();
  ASSERT_FALSE(ring);
  EXPECT_THAT(ring.error().message, HasSubstr("symbolic link"));
}

TEST_F(SigningKeyRingTest, LoadsAnExistingKeyFileIgnoresForeignFilesAndRemovesStaleTempFiles) {
  fs::create_directories(keys_dir_);
  ASSERT_EQ(::chmod(keys_dir_.c_str(), 0700), 0);
  // Made one day before the fake clock's now: still current.
  const fs::path file = keys_dir_ / "es256-1767139200000.pem";
  std::ofstream(file) << kRfcKeyPkcs8;
  ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
  std::ofstream(keys_dir_ / "README") << "keys";
  std::ofstream(keys_dir_ / "es256-1767139200001.pem.tmp-abcd") << "half";

  auto ring = Open();
  ASSERT_TRUE(ring) << ring.error().ToString();
  EXPECT_EQ((*ring)->KeyForSigning()->kid(), kRfcThumbprint);
  EXPECT_EQ(KeyFiles(keys_dir_), (std::vector<std::string>{"README", "es256-1767139200000.pem"}));
}

TEST_F(SigningKeyRingTest, TheNewestKeySignsAfterRotationAndTheOldOneVerifiesUntilRetired) {
  auto opened = Open();
  ASSERT_TRUE(opened);
  SigningKeyRing& ring = **opened;
  const auto first = ring.KeyForSigning();

  clock_.Advance(30 * 24h - 1s);
  EXPECT_EQ(ring.KeyForSigning()->kid(), first->kid()) << "not due yet";

  clock_.Advance(1s);
  const auto second = ring.KeyForSigning();
  EXPECT_NE(second->kid(), first->kid());
  EXPECT_EQ(KeyFiles(keys_dir_).size(), 2u);
  EXPECT_EQ(ring.Find(first->kid()), first) << "tokens it signed still verify";
  EXPECT_EQ(ring.VerifyingKeys().front(), second) << "newest first";

  // It stops verifying max_token_lifetime + retire_grace after its successor was made.
  clock_.Advance(1h + 5min - 1s);
  EXPECT_EQ(ring.Find(first->kid()), first);
  ASSERT_TRUE(ring.Maintain());
  EXPECT_EQ(KeyFiles(keys_dir_).size(), 2u);

  clock_.Advance(1s);
  EXPECT_EQ(ring.Find(first->kid()), nullptr) << "retired even before Maintain";
  EXPECT_EQ(ring.VerifyingKeys().size(), 1u);
  ASSERT_TRUE(ring.Maintain());
  EXPECT_EQ(KeyFiles(keys_dir_).size(), 1u);
  EXPECT_EQ(ring.Find(second->kid()), second);
}

TEST_F(SigningKeyRingTest, AfterALongStopTheOverdueKeyIsReplacedAndItsRetirementCountsFromThen) {
  ASSERT_TRUE(Open());
  clock_.Advance(90 * 24h);

  auto ring = Open();
  ASSERT_TRUE(ring);
  EXPECT_EQ(KeyFiles(keys_dir_).size(), 2u) << "the old key may have signed just before the stop";
  EXPECT_EQ((*ring)->VerifyingKeys().size(), 2u);
  clock_.Advance(2h);
  ASSERT_TRUE((*ring)->Maintain());
  EXPECT_EQ(KeyFiles(keys_dir_).size(), 1u);
}

TEST_F(SigningKeyRingTest, JwksListsOnlyThePublicPartsOfVerifyingKeys) {
  auto opened = Open();
  ASSERT_TRUE(opened);
  SigningKeyRing& ring = **opened;
  clock_.Advance(31 * 24h);
  const auto newest = ring.KeyForSigning();

  const boost::json::value jwks = boost::json::parse(ring.Jwks());
  const auto& keys = jwks.at("keys").as_array();
  ASSERT_EQ(keys.size(), 2u);
  const auto& jwk = keys[0].as_object();
  EXPECT_EQ(jwk.at("kid").as_string(), newest->kid());
  EXPECT_EQ(jwk.at("kty").as_string(), "EC");
  EXPECT_EQ(jwk.at("crv").as_string(), "P-256");
  EXPECT_EQ(jwk.at("x").as_string(), newest->x());
  EXPECT_EQ(jwk.at("y").as_string(), newest->y());
  EXPECT_EQ(jwk.at("use").as_string(), "sig");
  EXPECT_EQ(jwk.at("alg").as_string(), "ES256");
  EXPECT_EQ(jwk.size(), 7u);
  EXPECT_FALSE(jwk.contains("d"));
}

TEST_F(SigningKeyRingTest, AFailedRotationKeepsSigningWithTheCurrentKey) {
  auto opened = Open();
  ASSERT_TRUE(opened);
  SigningKeyRing& ring = **opened;
  const auto first = ring.KeyForSigning();
  // A file where the folder was: creating the new key fails (also for root, unlike a mode).
  const fs::path moved = dir_.path() / "moved";
  fs::rename(keys_dir_, moved);
  std::ofstream(keys_dir_) << "not a folder";

  clock_.Advance(31 * 24h);
  const auto signing = ring.KeyForSigning();
  fs::remove(keys_dir_);
  fs::rename(moved, keys_dir_);

  EXPECT_EQ(signing, first);
  EXPECT_THAT(log_.str(), HasSubstr("cannot make a new signing key"));
  EXPECT_EQ(ring.KeyForSigning(), first) << "the next attempt waits a minute";
  clock_.Advance(1min);
  EXPECT_NE(ring.KeyForSigning(), first);
}

}  // namespace
}  // namespace sg::plugins::auth
