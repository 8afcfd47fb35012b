#include "plugins/chains/chains_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/config_visitors.h"

namespace sg::plugins::chains {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

ChainsConfig OneChain(std::string id = "eip155:1",
                      std::vector<std::string> urls = {"https://rpc.example"}) {
  ChainsConfig config;
  config.chains.push_back(ChainConfig{.id = std::move(id), .rpc_urls = std::move(urls)});
  return config;
}

TEST(ChainsConfigTest, ReadsTheIssueExample) {
  ChainsConfig config;

  auto errors = core::ReadConfig(config, YAML::Load(R"(
chains:
  - id: "eip155:1"
    rpc_urls: ["https://a.example", "https://b.example"]
    block_tag: safe
  - id: "eip155:1337"
    rpc_urls: ["http://127.0.0.1:8545"]
    timeout: 2s
    max_batch: 10
)")["chains"],
                                 "chains", nullptr);

  EXPECT_THAT(errors, IsEmpty());
  ASSERT_EQ(config.chains.size(), 2u);
  EXPECT_EQ(config.chains[0].block_tag, "safe");
  EXPECT_EQ(config.chains[0].timeout.count(), 5000);
  EXPECT_EQ(config.chains[1].timeout.count(), 2000);
  EXPECT_EQ(config.chains[1].max_batch, 10);
  EXPECT_TRUE(config.Validate());
}

TEST(ChainsConfigTest, ReadErrorsNameTheElement) {
  ChainsConfig config;

  auto errors = core::ReadConfig(config, YAML::Load("[{id: 'eip155:1', block_tag: pending}]"),
                                 "chains", nullptr);

  EXPECT_THAT(errors, ElementsAre(HasSubstr("chains[0].block_tag: must be one of latest, safe, "
                                            "finalized")));
}

TEST(ChainsConfigTest, NoChainsIsValid) { EXPECT_TRUE(ChainsConfig{}.Validate()); }

TEST(ChainsConfigTest, ChainIdsMustBeEip155Decimals) {
  for (std::string id : {"1", "eip155:", "eip155:0", "eip155:01", "eip155:-1", "eip155:0x1",
                         "eip155:1 ", "cosmos:1", "eip155:9007199254740993"}) {
    auto valid = OneChain(id).Validate();
    ASSERT_FALSE(valid) << id;
    EXPECT_THAT(valid.error().message, HasSubstr("[0].id")) << id;
  }
  EXPECT_EQ(*ParseEip155ChainId("eip155:1337"), 1337u);
}

TEST(ChainsConfigTest, DuplicateChainIsAnError) {
  ChainsConfig config = OneChain();
  config.chains.push_back(config.chains[0]);

  auto valid = config.Validate();

  ASSERT_FALSE(valid);
  EXPECT_THAT(valid.error().message, HasSubstr("[1].id: chain eip155:1 is configured twice"));
}

TEST(ChainsConfigTest, EveryChainNeedsAUrl) {
  auto valid = OneChain("eip155:1", {}).Validate();
  ASSERT_FALSE(valid);
  EXPECT_THAT(valid.error().message, HasSubstr("[0].rpc_urls"));
}

TEST(ChainsConfigTest, UrlsMustBeHttpOrHttpsAndErrorsDoNotEchoThem) {
  for (std::string url : {"ftp://user:hunter2@rpc.example/", "wss://rpc.example/hunter2",
                          "file:///etc/hunter2", "hunter2", "https://"}) {
    auto valid = OneChain("eip155:1", {"https://ok.example", url}).Validate();
    ASSERT_FALSE(valid) << url;
    EXPECT_THAT(valid.error().message, HasSubstr("[0].rpc_urls[1]")) << url;
    EXPECT_THAT(valid.error().message, Not(HasSubstr("hunter2"))) << url;
  }
}

TEST(ChainsConfigTest, RedactedUrlKeepsOnlySchemeHostAndPort) {
  auto full = RedactedUrl("https://user:pw@mainnet.example:8443/v3/APIKEY?key=x#f");
  auto upper = RedactedUrl("HTTP://127.0.0.1/");

  ASSERT_TRUE(full) << full.error().message;
  EXPECT_EQ(*full, "https://mainnet.example:8443");
  ASSERT_TRUE(upper) << upper.error().message;
  EXPECT_EQ(*upper, "http://127.0.0.1");
}

TEST(ChainsConfigTest, ConnectTimeoutMayNotExceedTheTimeout) {
  ChainsConfig config = OneChain();
  config.chains[0].timeout = ConfigDuration(1000);
  config.chains[0].connect_timeout = ConfigDuration(2000);

  auto valid = config.Validate();

  ASSERT_FALSE(valid);
  EXPECT_THAT(valid.error().message, HasSubstr("[0].connect_timeout"));
}

TEST(ChainsConfigTest, PrintedConfigRedactsUrls) {
  ChainsConfig config = OneChain("eip155:1", {"https://rpc.example/v3/SECRETKEY"});
  YAML::Emitter out;
  core::ConfigPrinter printer(out);

  out << YAML::BeginMap;
  printer.Section("chains", "chains", [&config](ConfigVisitor& v) { config.Visit(v); });
  out << YAML::EndMap;

  EXPECT_THAT(std::string(out.c_str()), Not(HasSubstr("SECRETKEY")));
  EXPECT_TRUE(YAML::Load(out.c_str())["chains"].IsSequence());
}

}  // namespace
}  // namespace sg::plugins::chains
