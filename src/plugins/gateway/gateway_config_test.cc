#include "plugins/gateway/gateway_config.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "core/config_visitors.h"

namespace sg::plugins::gateway {
namespace {

TEST(GatewayConfigTest, DefaultsAreValid) {
  GatewayConfig config;

  EXPECT_TRUE(config.Validate());
  EXPECT_EQ(config.listen, "127.0.0.1:8080");
  EXPECT_EQ(config.max_header_bytes.bytes, 16u * 1024);
  EXPECT_EQ(config.max_body_bytes.bytes, 1024u * 1024);
  EXPECT_EQ(config.rate_limit.write.rate, 20);
  EXPECT_EQ(config.rate_limit.write.burst, 40);
}

struct ListenCase {
  std::string text;
  std::string host;
  std::uint16_t port;
  // Names the case in test output instead of dumping its bytes.
  friend void PrintTo(const ListenCase& c, std::ostream* os) { *os << c.text; }
};

class ListenAddressTest : public ::testing::TestWithParam<ListenCase> {};

TEST_P(ListenAddressTest, ParsesHostAndPort) {
  auto parsed = ParseListenAddress(GetParam().text);

  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_EQ(parsed->host, GetParam().host);
  EXPECT_EQ(parsed->port, GetParam().port);
}

INSTANTIATE_TEST_SUITE_P(Valid, ListenAddressTest,
                         ::testing::Values(ListenCase{"127.0.0.1:8080", "127.0.0.1", 8080},
                                           ListenCase{"0.0.0.0:0", "0.0.0.0", 0},
                                           ListenCase{"[::1]:443", "::1", 443},
                                           ListenCase{"localhost:65535", "localhost", 65535}));

TEST(ListenAddressTest, RejectsMalformedAddresses) {
  for (const char* text : {"", "8080", "127.0.0.1", "127.0.0.1:", ":8080", "::1:80", "[::1]80",
                           "[::1]:", "host:65536", "host:-1", "host:80x"}) {
    auto parsed = ParseListenAddress(text);
    ASSERT_FALSE(parsed) << text;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument) << text;
  }
}

TEST(GatewayConfigTest, ValidationNamesTheKey) {
  GatewayConfig bad_listen;
  bad_listen.listen = "nowhere";
  GatewayConfig bad_burst;
  bad_burst.rate_limit.write.burst = 0;
  GatewayConfig bad_method;
  bad_method.cors.allowed_methods = {"GET", "PO ST"};

  auto listen = bad_listen.Validate();
  auto burst = bad_burst.Validate();
  auto method = bad_method.Validate();

  ASSERT_FALSE(listen);
  EXPECT_NE(listen.error().message.find("listen"), std::string::npos);
  ASSERT_FALSE(burst);
  EXPECT_NE(burst.error().message.find("rate_limit.write.burst"), std::string::npos);
  ASSERT_FALSE(method);
  EXPECT_NE(method.error().message.find("cors.allowed_methods"), std::string::npos);
}

TEST(GatewayConfigTest, WebUiIsOnAndEmbeddedByDefault) {
  GatewayConfig config;

  EXPECT_TRUE(config.web_ui);
  EXPECT_EQ(config.web_root, "");
}

TEST(GatewayConfigTest, WebUiKeysAreReadPrintedAndValidated) {
  GatewayConfig config;

  auto errors = core::ReadConfig(config, YAML::Load("web_ui: false\nweb_root: /srv/streamgate-web"),
                                 "gateway", nullptr);

  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_FALSE(config.web_ui);
  EXPECT_EQ(config.web_root, "/srv/streamgate-web");
  EXPECT_TRUE(config.Validate());
  YAML::Emitter out;
  out << YAML::BeginMap;
  core::ConfigPrinter printer(out, false);
  config.Visit(printer);
  out << YAML::EndMap;
  auto printed = YAML::Load(out.c_str());
  EXPECT_FALSE(printed["web_ui"].as<bool>());
  EXPECT_EQ(printed["web_root"].as<std::string>(), "/srv/streamgate-web");

  config.web_root = std::string("/srv\0x", 6);
  auto nul = config.Validate();
  ASSERT_FALSE(nul);
  EXPECT_NE(nul.error().message.find("web_root"), std::string::npos);
}

TEST(GatewayConfigTest, WebUiMustBeABoolean) {
  GatewayConfig config;

  auto errors = core::ReadConfig(config, YAML::Load("web_ui: sometimes"), "gateway", nullptr);

  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors.front().find("gateway.web_ui"), std::string::npos) << errors.front();
}

TEST(FormatHostPortTest, BracketsIpv6) {
  EXPECT_EQ(FormatHostPort("::1", 80), "[::1]:80");
  EXPECT_EQ(FormatHostPort("127.0.0.1", 80), "127.0.0.1:80");
}

}  // namespace
}  // namespace sg::plugins::gateway
