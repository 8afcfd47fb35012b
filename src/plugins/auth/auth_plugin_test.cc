#include <spdlog/sinks/ostream_sink.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/api/random.h"
#include "core/api/services/http.h"
#include "core/testing/capturing_router.h"
#include "core/testing/test_context.h"
#include "plugins/auth/api_key.h"
#include "plugins/auth/auth_config.h"
#include "plugins/auth/auth_plugin_internal.h"

namespace sg::plugins::auth {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const fs::path& path, const std::string& text, fs::perms perms) {
  std::ofstream(path) << text;
  fs::permissions(path, perms);
}

unsigned ModeOf(const fs::path& path) {
  struct stat info {};
  EXPECT_EQ(::stat(path.c_str(), &info), 0);
  return info.st_mode & 07777;
}

HttpRequest WithAuthorization(std::string value) {
  HttpRequest request;
  request.headers.emplace_back("Authorization", std::move(value));
  return request;
}

class AuthPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = fs::temp_directory_path() / ("sg-auth-test-" + RandomHex(6));
    fs::remove_all(data_dir_);
  }
  void TearDown() override { fs::remove_all(data_dir_); }

  /// Inits a fresh plugin with `config`; the log goes to log_.
  Result<> Init(AuthConfig config, std::string public_url = "http://127.0.0.1:8080") {
    context_ = std::make_unique<testing::TestPluginContext>(
        testing::TestPluginContext::MakeConfig(config));
    context_->mutable_server().data_dir = data_dir_;
    context_->mutable_server().public_url = std::move(public_url);
    auto logger = context_->logger();
    logger->sinks().push_back(std::make_shared<spdlog::sinks::ostream_sink_st>(log_));
    logger->set_level(spdlog::level::trace);
    router_ = std::make_shared<testing::CapturingRouter>();
    SG_RETURN_IF_ERROR(context_->Provide<HttpRouter>(router_));
    plugin_ = MakeAuthPlugin();
    return plugin_->Init(*context_);
  }

  std::shared_ptr<Authenticator> authenticator() {
    auto found = context_->Require<Authenticator>();
    EXPECT_TRUE(found);
    return found ? *found : nullptr;
  }

  fs::path key_path() const { return data_dir_ / "api_key"; }

  fs::path data_dir_;
  std::ostringstream log_;
  std::unique_ptr<testing::TestPluginContext> context_;
  std::unique_ptr<Plugin> plugin_;
  std::shared_ptr<testing::CapturingRouter> router_;
};

TEST_F(AuthPluginTest, InfoNamesThePluginAndItsDependencies) {
  auto plugin = MakeAuthPlugin();
  EXPECT_EQ(plugin->Info().name, "auth");
  EXPECT_EQ(plugin->Info().version, "0.2.0");
  EXPECT_EQ(plugin->Info().dependencies, (std::vector<std::string>{"gateway", "metadata"}));
  EXPECT_TRUE(plugin->Info().enabled_by_default);
}

TEST_F(AuthPluginTest, GeneratesKeyFileWithMode0600InMissingDataDir) {
  auto init = Init({});

  ASSERT_TRUE(init) << init.error().ToString();
  ASSERT_TRUE(fs::exists(key_path()));
  EXPECT_EQ(ModeOf(key_path()), 0600u);
  std::string key = ReadFile(key_path());
  ASSERT_EQ(key.size(), 65u);  // 32 bytes as hex and a newline
  key.pop_back();
  EXPECT_EQ(key.find_first_not_of("0123456789abcdef"), std::string::npos);
  auto principal = authenticator()->Authenticate(WithAuthorization("Bearer " + key));
  ASSERT_TRUE(principal) << principal.error().ToString();
  EXPECT_EQ(principal->id, "admin");
  EXPECT_TRUE(principal->HasRole("admin"));
  EXPECT_TRUE(principal->HasRole("creator"));
  // No temp files left behind: only the key, the sign-in database and the key folder.
  for (const auto& entry : fs::directory_iterator(data_dir_)) {
    std::string name = entry.path().filename().string();
    EXPECT_TRUE(name == "api_key" || name == "auth" || name.starts_with("auth.sqlite3")) << name;
  }
}

TEST_F(AuthPluginTest, SignInDomainsFollowThePublicUrlUnlessConfigured) {
  auto domains_of_nonce = [&] {
    HttpRequest request;
    request.method = "GET";
    auto reply = router_->routes.at("GET /api/v1/auth/nonce").first(request);
    EXPECT_TRUE(reply);
    return reply ? json::serialize(json::parse(reply->body).at("domains")) : "";
  };
  ASSERT_TRUE(Init({}, "http://127.0.0.1:9400"));
  EXPECT_EQ(domains_of_nonce(), R"(["127.0.0.1:9400","localhost:9400"])");
  EXPECT_NE(log_.str().find("127.0.0.1:9400, localhost:9400 (from server.public_url)"),
            std::string::npos)
      << log_.str();

  ASSERT_TRUE(Init({}, "https://video.example.com"));
  EXPECT_EQ(domains_of_nonce(), R"(["video.example.com"])");

  AuthConfig explicit_domains;
  explicit_domains.domains = {"watch.example.org"};
  ASSERT_TRUE(Init(explicit_domains, "http://127.0.0.1:9400"));
  EXPECT_EQ(domains_of_nonce(), R"(["watch.example.org"])");

  auto refused = Init({}, "");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("auth.domains: empty and server.public_url"),
            std::string::npos)
      << refused.error().message;
}

TEST_F(AuthPluginTest, ExistingKeyFileIsReusedOnTheNextInit) {
  ASSERT_TRUE(Init({}));
  std::string first = ReadFile(key_path());
  first.pop_back();

  ASSERT_TRUE(Init({}));

  EXPECT_EQ(ReadFile(key_path()), first + "\n");
  EXPECT_TRUE(authenticator()->Authenticate(WithAuthorization("Bearer " + first)));
}

TEST_F(AuthPluginTest, ConfiguredKeyWinsAndNoFileIsWritten) {
  fs::create_directories(data_dir_);
  WriteFile(key_path(), "key-from-the-file-0123456789\n",
            fs::perms::owner_read | fs::perms::owner_write);
  AuthConfig config;
  config.api_key = "configured-key-0123456789";

  ASSERT_TRUE(Init(config));

  EXPECT_TRUE(authenticator()->Authenticate(WithAuthorization("Bearer configured-key-0123456789")));
  EXPECT_FALSE(
      authenticator()->Authenticate(WithAuthorization("Bearer key-from-the-file-0123456789")));
}

TEST_F(AuthPluginTest, ConfiguredKeyFilePathIsUsed) {
  AuthConfig config;
  config.api_key_file = (data_dir_ / "secrets" / "admin.key").string();

  ASSERT_TRUE(Init(config));

  EXPECT_TRUE(fs::exists(data_dir_ / "secrets" / "admin.key"));
  EXPECT_FALSE(fs::exists(key_path()));
  EXPECT_EQ(ModeOf(data_dir_ / "secrets" / "admin.key"), 0600u);
}

TEST_F(AuthPluginTest, KeyFileReadableByOthersIsRefusedWithChmodAdvice) {
  fs::create_directories(data_dir_);
  WriteFile(key_path(), "0123456789abcdef0123456789abcdef\n",
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                fs::perms::others_read);

  auto init = Init({});

  ASSERT_FALSE(init);
  EXPECT_EQ(init.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(init.error().message.find("chmod 600"), std::string::npos) << init.error().message;
  EXPECT_NE(init.error().message.find(key_path().string()), std::string::npos);
  EXPECT_EQ(init.error().message.find("0123456789abcdef0123"), std::string::npos);
}

TEST_F(AuthPluginTest, KeyFileReadableByGroupOnlyIsRefusedToo) {
  fs::create_directories(data_dir_);
  WriteFile(key_path(), "0123456789abcdef0123456789abcdef\n",
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);

  auto init = Init({});

  ASSERT_FALSE(init);
  EXPECT_EQ(init.error().code, ErrorCode::kPermissionDenied);
}

TEST_F(AuthPluginTest, EmptyKeyFileIsRefused) {
  fs::create_directories(data_dir_);
  WriteFile(key_path(), "\n", fs::perms::owner_read | fs::perms::owner_write);

  auto init = Init({});

  ASSERT_FALSE(init);
  EXPECT_EQ(init.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(init.error().message.find("empty"), std::string::npos);
}

TEST_F(AuthPluginTest, ShortConfiguredKeyIsInvalid) {
  AuthConfig config;
  config.api_key = "short";

  auto valid = config.Validate();

  ASSERT_FALSE(valid);
  EXPECT_EQ(valid.error().message.find("short"), std::string::npos);
}

class AuthenticateTest : public ::testing::Test {
 protected:
  ApiKeyAuthenticator authenticator_{"the-right-key-0123456789"};
};

TEST_F(AuthenticateTest, MissingHeaderIsAnonymous) {
  auto principal = authenticator_.Authenticate(HttpRequest{});

  ASSERT_TRUE(principal);
  EXPECT_TRUE(principal->anonymous());
  EXPECT_TRUE(principal->roles.empty());
}

TEST_F(AuthenticateTest, SchemeIsCaseInsensitiveAndSpacesAreTolerated) {
  EXPECT_TRUE(authenticator_.Authenticate(WithAuthorization("bearer the-right-key-0123456789")));
  EXPECT_TRUE(authenticator_.Authenticate(WithAuthorization("BEARER   the-right-key-0123456789 ")));
}

TEST_F(AuthenticateTest, WrongKeyIsUnauthenticatedWithoutEchoingIt) {
  auto principal = authenticator_.Authenticate(WithAuthorization("Bearer not-the-key-xyz"));

  ASSERT_FALSE(principal);
  EXPECT_EQ(principal.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(principal.error().message.find("not-the-key-xyz"), std::string::npos);
}

TEST_F(AuthenticateTest, PrefixOfTheKeyIsRejected) {
  auto principal = authenticator_.Authenticate(WithAuthorization("Bearer the-right-key"));

  ASSERT_FALSE(principal);
  EXPECT_EQ(principal.error().code, ErrorCode::kUnauthenticated);
}

TEST_F(AuthenticateTest, OtherSchemeIsUnauthenticatedWithoutEchoingTheCredential) {
  auto principal = authenticator_.Authenticate(WithAuthorization("Basic YWRtaW46c2VjcmV0"));

  ASSERT_FALSE(principal);
  EXPECT_EQ(principal.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(principal.error().message.find("YWRtaW46c2VjcmV0"), std::string::npos);
}

TEST_F(AuthenticateTest, KeyGluedToTheSchemeIsNotBearer) {
  auto principal = authenticator_.Authenticate(WithAuthorization("Bearerthe-right-key-0123456789"));

  ASSERT_FALSE(principal);
  EXPECT_EQ(principal.error().code, ErrorCode::kUnauthenticated);
}

TEST_F(AuthenticateTest, EmptyOrBareSchemeIsUnauthenticated) {
  for (std::string value : {"", "Bearer", "Bearer   "}) {
    auto principal = authenticator_.Authenticate(WithAuthorization(value));
    ASSERT_FALSE(principal) << "'" << value << "'";
    EXPECT_EQ(principal.error().code, ErrorCode::kUnauthenticated);
  }
}

TEST_F(AuthPluginTest, KeyNeverAppearsInLogOutput) {
  ASSERT_TRUE(Init({}));
  std::string key = ReadFile(key_path());
  key.pop_back();
  ASSERT_TRUE(Init({}));  // the reuse path logs too
  (void)authenticator()->Authenticate(WithAuthorization("Bearer wrong"));
  (void)authenticator()->Authenticate(WithAuthorization("Bearer " + key));
  context_->logger()->flush();

  std::string log = log_.str();
  EXPECT_NE(log.find("admin API key is in " + key_path().string()), std::string::npos) << log;
  EXPECT_EQ(log.find(key), std::string::npos) << log;
  EXPECT_EQ(log.find(key.substr(0, 16)), std::string::npos) << log;
}

TEST_F(AuthPluginTest, ConfiguredKeyIsNotLoggedEither) {
  AuthConfig config;
  config.api_key = "configured-secret-0123456789";

  ASSERT_TRUE(Init(config));
  context_->logger()->flush();

  EXPECT_EQ(log_.str().find("configured-secret"), std::string::npos) << log_.str();
  EXPECT_NE(log_.str().find("auth.api_key"), std::string::npos) << log_.str();
}

}  // namespace
}  // namespace sg::plugins::auth
