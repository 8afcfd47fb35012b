#include "plugins/auth/policy_access.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>

#include "core/testing/fake_clock.h"
#include "core/testing/temp_dir.h"
#include "plugins/auth/fake_chain_reader.h"

namespace sg::plugins::auth {
namespace {

using namespace std::chrono_literals;
using testing::FakeChainReader;

constexpr std::string_view kHolder = "0x1111111111111111111111111111111111111111";
constexpr std::string_view kStranger = "0x2222222222222222222222222222222222222222";
constexpr std::string_view kNft = "0x00000000000000000000000000000000000000aa";

std::string Wallet(std::string_view address) { return "eip155:1:" + std::string(address); }

class PolicyAccessDeciderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    chains_ = std::make_shared<FakeChainReader>();
    chains_->SetBalance("eip155:1", TokenStandard::kErc721, std::string(kNft), std::string(kHolder),
                        Uint256::FromU64(1));
    PlaybackKey::Bytes bytes{};
    bytes.fill(7);
    tokens_ = std::make_shared<const PlaybackTokens>(PlaybackKeys{PlaybackKey(bytes), std::nullopt},
                                                     10min);
    decider_ = std::make_unique<PolicyAccessDecider>(
        chains_, std::make_shared<OwnershipCache>(clock_), tokens_, clock_);
    gated_.id = "abcdefghij0123456789";
    gated_.owner = Wallet("0x3333333333333333333333333333333333333333");
    gated_.access_policy = fmt::format(
        R"({{"any":[{{"chain":"eip155:1","standard":"erc721","contract":"{}"}}]}})", kNft);
  }

  sg::testing::FakeClock clock_;
  std::shared_ptr<FakeChainReader> chains_;
  std::shared_ptr<const PlaybackTokens> tokens_;
  std::unique_ptr<PolicyAccessDecider> decider_;
  ContentRecord gated_;
};

TEST_F(PolicyAccessDeciderTest, AHolderWatchesAndAStrangerIsToldWhatWouldSatisfyThePolicy) {
  EXPECT_TRUE(decider_->MayPlay(gated_, {.id = Wallet(kHolder), .roles = {"viewer"}}));
  auto denied = decider_->MayPlay(gated_, {.id = Wallet(kStranger), .roles = {"viewer"}});
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code, ErrorCode::kPermissionDenied);
  auto details = boost::json::parse(denied.error().details);
  const auto& unmet = details.at("unmet_conditions").at(0);
  EXPECT_EQ(unmet.at("chain").as_string(), "eip155:1");
  EXPECT_EQ(unmet.at("contract").as_string(), kNft);
  EXPECT_EQ(unmet.at("min_balance").as_string(), "1");
}

TEST_F(PolicyAccessDeciderTest, AnonymousViewersAreAskedToSignInAndNonWalletsRefused) {
  EXPECT_EQ(decider_->MayPlay(gated_, {}).error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(decider_->MayPlay(gated_, {.id = "someone", .roles = {"viewer"}}).error().code,
            ErrorCode::kPermissionDenied);
}

TEST_F(PolicyAccessDeciderTest, OwnersAndAdminsWatchWithoutTheChain) {
  chains_->SetDown("eip155:1", true);
  EXPECT_TRUE(decider_->MayPlay(gated_, {.id = gated_.owner, .roles = {"viewer"}}));
  EXPECT_TRUE(decider_->MayPlay(gated_, {.id = "admin", .roles = {"admin"}}));
  EXPECT_EQ(chains_->calls(), 0);
}

TEST_F(PolicyAccessDeciderTest, AChainThatCannotBeAskedIs503NeverAccess) {
  chains_->SetDown("eip155:1", true);
  auto result = decider_->MayPlay(gated_, {.id = Wallet(kHolder), .roles = {"viewer"}});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUnavailable);
  PolicyAccessDecider no_chains(nullptr, std::make_shared<OwnershipCache>(clock_), tokens_, clock_);
  EXPECT_EQ(no_chains.MayPlay(gated_, {.id = Wallet(kHolder)}).error().code,
            ErrorCode::kUnavailable);
}

TEST_F(PolicyAccessDeciderTest, PrivateContentIsHiddenAndBothPrivateAndGatedNeedTokens) {
  ContentRecord open;
  open.id = "publiccontent0000001";
  EXPECT_FALSE(decider_->RequiresPlaybackToken(open));
  open.access_policy = R"({"public":true})";
  EXPECT_FALSE(decider_->RequiresPlaybackToken(open));
  EXPECT_TRUE(decider_->RequiresPlaybackToken(gated_));
  ContentRecord hidden = open;
  hidden.visibility = "private";
  hidden.owner = Wallet(kHolder);
  EXPECT_TRUE(decider_->RequiresPlaybackToken(hidden));
  EXPECT_EQ(decider_->MayPlay(hidden, {.id = Wallet(kStranger)}).error().code,
            ErrorCode::kNotFound);
  EXPECT_TRUE(decider_->MayPlay(hidden, {.id = Wallet(kHolder)}));
}

TEST_F(PolicyAccessDeciderTest, APlaybackTokenNamesItsViewerForItsContentOnly) {
  auto token = decider_->MintPlaybackToken(gated_, {.id = Wallet(kHolder)});
  ASSERT_TRUE(token) << token.error().ToString();
  auto viewer = decider_->VerifyPlaybackToken(*token, gated_.id);
  ASSERT_TRUE(viewer) << viewer.error().ToString();
  EXPECT_EQ(*viewer, Wallet(kHolder));
  EXPECT_EQ(decider_->VerifyPlaybackToken(*token, "othercontent00000001").error().code,
            ErrorCode::kPermissionDenied);
  clock_.Advance(11min);
  EXPECT_EQ(decider_->VerifyPlaybackToken(*token, gated_.id).error().code,
            ErrorCode::kUnauthenticated);
}

class BearerAuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    logger_ =
        std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
    auto ring = SigningKeyRing::Open({.directory = dir_.path() / "keys"}, clock_, *logger_);
    ASSERT_TRUE(ring) << ring.error().ToString();
    codec_ = std::make_shared<JwtCodec>(*ring, JwtCodecOptions{.issuer = "sg", .audience = "sg"},
                                        clock_);
    auto roles = std::make_shared<RoleRules>();
    roles->admins = {LowerAscii(kHolder)};
    authenticator_ = std::make_unique<BearerAuthenticator>(
        std::make_shared<ApiKeyAuthenticator>("0123456789abcdef0123456789abcdef"), codec_, roles);
  }

  Result<Principal> With(std::string header) {
    HttpRequest request;
    request.headers.emplace_back("Authorization", std::move(header));
    return authenticator_->Authenticate(request);
  }

  std::string Token(std::string_view address, std::vector<std::string> roles) {
    auto issued = codec_->Issue({.subject = Wallet(address),
                                 .type = std::string(kAccessTokenType),
                                 .lists = {{"roles", std::move(roles)}}});
    EXPECT_TRUE(issued);
    return issued ? issued->token : "";
  }

  sg::testing::TempDir dir_;
  sg::testing::FakeClock clock_;
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<JwtCodec> codec_;
  std::unique_ptr<BearerAuthenticator> authenticator_;
};

TEST_F(BearerAuthenticatorTest, AWalletTokenGivesItsSubjectAndAdminComesFromTheConfigOnly) {
  auto stranger = With("Bearer " + Token(kStranger, {"viewer", "admin"}));
  ASSERT_TRUE(stranger) << stranger.error().ToString();
  EXPECT_EQ(stranger->id, Wallet(kStranger));
  EXPECT_FALSE(stranger->HasRole("admin")) << "a role in a token is not trusted for admin";
  auto admin = With("Bearer " + Token(kHolder, {"viewer"}));
  ASSERT_TRUE(admin);
  EXPECT_TRUE(admin->HasRole("admin"));
}

TEST_F(BearerAuthenticatorTest, ARememberedTokenStillExpiresOnTime) {
  std::string token = Token(kStranger, {"viewer"});
  ASSERT_TRUE(With("Bearer " + token));
  ASSERT_TRUE(With("Bearer " + token)) << "the second use comes from memory";
  std::string tampered = token;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(With("Bearer " + tampered)) << "only the exact verified string is remembered";
  clock_.Advance(15min + 61s);  // lifetime and the 60 s leeway
  EXPECT_EQ(With("Bearer " + token).error().code, ErrorCode::kUnauthenticated);
}

TEST_F(BearerAuthenticatorTest, TheApiKeyStillWorksAndAnythingElseIs401) {
  auto key = With("Bearer 0123456789abcdef0123456789abcdef");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->id, "admin");
  EXPECT_EQ(With("Bearer a.b.c").error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(With("Bearer wrong-key-0000000000").error().code, ErrorCode::kUnauthenticated);
  std::string token = Token(kStranger, {"viewer"});
  clock_.Advance(16min);
  EXPECT_EQ(With("Bearer " + token).error().code, ErrorCode::kUnauthenticated) << "expired";
}

}  // namespace
}  // namespace sg::plugins::auth
