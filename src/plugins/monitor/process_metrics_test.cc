#include "plugins/monitor/process_metrics.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <ctime>
#include <vector>

namespace sg::plugins::monitor {
namespace {

TEST(ProcessMetricsTest, SampleReflectsThisProcess) {
  auto sample = SampleProcess();
  ASSERT_TRUE(sample.has_value());
  EXPECT_GT(sample->resident_bytes, 1024.0 * 1024);
  EXPECT_GE(sample->virtual_bytes, sample->resident_bytes);
  EXPECT_GE(sample->threads, 1);
  EXPECT_GT(sample->max_fds, 0);
  double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(sample->start_time_seconds, now + 2);
  EXPECT_GT(sample->start_time_seconds, now - 3600);
}

TEST(ProcessMetricsTest, OpenFdsCountsNewDescriptors) {
  auto before = SampleProcess();
  std::vector<int> fds;
  for (int i = 0; i < 5; ++i) {
    fds.push_back(open("/dev/null", O_RDONLY));
  }
  auto after = SampleProcess();
  for (int fd : fds) {
    close(fd);
  }
  ASSERT_TRUE(before && after);
  EXPECT_EQ(after->open_fds - before->open_fds, 5);
}

TEST(ProcessMetricsTest, CpuTimeGrowsWithWork) {
  auto before = SampleProcess();
  volatile double sink = 0;
  auto until = std::clock() + CLOCKS_PER_SEC / 20;  // 50 ms of CPU
  while (std::clock() < until) {
    sink = sink + 1;
  }
  auto after = SampleProcess();
  ASSERT_TRUE(before && after);
  EXPECT_GT(after->cpu_seconds, before->cpu_seconds);
}

}  // namespace
}  // namespace sg::plugins::monitor
