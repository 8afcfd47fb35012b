#include "core/api/request_context.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>

#include "core/api/random.h"
#include "core/api/result.h"

namespace sg {
namespace {

constexpr const char* kTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* kSpanId = "00f067aa0ba902b7";

struct TraceparentCase {
  const char* name;
  // Names the case in test output instead of dumping its bytes.
  friend void PrintTo(const TraceparentCase& c, std::ostream* os) { *os << c.name; }
  std::string header;
  bool valid;
};

class TraceparentParseTest : public ::testing::TestWithParam<TraceparentCase> {};

TEST_P(TraceparentParseTest, AcceptsOnlyWellFormedHeaders) {
  const TraceparentCase& c = GetParam();

  auto parsed = TraceContext::Parse(c.header);

  EXPECT_EQ(parsed.has_value(), c.valid) << c.header;
  if (parsed && c.valid) {
    EXPECT_EQ(parsed->trace_id, kTraceId);
    EXPECT_EQ(parsed->span_id, kSpanId);
  }
}

std::string Header(std::string version, std::string trace, std::string span, std::string flags) {
  return version + "-" + trace + "-" + span + "-" + flags;
}

INSTANTIATE_TEST_SUITE_P(
    Table, TraceparentParseTest,
    ::testing::Values(
        TraceparentCase{"Sampled", Header("00", kTraceId, kSpanId, "01"), true},
        TraceparentCase{"NotSampled", Header("00", kTraceId, kSpanId, "00"), true},
        TraceparentCase{"FutureVersion", Header("01", kTraceId, kSpanId, "01"), true},
        TraceparentCase{"FutureVersionWithMoreFields",
                        Header("cc", kTraceId, kSpanId, "01") + "-what-the-future-holds", true},
        TraceparentCase{"FutureVersionExtraWithoutDash",
                        Header("cc", kTraceId, kSpanId, "01") + "x", false},
        TraceparentCase{"Version00WithExtraField", Header("00", kTraceId, kSpanId, "01") + "-x",
                        false},
        TraceparentCase{"VersionFf", Header("ff", kTraceId, kSpanId, "01"), false},
        TraceparentCase{"UpperCaseTraceId",
                        Header("00", "4BF92F3577B34DA6A3CE929D0E0E4736", kSpanId, "01"), false},
        TraceparentCase{"UpperCaseVersion", Header("0A", kTraceId, kSpanId, "01"), false},
        TraceparentCase{"AllZeroTraceId",
                        Header("00", "00000000000000000000000000000000", kSpanId, "01"), false},
        TraceparentCase{"AllZeroSpanId", Header("00", kTraceId, "0000000000000000", "01"), false},
        TraceparentCase{"ShortTraceId",
                        Header("00", "4bf92f3577b34da6a3ce929d0e0e473", kSpanId, "01"), false},
        TraceparentCase{"LongSpanId", Header("00", kTraceId, "00f067aa0ba902b70", "01"), false},
        TraceparentCase{"NonHexFlags", Header("00", kTraceId, kSpanId, "0g"), false},
        TraceparentCase{"WrongSeparator", std::string("00_") + kTraceId + "-" + kSpanId + "-01",
                        false},
        TraceparentCase{"Empty", "", false},
        TraceparentCase{"Garbage", std::string(55, 'x'), false}),
    [](const ::testing::TestParamInfo<TraceparentCase>& param_info) {
      return param_info.param.name;
    });

TEST(TraceContextTest, ParsedFlagsAreKept) {
  auto parsed = TraceContext::Parse(Header("00", kTraceId, kSpanId, "00"));

  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->flags, 0);
}

TEST(TraceContextTest, FutureVersionKeepsOnlyTheSampledFlag) {
  auto parsed = TraceContext::Parse(Header("01", kTraceId, kSpanId, "ff"));

  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->flags, 1);
}

TEST(TraceContextTest, ToTraceparentRoundTripsAsVersion00) {
  std::string header = Header("00", kTraceId, kSpanId, "01");

  auto parsed = TraceContext::Parse(header);

  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->ToTraceparent(), header);
}

TEST(TraceContextTest, NewRootHasValidRandomIds) {
  TraceContext first = TraceContext::NewRoot();
  TraceContext second = TraceContext::NewRoot();

  auto reparsed = TraceContext::Parse(first.ToTraceparent());
  ASSERT_TRUE(reparsed.has_value()) << first.ToTraceparent();
  EXPECT_EQ(reparsed->trace_id, first.trace_id);
  EXPECT_EQ(first.trace_id.size(), 32u);
  EXPECT_EQ(first.span_id.size(), 16u);
  EXPECT_NE(first.trace_id, second.trace_id);
}

TEST(TraceContextTest, ChildSpanKeepsTraceAndChangesSpan) {
  TraceContext root = TraceContext::NewRoot();

  TraceContext child = root.NewChildSpan();

  EXPECT_EQ(child.trace_id, root.trace_id);
  EXPECT_NE(child.span_id, root.span_id);
  EXPECT_EQ(child.flags, root.flags);
}

TEST(RequestContextTest, ScopedContextNestsAndRestores) {
  RequestContext outer{"outer", TraceContext::NewRoot()};
  RequestContext inner{"inner", TraceContext::NewRoot()};
  ASSERT_EQ(CurrentRequestContext(), nullptr);
  {
    ScopedRequestContext outer_scope(&outer);
    EXPECT_EQ(CurrentRequestContext(), &outer);
    {
      ScopedRequestContext inner_scope(&inner);
      EXPECT_EQ(CurrentRequestContext(), &inner);
    }
    EXPECT_EQ(CurrentRequestContext(), &outer);
  }
  EXPECT_EQ(CurrentRequestContext(), nullptr);
}

TEST(RandomHexTest, ProducesLowerHexOfTheRequestedLength) {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    std::string hex = RandomHex(16);
    ASSERT_EQ(hex.size(), 32u);
    EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos) << hex;
    seen.insert(hex);
  }
  EXPECT_EQ(seen.size(), 20u);
  EXPECT_EQ(RandomHex(0), "");
}

TEST(UniqueHexTest, ProducesDistinctLowerHexOfOddLengthsToo) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string hex = UniqueHex(i % 2 == 0 ? 8 : 11);
    ASSERT_EQ(hex.size(), i % 2 == 0 ? 16u : 22u);
    EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos) << hex;
    seen.insert(hex);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(UniqueHex(0), "");
}

TEST(UniqueHexTest, ThreadsDoNotShareASequence) {
  std::string first;
  std::string second;
  std::thread([&] { first = UniqueHex(16); }).join();
  std::thread([&] { second = UniqueHex(16); }).join();
  EXPECT_NE(first, second);
}

TEST(SystemRandomTest, UnitValuesStayInRange) {
  SystemRandom random;
  for (int i = 0; i < 1000; ++i) {
    double value = random.NextUnit();
    ASSERT_GE(value, 0.0);
    ASSERT_LT(value, 1.0);
  }
  EXPECT_NE(random.NextU64(), random.NextU64());
}

TEST(ResultTest, ErrorTextCarriesCodeNameAndContext) {
  Error error{ErrorCode::kNotFound, "content abc does not exist"};

  EXPECT_EQ(error.ToString(), "not_found: content abc does not exist");
  EXPECT_EQ(error.WithContext("loading playlist").message,
            "loading playlist: content abc does not exist");
  EXPECT_EQ(error.WithContext("x").code, ErrorCode::kNotFound);
  EXPECT_EQ(ErrorCodeName(ErrorCode::kResourceExhausted), "resource_exhausted");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kPermissionDenied), "permission_denied");
}

TEST(ResultDeathTest, CheckFailureAbortsWithFileAndReason) {
  EXPECT_DEATH(SG_CHECK(1 + 1 == 3, "arithmetic is broken"),
               "request_context_test.cc:[0-9]+: check failed: 1 \\+ 1 == 3: arithmetic is broken");
}

}  // namespace
}  // namespace sg
