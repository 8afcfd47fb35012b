#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/config_loader.h"
#include "core/config_visitors.h"

namespace sg::core {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

struct SampleConfig {
  std::string listen = "127.0.0.1:8080";
  bool enabled = true;
  std::int64_t workers = 4;
  double ratio = 0.5;
  std::vector<std::string> origins;
  ByteSize chunk_size{8 << 20};
  ConfigDuration timeout{30'000};
  std::string format = "json";
  std::string password = "hunter2";
  std::string cert;
  std::string key;

  void Visit(ConfigVisitor& v) {
    v.Field("listen", listen, {.doc = "address:port"});
    v.Field("enabled", enabled, {});
    v.Field("workers", workers, {.doc = "threads", .min = 1, .max = 64});
    v.Field("ratio", ratio, {.doc = "share", .min = 0, .max = 1});
    v.Field("origins", origins, {});
    v.Field("chunk_size", chunk_size, {.doc = "chunk size", .min = 1 << 20, .max = 64 << 20});
    v.Field("timeout", timeout,
            {.doc = "timeout", .reloadable = true, .min = 1000, .max = 600'000});
    v.Field("format", format, {.doc = "format", .choices = {"json", "text"}});
    v.Field("password", password, {.doc = "password", .secret = true});
    v.Section("tls", "certificate files", [this](ConfigVisitor& s) {
      s.Field("cert", cert, {});
      s.Field("key", key, {.doc = "key file", .secret = true});
    });
  }
};

// Reads `yaml` as the `upload` section.
std::vector<std::string> Read(SampleConfig& config, const std::string& yaml,
                              const ConfigOrigins* origins = nullptr) {
  return ReadConfig(config, YAML::Load(yaml), "upload", origins);
}

std::string ReadOneError(const std::string& yaml) {
  SampleConfig config;
  std::vector<std::string> errors = Read(config, yaml);
  EXPECT_THAT(errors, SizeIs(1)) << yaml;
  return errors.empty() ? std::string() : errors.front();
}

// ---- sizes and durations ------------------------------------------------------------------

struct SizeCase {
  const char* text;
  std::uint64_t bytes;
  // Names the case in test output instead of dumping its bytes.
  friend void PrintTo(const SizeCase& c, std::ostream* os) { *os << c.text; }
};

class ByteSizeParseTest : public ::testing::TestWithParam<SizeCase> {};

TEST_P(ByteSizeParseTest, ParsesUnits) {
  auto parsed = ParseByteSize(GetParam().text);

  ASSERT_TRUE(parsed) << GetParam().text << ": " << parsed.error().message;
  EXPECT_EQ(parsed->bytes, GetParam().bytes) << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ByteSizeParseTest,
    ::testing::Values(SizeCase{"8MiB", 8ULL << 20}, SizeCase{"8 MiB", 8ULL << 20},
                      SizeCase{"512KiB", 512ULL << 10}, SizeCase{"1GiB", 1ULL << 30},
                      SizeCase{"2TiB", 2ULL << 40}, SizeCase{"1GB", 1000000000ULL},
                      SizeCase{"1KB", 1000ULL}, SizeCase{"3MB", 3000000ULL}, SizeCase{"10B", 10ULL},
                      SizeCase{"123", 123ULL}, SizeCase{"0", 0ULL}, SizeCase{"1kib", 1024ULL},
                      SizeCase{"1MIB", 1ULL << 20}, SizeCase{"1.5KiB", 1536ULL},
                      SizeCase{"15TiB", 15ULL << 40}));

TEST(ByteSizeTest, RejectsMalformedNegativeAndOverflowingSizes) {
  for (const char* text : {"abc", "", "KiB", "1.", "1XB", "1 K B", "-1KiB", "-5", "99999999999GiB",
                           "18446744073709551616", "1e3"}) {
    auto parsed = ParseByteSize(text);
    EXPECT_FALSE(parsed) << text;
  }
}

TEST(ByteSizeTest, FormatIsExactAndReparsable) {
  EXPECT_EQ(FormatByteSize(ByteSize{16 << 10}), "16KiB");
  EXPECT_EQ(FormatByteSize(ByteSize{8 << 20}), "8MiB");
  EXPECT_EQ(FormatByteSize(ByteSize{1000000000}), "1GB");
  EXPECT_EQ(FormatByteSize(ByteSize{1500}), "1500B");
  EXPECT_EQ(FormatByteSize(ByteSize{0}), "0B");
  EXPECT_EQ(FormatByteSize(ByteSize{512 << 10}, true), "512 KiB");
  for (std::uint64_t bytes : {1ULL, 1000ULL, 1024ULL, 1536ULL, 3ULL << 30, 123456789ULL}) {
    auto reparsed = ParseByteSize(FormatByteSize(ByteSize{bytes}));
    ASSERT_TRUE(reparsed) << bytes;
    EXPECT_EQ(reparsed->bytes, bytes);
  }
}

struct DurationCase {
  const char* text;
  std::int64_t ms;
  // Names the case in test output instead of dumping its bytes.
  friend void PrintTo(const DurationCase& c, std::ostream* os) { *os << c.text; }
};

class DurationParseTest : public ::testing::TestWithParam<DurationCase> {};

TEST_P(DurationParseTest, ParsesUnits) {
  auto parsed = ParseConfigDuration(GetParam().text);

  ASSERT_TRUE(parsed) << GetParam().text << ": " << parsed.error().message;
  EXPECT_EQ(parsed->count(), GetParam().ms) << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(
    Table, DurationParseTest,
    ::testing::Values(DurationCase{"500ms", 500}, DurationCase{"30s", 30'000},
                      DurationCase{"5m", 300'000}, DurationCase{"2h", 7'200'000},
                      DurationCase{"1d", 86'400'000}, DurationCase{"10", 10'000},
                      DurationCase{"1.5s", 1'500}, DurationCase{"0.25", 250}, DurationCase{"0", 0},
                      DurationCase{"30 s", 30'000}, DurationCase{"2H", 7'200'000}));

TEST(DurationTest, RejectsMalformedAndNegativeDurations) {
  for (const char* text :
       {"abc", "", "-1s", "-0.5", "5 parsecs", "1w", "s", "1.s", "99999999999999999999d"}) {
    EXPECT_FALSE(ParseConfigDuration(text)) << text;
  }
}

TEST(DurationTest, FormatUsesTheLargestExactUnit) {
  EXPECT_EQ(FormatConfigDuration(ConfigDuration(30'000)), "30s");
  EXPECT_EQ(FormatConfigDuration(ConfigDuration(500)), "500ms");
  EXPECT_EQ(FormatConfigDuration(ConfigDuration(300'000)), "5m");
  EXPECT_EQ(FormatConfigDuration(ConfigDuration(90'000)), "90s");
  EXPECT_EQ(FormatConfigDuration(ConfigDuration(86'400'000)), "1d");
  EXPECT_EQ(FormatConfigDuration(ConfigDuration(0)), "0s");
}

// ---- the reader -----------------------------------------------------------------------------

TEST(ConfigReaderTest, AbsentKeysKeepDefaults) {
  SampleConfig config;

  EXPECT_THAT(Read(config, "{}"), IsEmpty());

  EXPECT_EQ(config.listen, "127.0.0.1:8080");
  EXPECT_EQ(config.chunk_size.bytes, 8u << 20);
  EXPECT_EQ(config.timeout.count(), 30'000);
}

TEST(ConfigReaderTest, EmptySectionMeansDefaults) {
  SampleConfig config;

  EXPECT_THAT(ReadConfig(config, YAML::Load("upload:")["upload"], "upload", nullptr), IsEmpty());
  EXPECT_THAT(Read(config, "tls:"), IsEmpty());
}

TEST(ConfigReaderTest, ReadsEveryType) {
  SampleConfig config;

  auto errors = Read(config, R"(
listen: 0.0.0.0:9000
enabled: no
workers: 8
ratio: 0.25
origins: [https://a.example, "https://b.example"]
chunk_size: 16 MiB
timeout: 1.5s
format: text
password: s3cret
tls:
  cert: /etc/cert.pem
  key: /etc/key.pem
)");

  EXPECT_THAT(errors, IsEmpty());
  EXPECT_EQ(config.listen, "0.0.0.0:9000");
  EXPECT_FALSE(config.enabled);
  EXPECT_EQ(config.workers, 8);
  EXPECT_DOUBLE_EQ(config.ratio, 0.25);
  EXPECT_THAT(config.origins, ElementsAre("https://a.example", "https://b.example"));
  EXPECT_EQ(config.chunk_size.bytes, 16u << 20);
  EXPECT_EQ(config.timeout.count(), 1500);
  EXPECT_EQ(config.format, "text");
  EXPECT_EQ(config.password, "s3cret");
  EXPECT_EQ(config.cert, "/etc/cert.pem");
  EXPECT_EQ(config.key, "/etc/key.pem");
}

struct ErrorCase {
  const char* name;
  // Names the case in test output instead of dumping its bytes.
  friend void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }
  const char* yaml;
  const char* error;
};

class ConfigReaderErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigReaderErrorTest, ReportsTheProblemWithItsPath) {
  EXPECT_EQ(ReadOneError(GetParam().yaml), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ConfigReaderErrorTest,
    ::testing::Values(
        ErrorCase{"SizeBelowMinimum", "chunk_size: 512KiB",
                  "upload.chunk_size: must be between 1 MiB and 64 MiB, got 512 KiB"},
        ErrorCase{"SizeNotASize", "chunk_size: abc",
                  "upload.chunk_size: expected a size such as 16KiB, 8MiB or 1GB, got \"abc\""},
        ErrorCase{"NegativeSize", "chunk_size: -1MiB",
                  "upload.chunk_size: a size must not be negative, got \"-1MiB\""},
        ErrorCase{"DurationAboveMaximum", "timeout: 15m",
                  "upload.timeout: must be between 1s and 10m, got 15m"},
        ErrorCase{"NegativeDuration", "timeout: -5s",
                  "upload.timeout: a duration must not be negative, got \"-5s\""},
        ErrorCase{"IntegerAboveMaximum", "workers: 65",
                  "upload.workers: must be between 1 and 64, got 65"},
        ErrorCase{"IntegerWithFraction", "workers: 1.5",
                  "upload.workers: expected a whole number, got \"1.5\""},
        ErrorCase{"IntegerNotANumber", "workers: many",
                  "upload.workers: expected an integer, got \"many\""},
        ErrorCase{"IntegerOverflow", "workers: 99999999999999999999",
                  "upload.workers: integer out of range, got \"99999999999999999999\""},
        ErrorCase{"DoubleNotANumber", "ratio: half",
                  "upload.ratio: expected a number, got \"half\""},
        ErrorCase{"DoubleAboveMaximum", "ratio: 1.5",
                  "upload.ratio: must be between 0 and 1, got 1.5"},
        ErrorCase{"BoolNotABool", "enabled: maybe",
                  "upload.enabled: expected true or false, got \"maybe\""},
        ErrorCase{"StringGivenList", "listen: [a, b]",
                  "upload.listen: expected a string, got a list"},
        ErrorCase{"ListGivenScalar", "origins: https://a.example",
                  "upload.origins: expected a list such as [a, b], got \"https://a.example\""},
        ErrorCase{"ListItemNotAString", "origins: [a, {b: c}]",
                  "upload.origins[1]: expected a string, got a mapping"},
        ErrorCase{"NotAChoice", "format: xml",
                  "upload.format: must be one of json, text, got \"xml\""},
        ErrorCase{"NullValue",
                  "listen:", "upload.listen: expected a value (the key is present but empty)"},
        ErrorCase{"UnknownKey", "listne: x",
                  "upload.listne: unknown key (known: listen, enabled, workers, ratio, origins, "
                  "chunk_size, timeout, format, password, tls)"},
        ErrorCase{"UnknownNestedKey", "tls: {crt: x}",
                  "upload.tls.crt: unknown key (known: cert, key)"},
        ErrorCase{"SectionNotAMapping", "tls: yes",
                  "upload.tls: expected a mapping of keys, got \"yes\""}),
    [](const ::testing::TestParamInfo<ErrorCase>& param_info) { return param_info.param.name; });

TEST(ConfigReaderTest, SectionThatIsNotAMappingIsAnError) {
  SampleConfig config;

  auto errors = ReadConfig(config, YAML::Load("[1, 2]"), "upload", nullptr);

  EXPECT_THAT(errors, ElementsAre("upload: expected a mapping of keys, got a list"));
}

TEST(ConfigReaderTest, EveryProblemIsReportedAndBadValuesKeepDefaults) {
  SampleConfig config;

  auto errors = Read(config, "workers: 0\nchunk_size: huge\nlisten: 0.0.0.0:1\nbogus: 1\n");

  EXPECT_THAT(errors, SizeIs(3));
  EXPECT_EQ(config.workers, 4);
  EXPECT_EQ(config.chunk_size.bytes, 8u << 20);
}

TEST(ConfigReaderTest, SecretValuesAreNotEchoedInErrors) {
  struct SecretChoice {
    std::string mode = "a";
    void Visit(ConfigVisitor& v) {
      v.Field("mode", mode, {.doc = "mode", .secret = true, .choices = {"a"}});
    }
  } config;

  auto errors = ReadConfig(config, YAML::Load("mode: topsecret"), "x", nullptr);

  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_THAT(errors[0], Not(HasSubstr("topsecret")));
}

TEST(ConfigReaderTest, ErrorsNameTheOriginOfTheValue) {
  SampleConfig config;
  ConfigOrigins origins = {{"upload.chunk_size", "env STREAMGATE_UPLOAD__CHUNK_SIZE"}};

  auto errors = Read(config, "chunk_size: abc", &origins);

  EXPECT_THAT(errors, ElementsAre("upload.chunk_size (from env STREAMGATE_UPLOAD__CHUNK_SIZE): "
                                  "expected a size such as 16KiB, 8MiB or 1GB, got \"abc\""));
}

// ---- the loader -------------------------------------------------------------------------------

class ConfigLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sg_config_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path WriteFile(const std::string& contents) {
    std::filesystem::path path = dir_ / "streamgate.yaml";
    std::ofstream(path) << contents;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(ConfigLoaderTest, LaterSourcesOverrideEarlierOnes) {
  ConfigSources sources;
  sources.file = WriteFile("upload:\n  listen: from-file\n  workers: 2\n  format: text\n");
  sources.environment = {{"STREAMGATE_UPLOAD__LISTEN", "from-env"},
                         {"STREAMGATE_UPLOAD__WORKERS", "3"}};
  sources.flags = {{"upload.listen", "from-flag"}};

  auto tree = LoadConfigTree(sources);

  ASSERT_TRUE(tree) << tree.error().message;
  SampleConfig config;
  EXPECT_THAT(ReadConfig(config, tree->root["upload"], "upload", &tree->origins), IsEmpty());
  EXPECT_EQ(config.listen, "from-flag");
  EXPECT_EQ(config.workers, 3);
  EXPECT_EQ(config.format, "text");
  EXPECT_EQ(tree->origins.at("upload.listen"), "flag");
  EXPECT_EQ(tree->origins.at("upload.workers"), "env STREAMGATE_UPLOAD__WORKERS");
  EXPECT_EQ(tree->origins.at("upload.format"), "file " + sources.file->string());
}

TEST_F(ConfigLoaderTest, BadEnvironmentValueNamesTheVariable) {
  ConfigSources sources;
  sources.environment = {{"STREAMGATE_UPLOAD__CHUNK_SIZE", "abc"}};
  auto tree = LoadConfigTree(sources);
  ASSERT_TRUE(tree);
  SampleConfig config;

  auto errors = ReadConfig(config, tree->root["upload"], "upload", &tree->origins);

  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_THAT(errors[0], HasSubstr("upload.chunk_size (from env STREAMGATE_UPLOAD__CHUNK_SIZE)"));
  EXPECT_THAT(errors[0], HasSubstr("got \"abc\""));
}

TEST_F(ConfigLoaderTest, EnvironmentValuesAreYaml) {
  ConfigSources sources;
  sources.environment = {{"STREAMGATE_UPLOAD__ORIGINS", "[https://a.example, b]"},
                         {"streamgate_upload__tls__cert", "/c.pem"},
                         {"STREAMGATE_UPLOAD__LISTEN", "0.0.0.0:8080"}};

  auto tree = LoadConfigTree(sources);

  ASSERT_TRUE(tree) << tree.error().message;
  SampleConfig config;
  EXPECT_THAT(ReadConfig(config, tree->root["upload"], "upload", &tree->origins), IsEmpty());
  EXPECT_THAT(config.origins, ElementsAre("https://a.example", "b"));
  EXPECT_EQ(config.cert, "/c.pem");
  EXPECT_EQ(config.listen, "0.0.0.0:8080");
}

TEST_F(ConfigLoaderTest, UnrelatedVariablesAreIgnored) {
  ConfigSources sources;
  sources.environment = {
      {"PATH", "/usr/bin"}, {"STREAMGATE_CONFIG", "/etc/x.yaml"}, {"OTHER_A__B", "1"}};

  auto tree = LoadConfigTree(sources);

  ASSERT_TRUE(tree);
  EXPECT_EQ(tree->root.size(), 0u);
  EXPECT_TRUE(tree->origins.empty());
}

TEST_F(ConfigLoaderTest, InvalidYamlInTheEnvironmentNamesTheVariable) {
  ConfigSources sources;
  sources.environment = {{"STREAMGATE_UPLOAD__ORIGINS", "[a, b"}};

  auto tree = LoadConfigTree(sources);

  ASSERT_FALSE(tree);
  EXPECT_EQ(tree.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(tree.error().message, HasSubstr("STREAMGATE_UPLOAD__ORIGINS"));
}

TEST_F(ConfigLoaderTest, UnknownKeyFromEnvironmentNamesTheVariable) {
  ConfigSources sources;
  sources.environment = {{"STREAMGATE_UPLOAD__LISTNE", "x"}};
  auto tree = LoadConfigTree(sources);
  ASSERT_TRUE(tree);
  SampleConfig config;

  auto errors = ReadConfig(config, tree->root["upload"], "upload", &tree->origins);

  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_THAT(errors[0], HasSubstr("upload.listne (from env STREAMGATE_UPLOAD__LISTNE): unknown"));
}

TEST_F(ConfigLoaderTest, ParseErrorNamesFileAndLine) {
  ConfigSources sources;
  sources.file = WriteFile("upload:\n  listen: a\n  origins: [a, b\n");

  auto tree = LoadConfigTree(sources);

  ASSERT_FALSE(tree);
  EXPECT_THAT(tree.error().message, HasSubstr(sources.file->string()));
  EXPECT_THAT(tree.error().message, HasSubstr("line "));
}

TEST_F(ConfigLoaderTest, TopLevelMustBeAMapping) {
  ConfigSources sources;
  sources.file = WriteFile("- a\n- b\n");

  auto tree = LoadConfigTree(sources);

  ASSERT_FALSE(tree);
  EXPECT_THAT(tree.error().message, HasSubstr("mapping"));
}

TEST_F(ConfigLoaderTest, EmptyFileIsAnEmptyConfig) {
  ConfigSources sources;
  sources.file = WriteFile("# nothing here\n");

  auto tree = LoadConfigTree(sources);

  ASSERT_TRUE(tree);
  EXPECT_TRUE(tree->root.IsMap());
}

TEST_F(ConfigLoaderTest, MissingFileIsAnErrorNamingIt) {
  ConfigSources sources;
  sources.file = dir_ / "absent.yaml";

  auto tree = LoadConfigTree(sources);

  ASSERT_FALSE(tree);
  EXPECT_THAT(tree.error().message, HasSubstr("absent.yaml"));
}

TEST_F(ConfigLoaderTest, OverrideReplacesAScalarParentAndSectionOriginsCoverChildren) {
  ConfigSources sources;
  sources.file = WriteFile("upload: 5\n");
  sources.environment = {{"STREAMGATE_UPLOAD__TLS", "{cert: 1, crt: 2}"}};

  auto tree = LoadConfigTree(sources);

  ASSERT_TRUE(tree) << tree.error().message;
  SampleConfig config;
  auto errors = ReadConfig(config, tree->root["upload"], "upload", &tree->origins);
  EXPECT_THAT(errors, ElementsAre(HasSubstr("upload.tls.crt (from env STREAMGATE_UPLOAD__TLS)")));
  EXPECT_EQ(config.cert, "1");
}

TEST_F(ConfigLoaderTest, MalformedFlagPathIsRejected) {
  ConfigSources sources;
  sources.flags = {{"upload..listen", "x"}};

  EXPECT_FALSE(LoadConfigTree(sources));
}

TEST(CurrentEnvironmentTest, ReadsTheProcessEnvironment) {
  ::setenv("SG_CONFIG_TEST_VARIABLE", "a=b", 1);

  auto environment = CurrentEnvironment();

  ::unsetenv("SG_CONFIG_TEST_VARIABLE");
  EXPECT_EQ(environment["SG_CONFIG_TEST_VARIABLE"], "a=b");
}

// ---- printer, flattener, copier -----------------------------------------------------------------

TEST(ConfigPrinterTest, PrintsEveryKeyWithSecretsRedacted) {
  SampleConfig config;
  config.key = "private-key-material";
  YAML::Emitter out;
  ConfigPrinter printer(out);

  out << YAML::BeginMap;
  config.Visit(printer);
  out << YAML::EndMap;

  std::string text = out.c_str();
  EXPECT_THAT(text, Not(HasSubstr("hunter2")));
  EXPECT_THAT(text, Not(HasSubstr("private-key-material")));
  YAML::Node printed = YAML::Load(text);
  EXPECT_EQ(printed["password"].as<std::string>(), "<redacted>");
  EXPECT_EQ(printed["tls"]["key"].as<std::string>(), "<redacted>");
  EXPECT_EQ(printed["chunk_size"].as<std::string>(), "8MiB");
  EXPECT_EQ(printed["timeout"].as<std::string>(), "30s");
  EXPECT_EQ(printed["workers"].as<std::int64_t>(), 4);
  EXPECT_EQ(printed["ratio"].as<std::string>(), "0.5");
  EXPECT_TRUE(printed["origins"].IsSequence());
  EXPECT_THAT(text, HasSubstr("# chunk size"));
}

TEST(ConfigPrinterTest, PrintedConfigReadsBackToTheSameValues) {
  SampleConfig original;
  original.chunk_size = ByteSize{3 << 20};
  original.timeout = ConfigDuration(1500);
  original.origins = {"a", "b c"};
  original.ratio = 0.1;
  YAML::Emitter out;
  ConfigPrinter printer(out, /*with_docs=*/false);
  out << YAML::BeginMap;
  original.Visit(printer);
  out << YAML::EndMap;

  SampleConfig reread;
  YAML::Node node = YAML::Load(out.c_str());
  node["password"] = "hunter2";
  node["tls"]["key"] = "";
  EXPECT_THAT(ReadConfig(reread, node, "upload", nullptr), IsEmpty());

  EXPECT_EQ(reread.chunk_size, original.chunk_size);
  EXPECT_EQ(reread.timeout, original.timeout);
  EXPECT_EQ(reread.origins, original.origins);
  EXPECT_EQ(reread.ratio, original.ratio);
}

TEST(ConfigFlattenerTest, ListsDottedPathsWithFlags) {
  SampleConfig config;

  std::vector<FlatField> fields = FlattenConfig(config, "upload");

  ASSERT_THAT(fields, SizeIs(11));
  EXPECT_EQ(fields[0].path, "upload.listen");
  EXPECT_EQ(fields[0].value, "127.0.0.1:8080");
  EXPECT_EQ(fields[5].value, "8MiB");
  EXPECT_EQ(fields[6].path, "upload.timeout");
  EXPECT_TRUE(fields[6].reloadable);
  EXPECT_FALSE(fields[0].reloadable);
  EXPECT_TRUE(fields[8].secret);
  EXPECT_EQ(fields[10].path, "upload.tls.key");
}

TEST(CopyNonReloadableTest, KeepsRunningValuesOfKeysThatNeedARestart) {
  SampleConfig running;
  SampleConfig fresh;
  fresh.listen = "0.0.0.0:1";
  fresh.timeout = ConfigDuration(5000);
  fresh.cert = "/new.pem";

  CopyNonReloadable(running, fresh);

  EXPECT_EQ(fresh.listen, running.listen);
  EXPECT_EQ(fresh.cert, running.cert);
  EXPECT_EQ(fresh.timeout.count(), 5000);
}

// ---- lists of structs ---------------------------------------------------------------------------

struct ChainEntry {
  std::string id;
  std::vector<std::string> rpc_urls;
  std::string block_tag = "latest";
  ConfigDuration timeout{5000};
  std::string key;

  void Visit(ConfigVisitor& v) {
    v.Field("id", id, {.doc = "CAIP-2 id"});
    v.Field("rpc_urls", rpc_urls, {.doc = "endpoints"});
    v.Field("block_tag", block_tag, {.doc = "tag", .choices = {"latest", "safe", "finalized"}});
    v.Field("timeout", timeout, {.doc = "per request", .reloadable = true, .min = 1});
    v.Field("key", key, {.doc = "api key", .secret = true});
  }
};

// A plugin whose whole section is a list (`chains: [...]`).
struct ChainsConfig {
  std::vector<ChainEntry> chains;
  void Visit(ConfigVisitor& v) { v.List("", "configured chains", chains); }
};

// A list under a key, next to other fields.
struct NestedListConfig {
  std::string name = "n";
  std::vector<ChainEntry> chains = {ChainEntry{.id = "default"}};
  void Visit(ConfigVisitor& v) {
    v.Field("name", name, {});
    v.List("chains", "the chains", chains);
  }
};

TEST(ConfigListTest, ReadsAWholeSectionThatIsAList) {
  ChainsConfig config;

  auto errors = ReadConfig(config, YAML::Load(R"(
- id: "eip155:1"
  rpc_urls: [https://a.example, https://b.example]
  block_tag: safe
- id: "eip155:5"
  rpc_urls: [http://127.0.0.1:8545]
)"),
                           "chains", nullptr);

  EXPECT_THAT(errors, IsEmpty());
  ASSERT_THAT(config.chains, SizeIs(2));
  EXPECT_EQ(config.chains[0].id, "eip155:1");
  EXPECT_THAT(config.chains[0].rpc_urls, ElementsAre("https://a.example", "https://b.example"));
  EXPECT_EQ(config.chains[0].block_tag, "safe");
  EXPECT_EQ(config.chains[1].id, "eip155:5");
  EXPECT_EQ(config.chains[1].block_tag, "latest");
}

TEST(ConfigListTest, AbsentOrEmptySectionKeepsTheDefaultList) {
  NestedListConfig config;

  EXPECT_THAT(ReadConfig(config, YAML::Load("name: x"), "p", nullptr), IsEmpty());
  EXPECT_THAT(ReadConfig(config, YAML::Load("chains:"), "p", nullptr), IsEmpty());
  ChainsConfig whole;
  EXPECT_THAT(ReadConfig(whole, YAML::Node(), "chains", nullptr), IsEmpty());

  ASSERT_THAT(config.chains, SizeIs(1));
  EXPECT_EQ(config.chains[0].id, "default");
  EXPECT_THAT(whole.chains, IsEmpty());
}

TEST(ConfigListTest, AListFromConfigReplacesTheDefaultsWithFreshElements) {
  NestedListConfig config;
  config.chains[0].block_tag = "finalized";

  auto errors = ReadConfig(config, YAML::Load("chains: [{id: a}, {id: b}]"), "p", nullptr);

  EXPECT_THAT(errors, IsEmpty());
  ASSERT_THAT(config.chains, SizeIs(2));
  EXPECT_EQ(config.chains[0].id, "a");
  EXPECT_EQ(config.chains[0].block_tag, "latest");
}

TEST(ConfigListTest, ErrorsNameTheElementIndex) {
  ChainsConfig config;

  auto errors = ReadConfig(config, YAML::Load(R"(
- id: "eip155:1"
- id: "eip155:5"
  rpc_urls: https://not-a-list.example
  block_tag: pending
  colour: red
- just a string
)"),
                           "chains", nullptr);

  EXPECT_THAT(errors,
              ElementsAre("chains[1].rpc_urls: expected a list such as [a, b], got "
                          "\"https://not-a-list.example\"",
                          "chains[1].block_tag: must be one of latest, safe, finalized, got "
                          "\"pending\"",
                          "chains[1].colour: unknown key (known: id, rpc_urls, block_tag, "
                          "timeout, key)",
                          "chains[2]: expected a mapping of keys, got \"just a string\""));
}

TEST(ConfigListTest, NestedListErrorsNameTheFullPath) {
  NestedListConfig config;

  auto errors =
      ReadConfig(config, YAML::Load("chains: [{id: a, rpc_urls: [x, [y]]}]"), "p", nullptr);

  EXPECT_THAT(errors, ElementsAre("p.chains[0].rpc_urls[1]: expected a string, got a list"));
}

TEST(ConfigListTest, ListGivenSomethingElseIsAnError) {
  NestedListConfig nested;
  ChainsConfig whole;

  auto nested_errors = ReadConfig(nested, YAML::Load("chains: {id: a}"), "p", nullptr);
  auto whole_errors = ReadConfig(whole, YAML::Load("id: a\nrpc_urls: [x]"), "chains", nullptr);

  EXPECT_THAT(nested_errors,
              ElementsAre("p.chains: expected a list of mappings such as [{...}, {...}], got a "
                          "mapping"));
  // One error for the shape, not one "unknown key" per key of the mapping.
  EXPECT_THAT(whole_errors,
              ElementsAre("chains: expected a list of mappings such as [{...}, {...}], got a "
                          "mapping"));
}

TEST(ConfigListTest, ErrorsNameTheOriginOfAnElement) {
  ChainsConfig config;
  ConfigOrigins origins = {{"chains[0]", "env STREAMGATE_CHAINS__0"}};

  auto errors = ReadConfig(config, YAML::Load("[{id: a, block_tag: soon}]"), "chains", &origins);

  EXPECT_THAT(errors, ElementsAre("chains[0].block_tag (from env STREAMGATE_CHAINS__0): must be "
                                  "one of latest, safe, finalized, got \"soon\""));
}

TEST_F(ConfigLoaderTest, EnvironmentOverridesIndexListElements) {
  ConfigSources sources;
  sources.file = WriteFile(R"(
chains:
  - id: "eip155:1"
    rpc_urls: [https://file.example]
)");
  sources.environment = {
      {"STREAMGATE_CHAINS__0__RPC_URLS", "[https://env-a.example, https://env-b.example]"},
      {"STREAMGATE_CHAINS__1__ID", "eip155:5"},
      {"STREAMGATE_CHAINS__1__BLOCK_TAG", "finalized"}};

  auto tree = LoadConfigTree(sources);

  ASSERT_TRUE(tree) << tree.error().message;
  ChainsConfig config;
  EXPECT_THAT(ReadConfig(config, tree->root["chains"], "chains", &tree->origins), IsEmpty());
  ASSERT_THAT(config.chains, SizeIs(2));
  EXPECT_EQ(config.chains[0].id, "eip155:1");
  EXPECT_THAT(config.chains[0].rpc_urls,
              ElementsAre("https://env-a.example", "https://env-b.example"));
  EXPECT_EQ(config.chains[1].id, "eip155:5");
  EXPECT_EQ(config.chains[1].block_tag, "finalized");
  EXPECT_EQ(tree->origins.at("chains[0].rpc_urls"), "env STREAMGATE_CHAINS__0__RPC_URLS");
  EXPECT_EQ(tree->origins.at("chains[0].id"), "file " + sources.file->string());
}

TEST_F(ConfigLoaderTest, EnvironmentCanBuildAListWithoutAFileInNumericOrder) {
  ConfigSources sources;
  for (int i = 0; i <= 10; ++i) {
    sources.environment[fmt::format("STREAMGATE_CHAINS__{}__ID", i)] = fmt::format("c{}", i);
  }

  auto tree = LoadConfigTree(sources);

  ASSERT_TRUE(tree) << tree.error().message;
  ChainsConfig config;
  EXPECT_THAT(ReadConfig(config, tree->root["chains"], "chains", &tree->origins), IsEmpty());
  ASSERT_THAT(config.chains, SizeIs(11));
  EXPECT_EQ(config.chains[2].id, "c2");
  EXPECT_EQ(config.chains[10].id, "c10");
}

TEST_F(ConfigLoaderTest, EnvironmentReplacesAWholeElementAndNamesItInErrors) {
  ConfigSources sources;
  sources.environment = {{"STREAMGATE_CHAINS__0", "{id: a, colour: red}"}};
  auto tree = LoadConfigTree(sources);
  ASSERT_TRUE(tree) << tree.error().message;
  ChainsConfig config;

  auto errors = ReadConfig(config, tree->root["chains"], "chains", &tree->origins);

  EXPECT_THAT(errors, ElementsAre(HasSubstr("chains[0].colour (from env STREAMGATE_CHAINS__0): "
                                            "unknown key")));
}

TEST_F(ConfigLoaderTest, EnvironmentIndexThatSkipsElementsIsAnError) {
  ConfigSources sources;
  sources.file = WriteFile("chains:\n  - id: a\n");
  sources.environment = {{"STREAMGATE_CHAINS__2__ID", "c"}};

  auto tree = LoadConfigTree(sources);

  ASSERT_FALSE(tree);
  EXPECT_EQ(tree.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(tree.error().message, HasSubstr("env STREAMGATE_CHAINS__2__ID: index 2 skips"));
  EXPECT_THAT(tree.error().message, HasSubstr("chains has 1"));
}

TEST_F(ConfigLoaderTest, FlagsIndexListElementsToo) {
  ConfigSources sources;
  sources.file = WriteFile("chains:\n  - id: a\n");
  sources.flags = {{"chains.0.block_tag", "safe"}};

  auto tree = LoadConfigTree(sources);

  ASSERT_TRUE(tree) << tree.error().message;
  ChainsConfig config;
  EXPECT_THAT(ReadConfig(config, tree->root["chains"], "chains", &tree->origins), IsEmpty());
  ASSERT_THAT(config.chains, SizeIs(1));
  EXPECT_EQ(config.chains[0].block_tag, "safe");
}

TEST(ConfigListTest, PrinterPrintsAListSectionAsAListThatReadsBack) {
  ChainsConfig original;
  original.chains = {ChainEntry{.id = "eip155:1",
                                .rpc_urls = {"https://a", "https://b"},
                                .block_tag = "safe",
                                .key = "api-key-secret"},
                     ChainEntry{.id = "eip155:5"}};
  YAML::Emitter out;
  ConfigPrinter printer(out);

  out << YAML::BeginMap;
  printer.Section("chains", "configured chains",
                  [&original](ConfigVisitor& v) { original.Visit(v); });
  out << YAML::EndMap;

  std::string text = out.c_str();
  EXPECT_THAT(text, Not(HasSubstr("api-key-secret")));
  EXPECT_THAT(text, HasSubstr("# CAIP-2 id"));
  YAML::Node printed = YAML::Load(text);
  ASSERT_TRUE(printed["chains"].IsSequence()) << text;
  EXPECT_EQ(printed["chains"][0]["key"].as<std::string>(), "<redacted>");
  printed["chains"][0]["key"] = "";
  printed["chains"][1]["key"] = "";
  ChainsConfig reread;
  EXPECT_THAT(ReadConfig(reread, printed["chains"], "chains", nullptr), IsEmpty());
  ASSERT_THAT(reread.chains, SizeIs(2));
  EXPECT_EQ(reread.chains[0].id, "eip155:1");
  EXPECT_EQ(reread.chains[0].rpc_urls, original.chains[0].rpc_urls);
  EXPECT_EQ(reread.chains[0].block_tag, "safe");
  EXPECT_EQ(reread.chains[1].timeout, original.chains[1].timeout);
}

TEST(ConfigListTest, PrinterPrintsEmptyListsAndNestedLists) {
  ChainsConfig empty;
  NestedListConfig nested;
  YAML::Emitter out;
  ConfigPrinter printer(out);

  out << YAML::BeginMap;
  printer.Section("chains", "none", [&empty](ConfigVisitor& v) { empty.Visit(v); });
  printer.Section("p", "nested", [&nested](ConfigVisitor& v) { nested.Visit(v); });
  out << YAML::EndMap;

  YAML::Node printed = YAML::Load(out.c_str());
  EXPECT_TRUE(printed["chains"].IsSequence()) << out.c_str();
  EXPECT_EQ(printed["chains"].size(), 0u);
  EXPECT_EQ(printed["p"]["name"].as<std::string>(), "n");
  ASSERT_TRUE(printed["p"]["chains"].IsSequence()) << out.c_str();
  EXPECT_EQ(printed["p"]["chains"][0]["id"].as<std::string>(), "default");
}

TEST(ConfigListTest, FlattenerNamesElementsAndTheLength) {
  ChainsConfig config;
  config.chains = {ChainEntry{.id = "a"}, ChainEntry{.id = "b"}};

  std::vector<FlatField> fields = FlattenConfig(config, "chains");

  ASSERT_THAT(fields, SizeIs(11));
  EXPECT_EQ(fields[0].path, "chains");
  EXPECT_EQ(fields[0].value, "[2 items]");
  EXPECT_FALSE(fields[0].reloadable);
  EXPECT_EQ(fields[1].path, "chains[0].id");
  EXPECT_EQ(fields[6].path, "chains[1].id");
  EXPECT_EQ(fields[6].value, "b");
  EXPECT_TRUE(fields[4].reloadable);
}

TEST(ConfigListTest, CopyNonReloadableKeepsTheRunningLengthAndFields) {
  ChainsConfig running;
  running.chains = {ChainEntry{.id = "a", .timeout = ConfigDuration(1000)}};
  ChainsConfig fresh;
  fresh.chains = {ChainEntry{.id = "changed", .timeout = ConfigDuration(2000)},
                  ChainEntry{.id = "added"}};

  CopyNonReloadable(running, fresh);

  ASSERT_THAT(fresh.chains, SizeIs(1));
  EXPECT_EQ(fresh.chains[0].id, "a");
  EXPECT_EQ(fresh.chains[0].timeout.count(), 2000);
}

}  // namespace
}  // namespace sg::core
