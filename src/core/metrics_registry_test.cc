#include "core/metrics_registry.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sg::core {
namespace {

TEST(PrometheusMetricsRegistryTest, EmptyRegistryRendersNothing) {
  PrometheusMetricsRegistry registry;
  EXPECT_EQ(registry.RenderPrometheus(), "");
}

TEST(PrometheusMetricsRegistryTest, UnlabelledFamilyIsExportedAsZeroFromTheStart) {
  PrometheusMetricsRegistry registry;
  registry.CounterFamily("app_requests_total", "Requests served.");
  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP app_requests_total Requests served.\n"
            "# TYPE app_requests_total counter\n"
            "app_requests_total 0\n");
}

TEST(PrometheusMetricsRegistryTest, LabelledFamilyWithoutSeriesIsLeftOut) {
  PrometheusMetricsRegistry registry;
  registry.CounterFamily("app_errors_total", "Errors.", {"code"});
  EXPECT_EQ(registry.RenderPrometheus(), "");
}

TEST(PrometheusMetricsRegistryTest, FamiliesSortedByNameAndSeriesByLabels) {
  PrometheusMetricsRegistry registry;
  auto& requests = registry.CounterFamily("b_requests_total", "Requests.", {"method", "code"});
  auto& inflight = registry.GaugeFamily("a_inflight", "In flight.");
  requests.WithLabels({"POST", "200"}).Inc(2);
  requests.WithLabels({"GET", "500"}).Inc();
  requests.WithLabels(std::vector<std::string>{"GET", "200"}).Inc(3);
  inflight.WithLabels({}).Set(1.5);
  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP a_inflight In flight.\n"
            "# TYPE a_inflight gauge\n"
            "a_inflight 1.5\n"
            "# HELP b_requests_total Requests.\n"
            "# TYPE b_requests_total counter\n"
            "b_requests_total{method=\"GET\",code=\"200\"} 3\n"
            "b_requests_total{method=\"GET\",code=\"500\"} 1\n"
            "b_requests_total{method=\"POST\",code=\"200\"} 2\n");
}

TEST(PrometheusMetricsRegistryTest, HistogramRendersCumulativeBucketsSumAndCount) {
  PrometheusMetricsRegistry registry;
  auto& latency =
      registry.HistogramFamily("app_latency_seconds", "Latency.", {"route"}, {0.005, 0.5, 1});
  auto& series = latency.WithLabels({"/x"});
  series.Observe(0.001);
  series.Observe(0.25);
  series.Observe(3);
  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP app_latency_seconds Latency.\n"
            "# TYPE app_latency_seconds histogram\n"
            "app_latency_seconds_bucket{route=\"/x\",le=\"0.005\"} 1\n"
            "app_latency_seconds_bucket{route=\"/x\",le=\"0.5\"} 2\n"
            "app_latency_seconds_bucket{route=\"/x\",le=\"1\"} 2\n"
            "app_latency_seconds_bucket{route=\"/x\",le=\"+Inf\"} 3\n"
            "app_latency_seconds_sum{route=\"/x\"} 3.251\n"
            "app_latency_seconds_count{route=\"/x\"} 3\n");
}

TEST(PrometheusMetricsRegistryTest, UnlabelledHistogramPutsOnlyLeInBraces) {
  PrometheusMetricsRegistry registry;
  registry.HistogramFamily("app_size_bytes", "Sizes.", {}, {10});
  std::string text = registry.RenderPrometheus();
  EXPECT_NE(text.find("app_size_bytes_bucket{le=\"10\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("app_size_bytes_sum 0\n"), std::string::npos) << text;
}

TEST(PrometheusMetricsRegistryTest, HelpAndLabelValuesAreEscaped) {
  PrometheusMetricsRegistry registry;
  registry.CounterFamily("app_odd_total", "Back\\slash and\nnewline \"quoted\".", {"path"})
      .WithLabels({"C:\\dir\n\"x\""})
      .Inc();
  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP app_odd_total Back\\\\slash and\\nnewline \"quoted\".\n"
            "# TYPE app_odd_total counter\n"
            "app_odd_total{path=\"C:\\\\dir\\n\\\"x\\\"\"} 1\n");
}

TEST(PrometheusMetricsRegistryTest, InvalidUtf8InLabelValuesIsReplaced) {
  PrometheusMetricsRegistry registry;
  registry.GaugeFamily("app_names", "Names.", {"name"}).WithLabels({"caf\xC3\xA9-\xFF"}).Set(1);
  std::string text = registry.RenderPrometheus();
  EXPECT_NE(text.find("app_names{name=\"caf\xC3\xA9-\xEF\xBF\xBD\"} 1"), std::string::npos) << text;
}

TEST(PrometheusMetricsRegistryTest, SameRegistrationReturnsTheSameFamilyAndSeries) {
  PrometheusMetricsRegistry registry;
  auto& first = registry.CounterFamily("app_hits_total", "Hits.", {"kind"});
  auto& second = registry.CounterFamily("app_hits_total", "Hits.", {"kind"});
  EXPECT_EQ(&first, &second);
  EXPECT_EQ(&first.WithLabels({"a"}), &second.WithLabels(std::vector<std::string>{"a"}));
  EXPECT_NE(&first.WithLabels({"a"}), &first.WithLabels({"b"}));
}

TEST(PrometheusMetricsRegistryTest, CallbackMetricsAreReadAtScrapeTime) {
  PrometheusMetricsRegistry registry;
  double value = 7;
  registry.CallbackGauge("app_rss_bytes", "Resident memory.", [&] { return value; });
  registry.CallbackCounter("app_cpu_seconds_total", "CPU time.", [] { return 0.25; });
  value = 9;
  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP app_cpu_seconds_total CPU time.\n"
            "# TYPE app_cpu_seconds_total counter\n"
            "app_cpu_seconds_total 0.25\n"
            "# HELP app_rss_bytes Resident memory.\n"
            "# TYPE app_rss_bytes gauge\n"
            "app_rss_bytes 9\n");
}

TEST(PrometheusMetricsRegistryTest, ReRegisteringACallbackReplacesIt) {
  PrometheusMetricsRegistry registry;
  registry.CallbackGauge("app_queue_depth", "Depth.", [] { return 1.0; });
  registry.CallbackGauge("app_queue_depth", "Depth.", [] { return 2.0; });
  EXPECT_NE(registry.RenderPrometheus().find("app_queue_depth 2\n"), std::string::npos);
}

TEST(PrometheusMetricsRegistryTest, ThrowingCallbackIsLeftOutOfTheScrape) {
  PrometheusMetricsRegistry registry;
  registry.CallbackGauge("app_broken", "Broken.",
                         []() -> double { throw std::runtime_error("probe failed"); });
  registry.GaugeFamily("app_fine", "Fine.");
  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP app_fine Fine.\n# TYPE app_fine gauge\napp_fine 0\n");
}

TEST(PrometheusMetricsRegistryTest, ConcurrentSeriesCreationYieldsOneSeriesPerLabelSet) {
  PrometheusMetricsRegistry registry;
  auto& family = registry.CounterFamily("app_ops_total", "Ops.", {"shard"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        family.WithLabels({std::to_string(i % 10)}).Inc();
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  for (int shard = 0; shard < 10; ++shard) {
    EXPECT_EQ(family.WithLabels({std::to_string(shard)}).Value(), 400.0);
  }
}

struct FormatCase {
  double value;
  const char* text;
};

TEST(PrometheusMetricsRegistryTest, FormatValueSpellsNumbersAsPrometheusParsesThem) {
  const FormatCase cases[] = {
      {0, "0"},
      {-0.0, "0"},
      {1, "1"},
      {-42, "-42"},
      {123456789012, "123456789012"},
      {0.5, "0.5"},
      {0.1, "0.1"},
      {1.5e-7, "1.5e-07"},
      {1e300, "1e+300"},
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
      {std::numeric_limits<double>::quiet_NaN(), "NaN"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(PrometheusMetricsRegistry::FormatValue(c.value), c.text) << c.value;
  }
  // Whatever the spelling, it must round-trip.
  const double tricky = 0.1 + 0.2;
  EXPECT_EQ(std::strtod(PrometheusMetricsRegistry::FormatValue(tricky).c_str(), nullptr), tricky);
}

using PrometheusMetricsRegistryDeathTest = ::testing::Test;

TEST_F(PrometheusMetricsRegistryDeathTest, WrongLabelCountIsABug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  PrometheusMetricsRegistry registry;
  auto& family = registry.CounterFamily("app_x_total", "X.", {"a", "b"});
  EXPECT_DEATH(family.WithLabels({"only-one"}), "takes 2 label values, got 1");
}

TEST_F(PrometheusMetricsRegistryDeathTest, SameNameAsAnotherTypeIsABug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  PrometheusMetricsRegistry registry;
  registry.GaugeFamily("app_thing", "Thing.");
  EXPECT_DEATH(registry.HistogramFamily("app_thing", "Thing.", {}, {1}), "another type");
}

TEST_F(PrometheusMetricsRegistryDeathTest, SameNameWithOtherLabelsIsABug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  PrometheusMetricsRegistry registry;
  registry.CounterFamily("app_y_total", "Y.", {"a"});
  EXPECT_DEATH(registry.CounterFamily("app_y_total", "Y.", {"b"}), "other labels");
}

TEST_F(PrometheusMetricsRegistryDeathTest, SameHistogramWithOtherBucketsIsABug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  PrometheusMetricsRegistry registry;
  registry.HistogramFamily("app_z_seconds", "Z.", {}, {1, 2});
  EXPECT_DEATH(registry.HistogramFamily("app_z_seconds", "Z.", {}, {1, 3}), "other buckets");
}

TEST_F(PrometheusMetricsRegistryDeathTest, BadNamesAreBugs) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  PrometheusMetricsRegistry registry;
  EXPECT_DEATH(registry.CounterFamily("app_requests", "No suffix."), "must end in _total");
  EXPECT_DEATH(registry.GaugeFamily("9lives", "Bad."), "invalid metric name");
  EXPECT_DEATH(registry.GaugeFamily("app_g", "Bad.", {"__reserved"}), "invalid label name");
  EXPECT_DEATH(registry.GaugeFamily("app_g", "Bad.", {"a", "a"}), "duplicate label");
  EXPECT_DEATH(registry.HistogramFamily("app_h", "Bad.", {"le"}, {1}), "reserved");
}

// Runs promtool (the Prometheus project's own checker) on a rendering that exercises every
// type, label escaping and special values.
TEST(PrometheusMetricsRegistryTest, OutputPassesPromtoolCheckMetrics) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool is not installed";
  }
  PrometheusMetricsRegistry registry;
  registry.CounterFamily("streamgate_test_requests_total", "Requests by route.", {"route", "code"})
      .WithLabels({"/api/v1/x", "200"})
      .Inc(12);
  registry.CounterFamily("streamgate_test_requests_total", "Requests by route.", {"route", "code"})
      .WithLabels({"we\"ird\\path\nline", "500"})
      .Inc();
  registry.GaugeFamily("streamgate_test_temperature_celsius", "A gauge with\nnewline \\ help.")
      .WithLabels({})
      .Set(-3.25);
  registry.GaugeFamily("streamgate_test_ratio", "Special values.", {"kind"})
      .WithLabels({"inf"})
      .Set(std::numeric_limits<double>::infinity());
  registry.GaugeFamily("streamgate_test_ratio", "Special values.", {"kind"})
      .WithLabels({"nan"})
      .Set(std::numeric_limits<double>::quiet_NaN());
  auto& latency = registry.HistogramFamily("streamgate_test_latency_seconds", "Latency.", {"route"},
                                           DefaultLatencyBuckets());
  latency.WithLabels({"/a"}).Observe(0.003);
  latency.WithLabels({"/a"}).Observe(42);
  latency.WithLabels({"/b"}).Observe(1e-9);
  registry.CallbackGauge("streamgate_test_resident_memory_bytes", "RSS.", [] { return 1.5e9; });
  registry.CallbackCounter("streamgate_test_cpu_seconds_total", "CPU.", [] { return 0.125; });
  std::string text = registry.RenderPrometheus();

  auto path = std::filesystem::temp_directory_path() /
              ("sg_promtool_" + std::to_string(::getpid()) + ".txt");
  {
    std::ofstream file(path, std::ios::binary);
    file << text;
  }
  std::string command = "promtool check metrics < '" + path.string() + "' 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) {
    output += buffer;
  }
  int status = ::pclose(pipe);
  std::filesystem::remove(path);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << output << "\n--- input ---\n" << text;
  EXPECT_EQ(output, "") << "\n--- input ---\n" << text;
}

}  // namespace
}  // namespace sg::core
