#include "core/logging.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <regex>
#include <sstream>

#include "core/api/request_context.h"

namespace sg::core {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
  }
  return lines;
}

// Logs through `log` with stderr captured; returns what was written.
template <class Function>
std::string CaptureLog(Function&& log) {
  ::testing::internal::CaptureStderr();
  log();
  return ::testing::internal::GetCapturedStderr();
}

class LoggingTest : public ::testing::Test {
 protected:
  void SetUp() override { ConfigureLogging(LogFormat::kJson, spdlog::level::info); }
  void TearDown() override { ConfigureLogging(LogFormat::kJson, spdlog::level::info); }
};

TEST_F(LoggingTest, JsonLineHasTheDocumentedFields) {
  auto logger = MakeLogger("gateway");

  std::string out = CaptureLog([&] { logger->info("listening on {}", "127.0.0.1:8080"); });

  std::vector<std::string> lines = Lines(out);
  ASSERT_EQ(lines.size(), 1u) << out;
  boost::json::object line = boost::json::parse(lines[0]).as_object();
  EXPECT_EQ(line.at("level").as_string(), "info");
  EXPECT_EQ(line.at("plugin").as_string(), "gateway");
  EXPECT_EQ(line.at("msg").as_string(), "listening on 127.0.0.1:8080");
  EXPECT_FALSE(line.contains("request_id"));
  EXPECT_FALSE(line.contains("trace_id"));
  std::string time(line.at("time").as_string());
  EXPECT_TRUE(std::regex_match(time, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << time;
}

TEST_F(LoggingTest, JsonLineCarriesTheRequestContextOfTheThread) {
  auto logger = MakeLogger("upload");
  RequestContext context{"req-42", TraceContext::NewRoot()};

  std::string out = CaptureLog([&] {
    ScopedRequestContext scope(&context);
    logger->warn("chunk rejected");
  });

  boost::json::object line = boost::json::parse(Lines(out).at(0)).as_object();
  EXPECT_EQ(line.at("level").as_string(), "warn");
  EXPECT_EQ(line.at("request_id").as_string(), "req-42");
  EXPECT_EQ(line.at("trace_id").as_string(), context.trace.trace_id);
}

TEST_F(LoggingTest, MessagesWithQuotesControlCharactersAndBadUtf8StayOneValidJsonLine) {
  auto logger = MakeLogger("upload");
  std::string nasty = "say \"hi\"\\ \n{\"level\":\"fake\"}\t\x01 caf\xc3\xa9 \xff\xfe end";

  std::string out = CaptureLog([&] { logger->info("{}", nasty); });

  std::vector<std::string> lines = Lines(out);
  ASSERT_EQ(lines.size(), 1u) << out;
  boost::json::object line = boost::json::parse(lines[0]).as_object();
  EXPECT_EQ(line.at("level").as_string(), "info");
  EXPECT_EQ(line.at("msg").as_string(),
            "say \"hi\"\\ \n{\"level\":\"fake\"}\t\x01 caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd end");
}

TEST_F(LoggingTest, LoggerNameIsEscapedToo) {
  auto logger = MakeLogger("we\"ird");

  std::string out = CaptureLog([&] { logger->info("x"); });

  boost::json::object line = boost::json::parse(Lines(out).at(0)).as_object();
  EXPECT_EQ(line.at("plugin").as_string(), "we\"ird");
}

TEST_F(LoggingTest, TextFormatIsOneReadableLine) {
  auto logger = MakeLogger("gateway");
  ConfigureLogging(LogFormat::kText, spdlog::level::info);
  RequestContext context{"req-7", TraceContext::NewRoot()};

  std::string out = CaptureLog([&] {
    ScopedRequestContext scope(&context);
    logger->error("two\nlines");
  });

  std::vector<std::string> lines = Lines(out);
  ASSERT_EQ(lines.size(), 1u) << out;
  EXPECT_TRUE(std::regex_match(
      lines[0],
      std::regex(
          R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} error \[gateway\] \[req=req-7\] two\\nlines)")))
      << lines[0];
}

TEST_F(LoggingTest, SetLogLevelReachesExistingAndNewLoggers) {
  auto existing = MakeLogger("a");

  SetLogLevel(spdlog::level::warn);
  auto created_later = MakeLogger("b");
  std::string out = CaptureLog([&] {
    existing->info("hidden-1");
    created_later->info("hidden-2");
    existing->warn("shown-1");
    created_later->error("shown-2");
  });

  EXPECT_THAT(out, Not(HasSubstr("hidden")));
  EXPECT_THAT(out, HasSubstr("shown-1"));
  EXPECT_THAT(out, HasSubstr("shown-2"));
}

TEST_F(LoggingTest, ConfigureLoggingChangesTheLevelOfExistingLoggers) {
  auto logger = MakeLogger("a");

  ConfigureLogging(LogFormat::kJson, spdlog::level::debug);
  std::string out = CaptureLog([&] { logger->debug("now visible"); });

  EXPECT_THAT(out, HasSubstr("\"level\":\"debug\""));
}

TEST(ParseLogLevelTest, KnowsEveryLevelName) {
  EXPECT_EQ(*ParseLogLevel("trace"), spdlog::level::trace);
  EXPECT_EQ(*ParseLogLevel("debug"), spdlog::level::debug);
  EXPECT_EQ(*ParseLogLevel("info"), spdlog::level::info);
  EXPECT_EQ(*ParseLogLevel("warn"), spdlog::level::warn);
  EXPECT_EQ(*ParseLogLevel("error"), spdlog::level::err);
  EXPECT_EQ(*ParseLogLevel("critical"), spdlog::level::critical);
  EXPECT_EQ(*ParseLogLevel("off"), spdlog::level::off);
}

TEST(ParseLogLevelTest, UnknownLevelIsAnError) {
  auto level = ParseLogLevel("verbose");

  ASSERT_FALSE(level);
  EXPECT_EQ(level.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(level.error().message, HasSubstr("verbose"));
}

struct EscapeCase {
  const char* name;
  std::string input;
  std::string escaped;
  // Names the case in test output instead of dumping its bytes.
  friend void PrintTo(const EscapeCase& c, std::ostream* os) { *os << c.name; }
};

class JsonEscapeTest : public ::testing::TestWithParam<EscapeCase> {};

TEST_P(JsonEscapeTest, EscapesForAJsonString) {
  EXPECT_EQ(JsonEscape(GetParam().input), GetParam().escaped);
}

INSTANTIATE_TEST_SUITE_P(
    Table, JsonEscapeTest,
    ::testing::Values(
        EscapeCase{"Plain", "hello", "hello"},
        EscapeCase{"QuoteAndBackslash", "a\"b\\c", "a\\\"b\\\\c"},
        EscapeCase{"NamedControls", "\b\f\n\r\t", "\\b\\f\\n\\r\\t"},
        EscapeCase{"OtherControls", std::string("\x01\x1f\x7f", 3), "\\u0001\\u001f\\u007f"},
        EscapeCase{"Nul", std::string("a\0b", 3), "a\\u0000b"},
        EscapeCase{"ValidUtf8IsKept", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xac",
                   "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xac"},
        EscapeCase{"InvalidByte",
                   "a\xff"
                   "b",
                   "a\\ufffdb"},
        EscapeCase{"LoneContinuation", "\x80", "\\ufffd"},
        EscapeCase{"Overlong", "\xc0\xaf", "\\ufffd\\ufffd"},
        EscapeCase{"Surrogate", "\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"},
        EscapeCase{"AboveMaxCodePoint", "\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"},
        EscapeCase{"TruncatedAtEnd", "x\xe2\x82", "x\\ufffd"},
        EscapeCase{"TruncatedBeforeAscii",
                   "\xe2\x82"
                   "a",
                   "\\ufffda"}),
    [](const ::testing::TestParamInfo<EscapeCase>& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace sg::core
