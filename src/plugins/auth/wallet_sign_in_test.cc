#include "plugins/auth/wallet_sign_in.h"

#include <gtest/gtest.h>

#include "core/testing/fake_clock.h"
#include "core/testing/temp_dir.h"
#include "plugins/auth/fake_chain_reader.h"
#include "plugins/auth/session_store.h"
#include "support/eth/eth_test_util.h"
#include "support/eth/siwe_message.h"

namespace sg::plugins::auth {
namespace {

using namespace std::chrono_literals;
using testing::FakeChainReader;
namespace et = sg::eth::testing;

// The well-known first development key (hardhat/anvil): a real secp256k1 key pair.
constexpr std::string_view kKey =
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
constexpr std::string_view kOtherKey =
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

class WalletSignInTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = AuthSessionStore::Open({.path = dir_.path() / "auth.sqlite3"}, clock_);
    ASSERT_TRUE(opened) << opened.error().ToString();
    sessions_ = std::move(*opened);
    chains_ = std::make_shared<FakeChainReader>(std::set<std::string>{"eip155:1337"});
    sign_in_ = std::make_unique<WalletSignIn>(
        SignInRules{.domains = {"127.0.0.1:8080"}, .clock_skew = 60s}, chains_, *sessions_, clock_);
  }

  // A valid message for the dev key, with a fresh nonce.
  eth::SiweMessage Message() {
    eth::SiweMessage message;
    message.domain = "127.0.0.1:8080";
    message.address = et::AddressOfKey(et::KeyFromHex(kKey));
    message.statement = "Sign in to StreamGate";
    message.uri = "http://127.0.0.1:8080";
    message.chain_id = 1337;
    auto nonce = sessions_->IssueNonce();
    EXPECT_TRUE(nonce);
    message.nonce = nonce ? *nonce : "";
    message.issued_at = clock_.WallNow();
    return message;
  }

  Result<WalletIdentity> SignIn(const eth::SiweMessage& message, std::string_view key = kKey) {
    std::string text = message.Format();
    return sign_in_->Verify(text, et::PersonalSign(text, et::KeyFromHex(key)));
  }

  static ErrorCode CodeOf(const Result<WalletIdentity>& result) {
    EXPECT_FALSE(result);
    return result ? ErrorCode::kInternal : result.error().code;
  }

  sg::testing::TempDir dir_;
  sg::testing::FakeClock clock_;
  std::unique_ptr<AuthSessionStore> sessions_;
  std::shared_ptr<FakeChainReader> chains_;
  std::unique_ptr<WalletSignIn> sign_in_;
};

TEST_F(WalletSignInTest, AValidSignatureProvesTheWalletAsACaip10Subject) {
  auto identity = SignIn(Message());
  ASSERT_TRUE(identity) << identity.error().ToString();
  EXPECT_EQ(identity->Subject(), "eip155:1337:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
  EXPECT_FALSE(identity->contract_wallet);
  EXPECT_EQ(WalletAddressOf(identity->Subject()), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
  EXPECT_EQ(WalletAddressOf("admin"), "");
}

TEST_F(WalletSignInTest, ANonceWorksOnceAndAnUnknownOneNever) {
  auto message = Message();
  ASSERT_TRUE(SignIn(message));
  EXPECT_EQ(CodeOf(SignIn(message)), ErrorCode::kUnauthenticated) << "replayed";
  message.nonce = "neverissued1234567890";
  EXPECT_EQ(CodeOf(SignIn(message)), ErrorCode::kUnauthenticated);
}

TEST_F(WalletSignInTest, EachRuleRefusesWith401AndARefusalDoesNotBurnTheNonce) {
  auto good = Message();
  struct Case {
    const char* name;
    std::function<void(eth::SiweMessage&)> change;
  };
  std::vector<Case> cases{
      {"other domain", [](auto& m) { m.domain = "evil.example"; }},
      {"uri on another host", [](auto& m) { m.uri = "https://evil.example/login"; }},
      {"uri not http", [](auto& m) { m.uri = "ftp://127.0.0.1:8080"; }},
      {"unconfigured chain", [](auto& m) { m.chain_id = 1; }},
      {"expired", [this](auto& m) { m.expiration_time = clock_.WallNow() - 2min; }},
      {"not yet valid", [this](auto& m) { m.not_before = clock_.WallNow() + 2min; }},
      {"issued in the future", [this](auto& m) { m.issued_at = clock_.WallNow() + 10min; }},
  };
  for (const auto& c : cases) {
    auto message = good;
    c.change(message);
    auto result = SignIn(message);
    ASSERT_FALSE(result) << c.name;
    EXPECT_EQ(result.error().code, ErrorCode::kUnauthenticated) << c.name;
  }
  // Within the tolerated skew, and the nonce still unused after all those refusals.
  good.expiration_time = clock_.WallNow() - 30s;
  auto accepted = SignIn(good);
  EXPECT_TRUE(accepted) << accepted.error().ToString();
}

TEST_F(WalletSignInTest, MalformedInputIs400) {
  EXPECT_EQ(sign_in_->Verify("not a siwe message", "0x00").error().code,
            ErrorCode::kInvalidArgument);
  std::string text = Message().Format();
  EXPECT_EQ(sign_in_->Verify(text, "not hex").error().code, ErrorCode::kInvalidArgument);
}

TEST_F(WalletSignInTest, ASignatureByAnotherKeyIsRefused) {
  EXPECT_EQ(CodeOf(SignIn(Message(), kOtherKey)), ErrorCode::kUnauthenticated);
}

TEST_F(WalletSignInTest, AContractWalletSignsInThroughEip1271AndFailsClosedWhenItsChainIsDown) {
  // The message names a contract wallet; its owner (another key) signed.
  const std::string wallet = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
  auto message = Message();
  message.address = wallet;
  auto refused = SignIn(message, kOtherKey);
  EXPECT_EQ(CodeOf(refused), ErrorCode::kUnauthenticated) << "the wallet does not vouch yet";

  chains_->AcceptContractSignatures("eip155:1337", wallet);
  chains_->SetDown("eip155:1337", true);
  EXPECT_EQ(CodeOf(SignIn(message, kOtherKey)), ErrorCode::kUnavailable);
  chains_->SetDown("eip155:1337", false);
  auto identity = SignIn(message, kOtherKey);
  ASSERT_TRUE(identity) << identity.error().ToString();
  EXPECT_TRUE(identity->contract_wallet);
  EXPECT_EQ(identity->address, wallet);
}

TEST_F(WalletSignInTest, WithoutAnyChainEverySignInIsRefusedSayingWhy) {
  WalletSignIn no_chains(SignInRules{.domains = {"127.0.0.1:8080"}}, nullptr, *sessions_, clock_);
  std::string text = Message().Format();
  auto result = no_chains.Verify(text, et::PersonalSign(text, et::KeyFromHex(kKey)));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(result.error().message.find("eip155:1337"), std::string::npos);
}

TEST(DomainsFromPublicUrlTest, TheSitesAuthorityAndItsLoopbackTwin) {
  using Domains = std::vector<std::string>;
  EXPECT_EQ(DomainsFromPublicUrl("http://127.0.0.1:9000"),
            (Domains{"127.0.0.1:9000", "localhost:9000"}));
  EXPECT_EQ(DomainsFromPublicUrl("http://localhost:8080/"),
            (Domains{"localhost:8080", "127.0.0.1:8080"}));
  EXPECT_EQ(DomainsFromPublicUrl("https://video.example.com"), (Domains{"video.example.com"}));
  EXPECT_EQ(DomainsFromPublicUrl("https://video.example.com:8443/base/path?x#y"),
            (Domains{"video.example.com:8443"}));
  EXPECT_EQ(DomainsFromPublicUrl("http://[::1]:8080"), (Domains{"[::1]:8080"}));
  EXPECT_EQ(DomainsFromPublicUrl("http://[::1]"), (Domains{"[::1]"}));
  EXPECT_TRUE(DomainsFromPublicUrl("").empty());
  EXPECT_TRUE(DomainsFromPublicUrl("ftp://example.com").empty());
  EXPECT_TRUE(DomainsFromPublicUrl("http://").empty());
  EXPECT_TRUE(DomainsFromPublicUrl("http://user@example.com").empty());
}

}  // namespace
}  // namespace sg::plugins::auth
