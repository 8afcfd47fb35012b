// The command line: exit codes, messages that name the problem, and no port opened on a
// config error.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/http_client.h"
#include "tests/support/process.h"

namespace sg::testing {
namespace {

using namespace std::chrono_literals;

struct TempFile {
  explicit TempFile(const std::string& text)
      : path(std::filesystem::temp_directory_path() /
             ("sg-cli-" + std::to_string(FreePort()) + ".yaml")) {
    std::ofstream(path) << text;
  }
  ~TempFile() { std::filesystem::remove(path); }
  std::filesystem::path path;
};

struct Outcome {
  int code;
  std::string out;
  std::string err;
};

Outcome RunStreamgate(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), SG_STREAMGATE_BINARY);
  ChildProcess child(args, env);
  auto code = child.WaitExit(20s);
  return {code.value_or(-1), child.Stdout(), child.Stderr()};
}

TEST(CliTest, VersionPrintsTheVersion) {
  auto result = RunStreamgate({"version"});
  EXPECT_EQ(result.code, 0);
  EXPECT_EQ(result.out, "streamgate 0.1.0\n");
}

TEST(CliTest, HelpWorksOnEverySubcommand) {
  for (std::vector<std::string> args : {std::vector<std::string>{"--help"},
                                        {"serve", "--help"},
                                        {"plugins", "--help"},
                                        {"config", "--help"},
                                        {"config", "print", "--help"},
                                        {"config", "validate", "--help"}}) {
    auto result = RunStreamgate(args);
    EXPECT_EQ(result.code, 0) << args.back();
    EXPECT_NE(result.out.find("Usage"), std::string::npos) << args.back() << result.out;
  }
}

TEST(CliTest, NoSubcommandIsAUsageError) {
  auto result = RunStreamgate({});
  EXPECT_EQ(result.code, 2);
}

TEST(CliTest, PluginsListsEveryRegisteredPluginWithVersionAndDependencies) {
  auto result = RunStreamgate({"plugins"});
  ASSERT_EQ(result.code, 0);
  EXPECT_NE(result.out.find("gateway"), std::string::npos);
  EXPECT_NE(result.out.find("monitor"), std::string::npos);
  EXPECT_NE(result.out.find("debug"), std::string::npos);
  EXPECT_NE(result.out.find("0.1.0"), std::string::npos);
}

TEST(CliTest, ServeWithUnknownConfigKeyExits2NamingTheKeyBeforeOpeningAPort) {
  int port = FreePort();
  TempFile config("gateway:\n  listen: 127.0.0.1:" + std::to_string(port) +
                  "\n  max_header_byts: 8KiB\n");
  auto result = RunStreamgate({"serve", "--config", config.path.string()});
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.err.find("gateway.max_header_byts"), std::string::npos) << result.err;
  EXPECT_FALSE(HttpGet(port, "/healthz", "", 500ms).has_value());
}

TEST(CliTest, BadEnvironmentValueExits2NamingTheVariable) {
  auto result = RunStreamgate({"serve", "--listen", "127.0.0.1:" + std::to_string(FreePort())},
                              {{"STREAMGATE_GATEWAY__MAX_HEADER_BYTES", "lots"}});
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.err.find("STREAMGATE_GATEWAY__MAX_HEADER_BYTES"), std::string::npos)
      << result.err;
}

TEST(CliTest, UnknownPluginInSelectionExits2) {
  auto result = RunStreamgate({"serve", "--listen", "127.0.0.1:" + std::to_string(FreePort()),
                               "--plugins", "gateway,nosuch"});
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.err.find("nosuch"), std::string::npos) << result.err;
}

TEST(CliTest, MissingDependencyInSelectionExits2NamingIt) {
  auto result = RunStreamgate(
      {"serve", "--listen", "127.0.0.1:" + std::to_string(FreePort()), "--plugins", "monitor"});
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.err.find("gateway"), std::string::npos) << result.err;
}

TEST(CliTest, PortInUseExits1) {
  int port = FreePort();
  auto data = std::filesystem::temp_directory_path() / ("sg-cli-data-" + std::to_string(port));
  ChildProcess first({SG_STREAMGATE_BINARY, "serve", "--listen",
                      "127.0.0.1:" + std::to_string(port), "--data-dir", data.string()});
  ASSERT_TRUE(WaitUntilHealthy(port, 15s)) << first.Stderr();
  auto result = RunStreamgate(
      {"serve", "--listen", "127.0.0.1:" + std::to_string(port), "--data-dir", data.string()});
  EXPECT_EQ(result.code, 1);
  EXPECT_NE(result.err.find("gateway"), std::string::npos) << result.err;
  std::filesystem::remove_all(data);
}

TEST(CliTest, ConfigValidateAcceptsAGoodFileAndRejectsABadOne) {
  TempFile good("log:\n  level: warn\ngateway:\n  max_header_bytes: 32KiB\n");
  auto ok = RunStreamgate({"config", "validate", good.path.string()});
  EXPECT_EQ(ok.code, 0) << ok.err;
  TempFile bad("log:\n  level: loud\n");
  auto rejected = RunStreamgate({"config", "validate", bad.path.string()});
  EXPECT_EQ(rejected.code, 2);
  EXPECT_NE(rejected.err.find("log.level"), std::string::npos) << rejected.err;
}

TEST(CliTest, ConfigPrintShowsEffectiveValuesFromFileAndEnvironment) {
  TempFile config("gateway:\n  max_header_bytes: 32KiB\n");
  auto result = RunStreamgate({"config", "print", "--config", config.path.string()},
                              {{"STREAMGATE_LOG__LEVEL", "warn"}});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_NE(result.out.find("32KiB"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("level: warn"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("listen: 127.0.0.1:8080"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("health_interval: 10s"), std::string::npos) << result.out;
}

// Wallet and chain keys as users write them (issue 6): a list of chains in YAML or from the
// environment, checked by `config validate`, naming the element and key that is wrong.
TEST(CliTest, ConfigValidateChecksTheChainsListAndAuthKeys) {
  TempFile good(
      "auth:\n  domains: [\"streamgate.example\"]\n  creators: allowlist\n"
      "  creator_allowlist: [\"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\"]\n"
      "chains:\n  - id: \"eip155:1\"\n    rpc_urls: [\"https://a.example\", "
      "\"https://b.example\"]\n"
      "    block_tag: safe\n");
  auto ok = RunStreamgate({"config", "validate", good.path.string()});
  EXPECT_EQ(ok.code, 0) << ok.err;

  TempFile bad_url(
      "chains:\n  - id: \"eip155:1\"\n    rpc_urls: [\"https://a.example\"]\n"
      "  - id: \"eip155:137\"\n    rpc_urls: [\"ftp://b.example\"]\n");
  auto rejected = RunStreamgate({"config", "validate", bad_url.path.string()});
  EXPECT_EQ(rejected.code, 2);
  EXPECT_NE(rejected.err.find("chains[1].rpc_urls"), std::string::npos) << rejected.err;

  TempFile bad_creators("auth:\n  creators: everyone\n");
  auto wrong = RunStreamgate({"config", "validate", bad_creators.path.string()});
  EXPECT_EQ(wrong.code, 2);
  EXPECT_NE(wrong.err.find("creators"), std::string::npos) << wrong.err;

  // The environment appends a chain and sets its URLs; the URLs are secrets in print.
  auto printed = RunStreamgate({"config", "print", "--config", good.path.string()},
                               {{"STREAMGATE_CHAINS__1__ID", "eip155:137"},
                                {"STREAMGATE_CHAINS__1__RPC_URLS", "[\"https://c.example/key\"]"}});
  ASSERT_EQ(printed.code, 0) << printed.err;
  EXPECT_NE(printed.out.find("eip155:137"), std::string::npos) << printed.out;
  EXPECT_EQ(printed.out.find("c.example/key"), std::string::npos) << "RPC URLs carry API keys";
}

}  // namespace
}  // namespace sg::testing
