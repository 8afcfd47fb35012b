// The real-chain test peer itself: two ganache chains with the test contracts deployed and
// the documented holdings, reachable on their rpc_url, driven through EvmFixture.

#include "tests/support/evm_fixture.h"

#include <signal.h>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <cctype>
#include <cerrno>
#include <memory>
#include <optional>
#include <regex>
#include <string>

#include "tests/support/http_client.h"

namespace sg::testing {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

/// One JSON-RPC call over a fresh connection to the chain's public rpc_url.
std::optional<HttpReply> RpcPost(int port, const std::string& body,
                                 std::chrono::milliseconds timeout = 5s) {
  RawConnection connection(port);
  if (!connection.connected()) {
    return std::nullopt;
  }
  std::string request =
      "POST / HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n" + body;
  if (!connection.Send(request)) {
    return std::nullopt;
  }
  return connection.ReadResponse(timeout);
}

/// The "result" of a JSON-RPC call, or "" when there is none.
std::string RpcResult(int port, const std::string& method, const std::string& params_json) {
  auto reply = RpcPost(port, R"({"jsonrpc":"2.0","id":1,"method":")" + method + R"(","params":)" +
                                 params_json + "}");
  if (!reply || reply->status != 200) {
    return "";
  }
  json::value parsed = json::parse(reply->body);
  const json::value* result = parsed.as_object().if_contains("result");
  return result != nullptr && result->is_string() ? std::string(result->get_string()) : "";
}

std::string Lower(std::string text) {
  for (char& c : text) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return text;
}

/// ABI-encodes balanceOf(address) for an eth_call.
std::string BalanceOfCall(const std::string& address) {
  return "0x70a08231" + std::string(24, '0') + Lower(address.substr(2));
}

class EvmFixtureTest : public ::testing::Test {
 protected:
  // One fixture for the suite: start-up costs a couple of seconds. Tests use disjoint tokens
  // so that they do not depend on their order.
  static void SetUpTestSuite() { evm_ = std::make_unique<EvmFixture>(); }
  static void TearDownTestSuite() { evm_.reset(); }
  void SetUp() override { ASSERT_TRUE(evm_->ok()) << evm_->error(); }

  static EvmFixture& evm() { return *evm_; }

 private:
  static std::unique_ptr<EvmFixture> evm_;
};

std::unique_ptr<EvmFixture> EvmFixtureTest::evm_;

TEST_F(EvmFixtureTest, BothChainsAnswerEthChainIdWithTheirOwnIdOnTheirRpcUrl) {
  ASSERT_EQ(evm().chains().size(), 2u);
  EXPECT_EQ(evm().chain("eip155:1337").chain_id, 1337u);
  EXPECT_EQ(evm().chain("eip155:31337").chain_id, 31337u);
  EXPECT_EQ(RpcResult(evm().chain("eip155:1337").port, "eth_chainId", "[]"), "0x539");
  EXPECT_EQ(RpcResult(evm().chain("eip155:31337").port, "eth_chainId", "[]"), "0x7a69");
  EXPECT_EQ(evm().chain("eip155:1337").rpc_url,
            "http://127.0.0.1:" + std::to_string(evm().chain("eip155:1337").port));
}

TEST_F(EvmFixtureTest, ContractAddressesDifferBetweenTheChains) {
  const EvmContracts& a = evm().chain("eip155:1337").contracts;
  const EvmContracts& b = evm().chain("eip155:31337").contracts;
  for (const std::string& address : {a.erc721, a.erc1155, a.erc20, a.wallet1271}) {
    EXPECT_NE(address, b.erc721);
    EXPECT_NE(address, b.erc1155);
    EXPECT_NE(address, b.erc20);
    EXPECT_NE(address, b.wallet1271);
  }
}

TEST_F(EvmFixtureTest, WalletsAreTheWellKnownAccountsOfTheTestMnemonic) {
  ASSERT_EQ(evm().wallets().size(), 10u);
  EXPECT_EQ(evm().wallet(0).address, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
  EXPECT_EQ(evm().wallet(1).address, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
  EXPECT_EQ(evm().wallet(1).private_key,
            "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
  EXPECT_EQ(evm().wallet1271_owner(), 4);
}

TEST_F(EvmFixtureTest, EveryListedHoldingIsOnChainAsMinted) {
  ASSERT_FALSE(evm().holdings().empty());
  for (const EvmHolding& holding : evm().holdings()) {
    SCOPED_TRACE(holding.chain + " " + holding.standard + " " + holding.token_id + " " +
                 holding.holder);
    if (holding.standard == "erc721") {
      EXPECT_EQ(evm().OwnerOf721(holding.chain, holding.token_id).value_or(""), holding.holder);
    } else if (holding.standard == "erc1155") {
      EXPECT_EQ(
          evm().Balance(holding.chain, "erc1155", holding.holder, holding.token_id).value_or(""),
          holding.amount);
    } else {
      EXPECT_EQ(evm().Balance(holding.chain, "erc20", holding.holder).value_or(""), holding.amount);
    }
  }
}

TEST_F(EvmFixtureTest, TheRpcUrlSeesTheMintedBalancesThroughEthCall) {
  const EvmChain& chain = evm().chain("eip155:1337");
  // Wallet 1 holds 100 tokens (18 decimals) of the ERC-20 on 1337 and none on 31337.
  std::string params = R"([{"to":")" + chain.contracts.erc20 + R"(","data":")" +
                       BalanceOfCall(evm().wallet(1).address) + R"("},"latest"])";
  EXPECT_EQ(RpcResult(chain.port, "eth_call", params),
            "0x0000000000000000000000000000000000000000000000056bc75e2d63100000");
  const EvmChain& other = evm().chain("eip155:31337");
  std::string other_params = R"([{"to":")" + other.contracts.erc20 + R"(","data":")" +
                             BalanceOfCall(evm().wallet(1).address) + R"("},"safe"])";
  EXPECT_EQ(RpcResult(other.port, "eth_call", other_params), "0x" + std::string(64, '0'));
}

TEST_F(EvmFixtureTest, SignaturesAreEip191PersonalSignShaped) {
  auto first = evm().Sign(1, "hello StreamGate");
  auto again = evm().Sign(1, "hello StreamGate");
  auto other = evm().Sign(2, "hello StreamGate");
  ASSERT_TRUE(first) << first.error().ToString();
  ASSERT_TRUE(again && other);
  // r (32 bytes) s (32 bytes) v (27 or 28).
  EXPECT_TRUE(std::regex_match(*first, std::regex("0x[0-9a-f]{128}(1b|1c)"))) << *first;
  EXPECT_EQ(*first, *again) << "RFC 6979 signatures are deterministic";
  EXPECT_NE(*first, *other);
}

TEST_F(EvmFixtureTest, SiweMessageFollowsTheEip4361AbnfWithAChecksummedAddress) {
  SiweFields fields;
  fields.scheme = "https";
  fields.domain = "127.0.0.1:8080";
  fields.address = "0x90f79bf6eb2c4f870365e785982e1f101e93b906";  // lower case on purpose
  fields.statement = "Sign in to StreamGate.";
  fields.uri = "http://127.0.0.1:8080/login";
  fields.chain_id = 31337;
  fields.nonce = "a1b2c3d4e5f6g7h8";
  fields.issued_at = "2024-05-01T12:00:00Z";
  fields.expiration_time = "2024-05-01T12:05:00Z";
  fields.not_before = "2024-05-01T11:59:00Z";
  fields.request_id = "req-1";
  fields.resources = {"ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq",
                      "https://example.com/my-web2-claim.json"};
  auto message = evm().SiweMessage(fields);
  ASSERT_TRUE(message) << message.error().ToString();
  EXPECT_EQ(*message,
            "https://127.0.0.1:8080 wants you to sign in with your Ethereum account:\n"
            "0x90F79bf6EB2c4f870365E785982E1f101E93b906\n"
            "\n"
            "Sign in to StreamGate.\n"
            "\n"
            "URI: http://127.0.0.1:8080/login\n"
            "Version: 1\n"
            "Chain ID: 31337\n"
            "Nonce: a1b2c3d4e5f6g7h8\n"
            "Issued At: 2024-05-01T12:00:00Z\n"
            "Expiration Time: 2024-05-01T12:05:00Z\n"
            "Not Before: 2024-05-01T11:59:00Z\n"
            "Request ID: req-1\n"
            "Resources:\n"
            "- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq\n"
            "- https://example.com/my-web2-claim.json");
}

TEST_F(EvmFixtureTest, SiweMessageWithoutStatementKeepsBothBlankLines) {
  SiweFields fields;
  fields.domain = "example.com";
  fields.wallet = 2;
  fields.uri = "https://example.com";
  fields.chain_id = 1337;
  fields.nonce = "abcdefgh12345678";
  fields.issued_at = "2024-01-01T00:00:00Z";
  auto message = evm().SiweMessage(fields);
  ASSERT_TRUE(message) << message.error().ToString();
  EXPECT_EQ(*message,
            "example.com wants you to sign in with your Ethereum account:\n"
            "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC\n\n\n"
            "URI: https://example.com\nVersion: 1\nChain ID: 1337\n"
            "Nonce: abcdefgh12345678\nIssued At: 2024-01-01T00:00:00Z");
}

TEST_F(EvmFixtureTest, ContractWalletAcceptsItsOwnersSiweSignatureAndNobodyElses) {
  SiweFields fields;
  fields.domain = "127.0.0.1:8080";
  fields.contract_wallet = "eip155:31337";
  fields.uri = "http://127.0.0.1:8080";
  fields.chain_id = 31337;
  fields.nonce = "noncenoncenonce1";
  auto signed_in = evm().SignSiwe(fields);
  ASSERT_TRUE(signed_in) << signed_in.error().ToString();
  EXPECT_EQ(signed_in->address, evm().chain("eip155:31337").contracts.wallet1271);
  EXPECT_NE(signed_in->message.find(signed_in->address), std::string::npos);

  auto valid = evm().IsValidSignature1271("eip155:31337", signed_in->message, signed_in->signature);
  ASSERT_TRUE(valid) << valid.error().ToString();
  EXPECT_TRUE(*valid);

  auto stranger = evm().Sign(3, signed_in->message);
  ASSERT_TRUE(stranger);
  auto invalid = evm().IsValidSignature1271("eip155:31337", signed_in->message, *stranger);
  ASSERT_TRUE(invalid) << invalid.error().ToString();
  EXPECT_FALSE(*invalid);
  auto garbage = evm().IsValidSignature1271("eip155:31337", signed_in->message, "0x1234");
  ASSERT_TRUE(garbage) << "a malformed signature is 'invalid', not a revert";
  EXPECT_FALSE(*garbage);
}

TEST_F(EvmFixtureTest, SignSiweSignsWithTheAccountsKeyUnlessAnotherSignerIsNamed) {
  SiweFields fields;
  fields.domain = "example.com";
  fields.wallet = 1;
  fields.uri = "https://example.com";
  fields.chain_id = 1337;
  fields.nonce = "abcdefgh12345678";
  fields.issued_at = "2024-01-01T00:00:00Z";
  auto own = evm().SignSiwe(fields);
  fields.signer = 3;
  auto forged = evm().SignSiwe(fields);
  ASSERT_TRUE(own && forged);
  EXPECT_EQ(own->message, forged->message);
  EXPECT_EQ(own->address, evm().wallet(1).address);
  EXPECT_EQ(own->signature, evm().Sign(1, own->message).value_or(""));
  EXPECT_EQ(forged->signature, evm().Sign(3, own->message).value_or(""));
  EXPECT_NE(own->signature, forged->signature);
}

TEST_F(EvmFixtureTest, TransfersAndMintsAreVisibleOnTheRpcUrl) {
  const EvmChain& chain = evm().chain("eip155:1337");
  // ERC-721 id 2 on 1337 starts with wallet 1.
  auto transfer = evm().Transfer721(chain.id, 1, 6, "2");
  ASSERT_TRUE(transfer) << transfer.error().ToString();
  EXPECT_TRUE(std::regex_match(transfer->tx_hash, std::regex("0x[0-9a-f]{64}")));
  EXPECT_EQ(evm().OwnerOf721(chain.id, "2").value_or(""), evm().wallet(6).address);
  std::string params = R"([{"to":")" + chain.contracts.erc721 + R"(","data":")" +
                       BalanceOfCall(evm().wallet(6).address) + R"("},"latest"])";
  EXPECT_EQ(RpcResult(chain.port, "eth_call", params), "0x" + std::string(63, '0') + "1");

  ASSERT_TRUE(evm().Mint1155(chain.id, 7, "42", "3"));
  ASSERT_TRUE(evm().Transfer1155(chain.id, 7, 8, "42", "1"));
  EXPECT_EQ(evm().Balance(chain.id, "erc1155", 7, "42").value_or(""), "2");
  EXPECT_EQ(evm().Balance(chain.id, "erc1155", 8, "42").value_or(""), "1");

  ASSERT_TRUE(evm().Mint20("eip155:31337", 7, "1000"));
  ASSERT_TRUE(evm().Transfer20("eip155:31337", 7, evm().wallet(8).address, "400"));
  EXPECT_EQ(evm().Balance("eip155:31337", "erc20", 7).value_or(""), "600");
  EXPECT_EQ(evm().Balance("eip155:31337", "erc20", 8).value_or(""), "400");

  ASSERT_TRUE(evm().Mint721("eip155:31337", EvmAccount::ContractWallet(), "77"));
  EXPECT_EQ(evm().OwnerOf721("eip155:31337", "77").value_or(""),
            evm().chain("eip155:31337").contracts.wallet1271);
}

TEST_F(EvmFixtureTest, RejectedTransactionsAndBadCommandsAreErrorsAndTheFixtureCarriesOn) {
  // Wallet 3 owns nothing: moving ERC-721 id 1 (wallet 1's) must fail.
  auto stolen = evm().Transfer721("eip155:1337", 3, 3, "1");
  EXPECT_FALSE(stolen);
  auto unknown = evm().Call({{"cmd", "no_such_command"}});
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("no_such_command"), std::string::npos);
  EXPECT_FALSE(evm().Balance("eip155:999", "erc20", 1));
  EXPECT_FALSE(evm().StopChain("eip155:1337", "explode"));
  EXPECT_EQ(evm().OwnerOf721("eip155:1337", "1").value_or(""), evm().wallet(1).address);
}

TEST_F(EvmFixtureTest, StopChainTakesTheRpcUrlDownAndStartChainBringsItBackOnTheSamePort) {
  const EvmChain& chain = evm().chain("eip155:31337");
  const EvmChain& other = evm().chain("eip155:1337");

  ASSERT_TRUE(evm().StopChain(chain.id));
  EXPECT_FALSE(RawConnection(chain.port).connected()) << "refuse mode: connection refused";
  EXPECT_EQ(RpcResult(other.port, "eth_chainId", "[]"), "0x539") << "the other chain is up";
  // The chain lives on behind the closed URL: tokens still move.
  ASSERT_TRUE(evm().Mint721(chain.id, 9, "900"));

  ASSERT_TRUE(evm().StartChain(chain.id));
  EXPECT_EQ(RpcResult(chain.port, "eth_chainId", "[]"), "0x7a69");
  std::string params = R"([{"to":")" + chain.contracts.erc721 + R"(","data":")" +
                       BalanceOfCall(evm().wallet(9).address) + R"("},"latest"])";
  EXPECT_EQ(RpcResult(chain.port, "eth_call", params), "0x" + std::string(63, '0') + "1");

  ASSERT_TRUE(evm().StopChain(chain.id, "http_error"));
  auto refused = RpcPost(chain.port, R"({"jsonrpc":"2.0","id":1,"method":"eth_chainId"})");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);

  ASSERT_TRUE(evm().StopChain(chain.id, "hang"));
  EXPECT_TRUE(RawConnection(chain.port).connected());
  EXPECT_FALSE(RpcPost(chain.port, R"({"jsonrpc":"2.0","id":1,"method":"eth_chainId"})", 300ms));

  ASSERT_TRUE(evm().StartChain(chain.id));
  EXPECT_EQ(RpcResult(chain.port, "eth_chainId", "[]"), "0x7a69");
}

TEST(EvmFixtureLifetimeTest, DestroyingTheFixtureEndsTheChildAndFreesTheRpcPorts) {
  pid_t pid = -1;
  int port = 0;
  {
    EvmFixture evm;
    ASSERT_TRUE(evm.ok()) << evm.error();
    pid = evm.pid();
    port = evm.chain("eip155:1337").port;
    ASSERT_TRUE(RawConnection(port).connected());
  }
  errno = 0;
  EXPECT_EQ(kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH) << "the child was reaped";
  EXPECT_FALSE(RawConnection(port).connected());
}

TEST(EvmFixtureLifetimeTest, AMissingScriptIsAStartErrorNotAHang) {
  EvmFixture::Options options;
  options.script = "/nonexistent/evm_fixture.mjs";
  EvmFixture evm(options);
  EXPECT_FALSE(evm.ok());
  EXPECT_NE(evm.error().find("/nonexistent/evm_fixture.mjs"), std::string::npos);
  EXPECT_FALSE(evm.Sign(1, "x"));
}

}  // namespace
}  // namespace sg::testing
