#include "plugins/chains/chain_reader.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <boost/json.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "core/metrics_registry.h"
#include "core/testing/fake_clock.h"
#include "core/testing/fake_random.h"
#include "core/testing/test_context.h"
#include "plugins/chains/chains_plugin_internal.h"

namespace sg::plugins::chains {
namespace {

namespace json = boost::json;
using ::testing::AllOf;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::string_view kToken = "0x1111111111111111111111111111111111111111";
constexpr std::string_view kMulti = "0x2222222222222222222222222222222222222222";
constexpr std::string_view kWallet = "0x3333333333333333333333333333333333333333";
constexpr std::string_view kAlice = "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
constexpr std::string_view kBob = "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

// The python JSON-RPC node of testdata/fake_rpc.py on a free loopback port. It exits when
// its stdin closes, so it never outlives the test binary.
class FakeRpcNode {
 public:
  FakeRpcNode() {
    int to_child[2];
    int from_child[2];
    SG_CHECK(::pipe(to_child) == 0 && ::pipe(from_child) == 0, "pipe");
    pid_ = ::fork();
    SG_CHECK(pid_ >= 0, "fork");
    if (pid_ == 0) {
      ::dup2(to_child[0], 0);
      ::dup2(from_child[1], 1);
      ::close(to_child[0]);
      ::close(to_child[1]);
      ::close(from_child[0]);
      ::close(from_child[1]);
      ::execlp("python3", "python3", SG_CHAINS_FAKE_RPC, static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    stdin_ = to_child[1];
    // The first line of its stdout is the port; wait for it with a deadline.
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd fd{from_child[0], POLLIN, 0};
      if (::poll(&fd, 1, 100) > 0) {
        char buffer[64];
        ssize_t n = ::read(from_child[0], buffer, sizeof(buffer));
        if (n <= 0) {
          break;
        }
        line.append(buffer, static_cast<std::size_t>(n));
      }
    }
    ::close(from_child[0]);
    port_ = std::atoi(line.c_str());
    SG_CHECK(port_ > 0, "the fake RPC node did not start (is python3 installed?)");
  }

  ~FakeRpcNode() {
    ::close(stdin_);
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }

  std::string url(std::string_view suffix = "/") const {
    return fmt::format("http://127.0.0.1:{}{}", port_, suffix);
  }

  void Control(const json::object& change) {
    auto done = transport_->Post(url("/control"), "control", json::serialize(change), {});
    SG_CHECK(done.has_value(), "control request failed");
  }

  json::object Stats() {
    auto text = transport_->Post(url("/stats"), "stats", "{}", {});
    SG_CHECK(text.has_value(), "stats request failed");
    return json::parse(*text).as_object();
  }

  std::int64_t Posts() { return Stats().at("posts").as_int64(); }

  std::vector<std::string> Methods() {
    std::vector<std::string> methods;
    json::object stats = Stats();  // the loop below must not borrow from a temporary
    for (const auto& method : stats.at("methods").as_array()) {
      methods.emplace_back(method.as_string());
    }
    return methods;
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int port_ = 0;
  std::shared_ptr<RpcTransport> transport_ = MakeCurlTransport();
};

std::string Key(std::string_view a, std::string_view b) { return fmt::format("{}:{}", a, b); }

class ChainReaderTest : public ::testing::Test {
 protected:
  ChainConfig Chain(std::vector<std::string> urls, std::string id = "eip155:1") {
    ChainConfig chain;
    chain.id = std::move(id);
    chain.rpc_urls = std::move(urls);
    chain.timeout = ConfigDuration(2000);
    chain.connect_timeout = ConfigDuration(1000);
    chain.retries = 0;
    chain.retry_backoff = ConfigDuration(100);
    return chain;
  }

  std::unique_ptr<EvmChainReader> Reader(std::vector<ChainConfig> chains) {
    ChainsConfig config;
    config.chains = std::move(chains);
    EXPECT_TRUE(config.Validate());
    return std::make_unique<EvmChainReader>(config, MakeCurlTransport(), clock_, random_, logger_,
                                            metrics_);
  }

  static BalanceQuery Query(TokenStandard standard, std::string_view contract,
                            std::string_view owner, std::vector<std::uint64_t> ids = {},
                            std::string chain = "eip155:1") {
    BalanceQuery query;
    query.chain = std::move(chain);
    query.standard = standard;
    query.contract = std::string(contract);
    query.owner = std::string(owner);
    for (std::uint64_t id : ids) {
      query.token_ids.push_back(Uint256::FromU64(id));
    }
    return query;
  }

  static std::vector<std::string> Decimals(const BalanceAnswer& answer) {
    std::vector<std::string> out;
    for (const Uint256& value : answer.balances) {
      out.push_back(value.ToDecimal());
    }
    return out;
  }

  double Requests(std::string_view outcome) {
    return metrics_.CounterFamily("streamgate_chain_rpc_requests_total", "", {"chain", "outcome"})
        .WithLabels({"eip155:1", outcome})
        .Value();
  }

  testing::FakeClock clock_;
  testing::FakeRandom random_;
  std::shared_ptr<spdlog::logger> logger_ =
      std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
  core::PrometheusMetricsRegistry metrics_;
  FakeRpcNode node_;
};

TEST_F(ChainReaderTest, AnswersEveryStandardFromOneBatchAtTheConfiguredBlockTag) {
  node_.Control({{"balances", {{Key(kToken, kAlice), 3}}},
                 {"owners", {{Key(kToken, "7"), kAlice}, {Key(kToken, "8"), kBob}}},
                 {"erc1155", {{fmt::format("{}:{}:5", kMulti, kAlice), 2}}}});
  ChainConfig chain = Chain({node_.url()});
  chain.block_tag = "safe";
  auto reader = Reader({chain});

  auto answers = reader->Balances({Query(TokenStandard::kErc20, kToken, kAlice),
                                   Query(TokenStandard::kErc721, kToken, kBob),
                                   Query(TokenStandard::kErc721, kToken, kAlice, {7, 8, 9}),
                                   Query(TokenStandard::kErc1155, kMulti, kAlice, {4, 5})});

  ASSERT_TRUE(answers) << answers.error().message;
  ASSERT_EQ(answers->size(), 4u);
  EXPECT_THAT(Decimals((*answers)[0]), ElementsAre("3"));
  EXPECT_THAT(Decimals((*answers)[1]), ElementsAre("0"));
  // Owns 7; 8 is Bob's; 9 does not exist (ownerOf reverts): 0, not an error.
  EXPECT_THAT(Decimals((*answers)[2]), ElementsAre("1", "0", "0"));
  EXPECT_THAT(Decimals((*answers)[3]), ElementsAre("0", "2"));
  json::object stats = node_.Stats();
  // One eth_chainId check, then one batch of 2 balanceOf + 3 ownerOf + 1 balanceOfBatch.
  EXPECT_EQ(stats.at("batch_sizes"), json::parse("[6]"));
  EXPECT_EQ(stats.at("block_tags").as_array().size(), 6u);
  for (const auto& tag : stats.at("block_tags").as_array()) {
    EXPECT_EQ(tag.as_string(), "safe");
  }
  EXPECT_EQ(Requests("ok"), 1.0);
}

TEST_F(ChainReaderTest, SplitsBatchesAtTheMaximumSize) {
  ChainConfig chain = Chain({node_.url()});
  chain.max_batch = 2;
  auto reader = Reader({chain});

  auto answers = reader->Balances({Query(TokenStandard::kErc721, kToken, kAlice, {1, 2, 3, 4, 5})});

  ASSERT_TRUE(answers) << answers.error().message;
  EXPECT_EQ(node_.Stats().at("batch_sizes"), json::parse("[2, 2, 1]"));
}

TEST_F(ChainReaderTest, MatchesAnswersById) {
  node_.Control(
      {{"reverse", true}, {"balances", {{Key(kToken, kAlice), 1}, {Key(kMulti, kAlice), 2}}}});
  auto reader = Reader({Chain({node_.url()})});

  auto answers = reader->Balances(
      {Query(TokenStandard::kErc20, kToken, kAlice), Query(TokenStandard::kErc20, kMulti, kAlice)});

  ASSERT_TRUE(answers) << answers.error().message;
  EXPECT_THAT(Decimals((*answers)[0]), ElementsAre("1"));
  EXPECT_THAT(Decimals((*answers)[1]), ElementsAre("2"));
}

TEST_F(ChainReaderTest, RevertIsAContractFailureNamingTheContract) {
  node_.Control({{"reverting", json::array{kToken}}});
  auto reader = Reader({Chain({node_.url()})});

  auto answers = reader->Balances({Query(TokenStandard::kErc20, kToken, kAlice)});

  ASSERT_FALSE(answers);
  EXPECT_EQ(answers.error().code, kContractFailureCode);
  EXPECT_THAT(answers.error().message,
              AllOf(HasSubstr(kToken), HasSubstr("eip155:1"), HasSubstr("revert")));
  // A revert is the contract's answer: no other URL is asked, no breaker failure counted.
  EXPECT_EQ(Requests("failed"), 0.0);
}

TEST_F(ChainReaderTest, AddressWithoutCodeIsAContractFailure) {
  node_.Control({{"nocode", json::array{kToken}}});
  auto reader = Reader({Chain({node_.url()})});

  auto answers = reader->Balances({Query(TokenStandard::kErc721, kToken, kAlice)});

  ASSERT_FALSE(answers);
  EXPECT_EQ(answers.error().code, kContractFailureCode);
  EXPECT_THAT(answers.error().message, AllOf(HasSubstr(kToken), HasSubstr("not a contract")));
}

TEST_F(ChainReaderTest, MalformedQueriesFailBeforeAnyRequest) {
  auto reader = Reader({Chain({node_.url()})});

  std::vector<BalanceQuery> bad = {
      Query(TokenStandard::kErc20, kToken, kAlice, {}, "eip155:5"),
      Query(TokenStandard::kErc20, "0x1234", kAlice),
      Query(TokenStandard::kErc20, kToken, "alice"),
      Query(TokenStandard::kErc20, kToken, kAlice, {1}),
      Query(TokenStandard::kErc1155, kToken, kAlice),
  };
  for (const BalanceQuery& query : bad) {
    auto answers = reader->Balances({Query(TokenStandard::kErc20, kToken, kAlice), query});
    ASSERT_FALSE(answers);
    EXPECT_EQ(answers.error().code, ErrorCode::kInvalidArgument) << answers.error().message;
  }
  EXPECT_EQ(node_.Posts(), 0);
  auto unknown = reader->Balances({bad[0]});
  EXPECT_THAT(unknown.error().message, HasSubstr("eip155:5"));
  EXPECT_TRUE(reader->HasChain("eip155:1"));
  EXPECT_FALSE(reader->HasChain("eip155:5"));
  EXPECT_EQ(reader->ChainIds(), std::vector<std::string>{"eip155:1"});
}

TEST_F(ChainReaderTest, FailsOverToTheNextUrl) {
  FakeRpcNode second;
  node_.Control({{"mode", "http500"}});
  second.Control({{"balances", {{Key(kToken, kAlice), 9}}}});
  auto reader = Reader({Chain({node_.url(), second.url()})});

  auto answers = reader->Balances({Query(TokenStandard::kErc20, kToken, kAlice)});

  ASSERT_TRUE(answers) << answers.error().message;
  EXPECT_THAT(Decimals((*answers)[0]), ElementsAre("9"));
  EXPECT_EQ(Requests("failed"), 1.0);
  EXPECT_EQ(Requests("ok"), 1.0);
}

TEST_F(ChainReaderTest, EveryKindOfBrokenAnswerMovesToTheNextUrl) {
  FakeRpcNode second;
  second.Control({{"balances", {{Key(kToken, kAlice), 4}}}});
  ChainConfig chain = Chain({node_.url(), second.url()});
  chain.max_response_bytes = ByteSize{1 << 20};
  chain.breaker_failures = 100;
  auto reader = Reader({chain});

  for (std::string_view mode :
       {"garbage", "huge", "batch_refused", "drop_item", "node_error", "http500"}) {
    node_.Control({{"mode", mode}});
    auto answers = reader->Balances({Query(TokenStandard::kErc20, kToken, kAlice),
                                     Query(TokenStandard::kErc20, kToken, kAlice)});
    ASSERT_TRUE(answers) << mode << ": " << answers.error().message;
    EXPECT_THAT(Decimals((*answers)[1]), ElementsAre("4")) << mode;
  }
  EXPECT_EQ(Requests("failed"), 6.0);
}

TEST_F(ChainReaderTest, AllUrlsDownIsUnavailableNamingTheChainNeverTheCredentials) {
  FakeRpcNode second;
  node_.Control({{"mode", "http500"}});
  second.Control({{"mode", "huge"}});
  std::string secret_first = node_.url("/v3/SECRETPATH?apikey=SECRETQUERY");
  std::string secret_second = second.url();
  secret_second.insert(std::string_view("http://").size(), "user:SECRETPASS@");
  auto reader = Reader({Chain({secret_first, secret_second})});

  auto answers = reader->Balances({Query(TokenStandard::kErc20, kToken, kAlice)});

  ASSERT_FALSE(answers);
  EXPECT_EQ(answers.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(answers.error().message, AllOf(HasSubstr("eip155:1"), HasSubstr("url 2"),
                                             HasSubstr("larger than"), Not(HasSubstr("SECRET"))));
}

TEST_F(ChainReaderTest, RetriesRoundsWithBackoff) {
  node_.Control({{"mode", "http500"}});
  ChainConfig chain = Chain({node_.url()});
  chain.retries = 2;
  chain.breaker_failures = 100;
  auto reader = Reader({chain});

  auto answers = reader->Balances({Query(TokenStandard::kErc20, kToken, kAlice)});

  ASSERT_FALSE(answers);
  EXPECT_THAT(answers.error().message, HasSubstr("after 3 attempts"));
  // Each round checks the chain id first; the URL fails that check, three times.
  EXPECT_EQ(node_.Posts(), 3);
  EXPECT_EQ(clock_.sleeps(), 2);
}

TEST_F(ChainReaderTest, RecoversWhenARetryRoundSucceeds) {
  // A URL that answers HTTP 500 to the first round only: the fake keeps one mode, so the
  // second URL stands in for "the node came back".
  FakeRpcNode second;
  second.Control({{"mode", "http500"}});
  ChainConfig chain = Chain({second.url()});
  chain.retries = 3;
  auto reader = Reader({chain});
  auto first = reader->Balances({Query(TokenStandard::kErc20, kToken, kAlice)});
  ASSERT_FALSE(first);

  second.Control({{"mode", "ok"}});
  auto again = reader->Balances({Query(TokenStandard::kErc20, kToken, kAlice)});

  EXPECT_TRUE(again) << again.error().message;
}

TEST_F(ChainReaderTest, TimesOutAHangingNode) {
  node_.Control({{"mode", "hang"}, {"hang_seconds", 5}});
  ChainConfig chain = Chain({node_.url()});
  chain.timeout = ConfigDuration(300);
  chain.connect_timeout = ConfigDuration(300);
  auto reader = Reader({chain});
  auto started = std::chrono::steady_clock::now();

  auto answers = reader->Balances({Query(TokenStandard::kErc20, kToken, kAlice)});

  auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(answers);
  EXPECT_EQ(answers.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(answers.error().message, HasSubstr("no answer within 300 ms"));
  EXPECT_LT(elapsed, std::chrono::seconds(3));
}

TEST_F(ChainReaderTest, AUrlServingAnotherChainIsNeverTrusted) {
  FakeRpcNode second;
  node_.Control({{"chain_id", 5}, {"balances", {{Key(kToken, kAlice), 100}}}});
  second.Control({{"balances", {{Key(kToken, kAlice), 1}}}});
  auto reader = Reader({Chain({node_.url(), second.url()})});

  auto answers = reader->Balances({Query(TokenStandard::kErc20, kToken, kAlice)});

  ASSERT_TRUE(answers) << answers.error().message;
  EXPECT_THAT(Decimals((*answers)[0]), ElementsAre("1"));
  EXPECT_THAT(node_.Methods(), Each("eth_chainId"));
  EXPECT_EQ(Requests("wrong_chain"), 1.0);
}

TEST_F(ChainReaderTest, TheChainIdIsCheckedOncePerUrl) {
  auto reader = Reader({Chain({node_.url()})});

  ASSERT_TRUE(reader->Balances({Query(TokenStandard::kErc20, kToken, kAlice)}));
  ASSERT_TRUE(reader->Balances({Query(TokenStandard::kErc20, kToken, kAlice)}));

  EXPECT_THAT(node_.Methods(), ElementsAre("eth_chainId", "eth_call", "eth_call"));
}

TEST_F(ChainReaderTest, OpenBreakerSkipsTheUrlAndDegradesHealthUntilItRecovers) {
  node_.Control({{"mode", "http500"}});
  ChainConfig chain = Chain({node_.url()});
  chain.breaker_failures = 2;
  chain.breaker_open_for = ConfigDuration(10'000);
  auto reader = Reader({chain});
  ASSERT_FALSE(reader->Balances({Query(TokenStandard::kErc20, kToken, kAlice)}));
  ASSERT_FALSE(reader->Balances({Query(TokenStandard::kErc20, kToken, kAlice)}));
  EXPECT_EQ(reader->CheckHealth().status, HealthStatus::kDegraded);
  EXPECT_THAT(reader->CheckHealth().detail, HasSubstr("eip155:1"));

  auto fast = reader->Balances({Query(TokenStandard::kErc20, kToken, kAlice)});

  ASSERT_FALSE(fast);
  EXPECT_EQ(fast.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(fast.error().message, AllOf(HasSubstr("circuit open"), HasSubstr("HTTP status 500")));
  EXPECT_EQ(node_.Posts(), 2);

  node_.Control({{"mode", "ok"}});
  clock_.Advance(std::chrono::seconds(11));
  auto probe = reader->Balances({Query(TokenStandard::kErc20, kToken, kAlice)});
  EXPECT_TRUE(probe) << probe.error().message;
  EXPECT_EQ(reader->CheckHealth().status, HealthStatus::kOk);
}

TEST_F(ChainReaderTest, QueriesOnTwoChainsGoToTheirOwnNodes) {
  FakeRpcNode second;
  second.Control({{"chain_id", 1337}, {"balances", {{Key(kToken, kAlice), 7}}}});
  node_.Control({{"balances", {{Key(kToken, kAlice), 1}}}});
  auto reader = Reader({Chain({node_.url()}), Chain({second.url()}, "eip155:1337")});

  auto answers = reader->Balances({Query(TokenStandard::kErc20, kToken, kAlice, {}, "eip155:1337"),
                                   Query(TokenStandard::kErc20, kToken, kAlice)});

  ASSERT_TRUE(answers) << answers.error().message;
  EXPECT_THAT(Decimals((*answers)[0]), ElementsAre("7"));
  EXPECT_THAT(Decimals((*answers)[1]), ElementsAre("1"));
}

class SignatureTest : public ChainReaderTest {
 protected:
  std::array<std::uint8_t, 32> hash_ = [] {
    std::array<std::uint8_t, 32> hash{};
    hash.fill(0x42);
    return hash;
  }();
  std::string signature_hex_ = std::string(130, 'a');
};

TEST_F(SignatureTest, MagicValueMeansValid) {
  std::string hash_hex;
  for (int i = 0; i < 32; ++i) {
    hash_hex += "42";
  }
  node_.Control({{"wallets", {{kWallet, {{"hash", hash_hex}, {"signature", signature_hex_}}}}}});
  auto reader = Reader({Chain({node_.url()})});

  auto valid = reader->IsValidSignature("eip155:1", kWallet, hash_, "0x" + signature_hex_);
  auto wrong = reader->IsValidSignature("eip155:1", kWallet, hash_, "0x" + std::string(130, 'b'));
  auto not_wallet = reader->IsValidSignature("eip155:1", kToken, hash_, "0x" + signature_hex_);

  ASSERT_TRUE(valid) << valid.error().message;
  EXPECT_TRUE(*valid);
  ASSERT_TRUE(wrong);
  EXPECT_FALSE(*wrong);
  ASSERT_TRUE(not_wallet);  // reverts: not valid, not an error
  EXPECT_FALSE(*not_wallet);
}

TEST_F(SignatureTest, AddressWithoutCodeIsNotValid) {
  node_.Control({{"nocode", json::array{kWallet}}});
  auto reader = Reader({Chain({node_.url()})});

  auto valid = reader->IsValidSignature("eip155:1", kWallet, hash_, "0x" + signature_hex_);

  ASSERT_TRUE(valid);
  EXPECT_FALSE(*valid);
}

TEST_F(SignatureTest, UnreachableChainIsAnErrorNotFalse) {
  node_.Control({{"mode", "http500"}});
  auto reader = Reader({Chain({node_.url()})});

  auto valid = reader->IsValidSignature("eip155:1", kWallet, hash_, "0x" + signature_hex_);

  ASSERT_FALSE(valid);
  EXPECT_EQ(valid.error().code, ErrorCode::kUnavailable);
}

TEST_F(SignatureTest, MalformedInputsAreInvalidArguments) {
  auto reader = Reader({Chain({node_.url()})});

  EXPECT_EQ(reader->IsValidSignature("eip155:2", kWallet, hash_, "0x00").error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(reader->IsValidSignature("eip155:1", "0x12", hash_, "0x00").error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(reader->IsValidSignature("eip155:1", kWallet, hash_, "abc").error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(reader
                ->IsValidSignature("eip155:1", kWallet, hash_,
                                   "0x" + std::string(2 * (kMaxSignatureBytes + 1), '0'))
                .error()
                .code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(node_.Posts(), 0);
}

TEST(ChainsPluginTest, ProvidesTheChainReaderAndReportsHealth) {
  ChainsConfig config;
  config.chains.push_back(ChainConfig{.id = "eip155:1", .rpc_urls = {"http://127.0.0.1:9/"}});
  testing::TestPluginContext context(testing::TestPluginContext::MakeConfig(config));
  auto plugin = MakeChainsPlugin();
  EXPECT_EQ(plugin->Info().name, "chains");
  EXPECT_EQ(plugin->CheckHealth().status, HealthStatus::kDown);

  ASSERT_TRUE(plugin->Init(context));
  ASSERT_TRUE(plugin->Start());

  auto reader = context.Require<ChainReader>();
  ASSERT_TRUE(reader);
  EXPECT_TRUE((*reader)->HasChain("eip155:1"));
  EXPECT_EQ(plugin->CheckHealth().status, HealthStatus::kOk);
  plugin->Stop(SteadyTime::max());
}

}  // namespace
}  // namespace sg::plugins::chains
