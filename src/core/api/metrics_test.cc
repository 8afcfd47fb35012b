#include "core/api/metrics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>
#include <vector>

namespace sg {
namespace {

TEST(CounterTest, IncAddsAndIgnoresNegativeOrNaNAmounts) {
  Counter counter;
  counter.Inc();
  counter.Inc(2.5);
  counter.Inc(-10);
  counter.Inc(std::numeric_limits<double>::quiet_NaN());
  EXPECT_DOUBLE_EQ(counter.Value(), 3.5);
}

TEST(CounterTest, ConcurrentIncrementsAreNotLost) {
  Counter counter;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        counter.Inc();
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(counter.Value(), 40000.0);
}

TEST(GaugeTest, SetIncAndDec) {
  Gauge gauge;
  gauge.Set(10);
  gauge.Inc();
  gauge.Inc(4);
  gauge.Dec(20);
  EXPECT_DOUBLE_EQ(gauge.Value(), -5);
}

TEST(HistogramTest, BoundsAreInclusiveAndCountsCumulative) {
  Histogram histogram({1, 2, 5});
  histogram.Observe(0.5);
  histogram.Observe(1);  // le="1" is inclusive
  histogram.Observe(1.5);
  histogram.Observe(5);
  histogram.Observe(100);  // only +Inf
  Histogram::Snapshot snapshot = histogram.Take();
  EXPECT_EQ(snapshot.upper_bounds, (std::vector<double>{1, 2, 5}));
  EXPECT_EQ(snapshot.cumulative_counts, (std::vector<std::uint64_t>{2, 3, 4, 5}));
  EXPECT_EQ(snapshot.count, 5u);
  EXPECT_DOUBLE_EQ(snapshot.sum, 108);
}

TEST(HistogramTest, NaNLandsOnlyInTheInfBucket) {
  Histogram histogram({1});
  histogram.Observe(std::numeric_limits<double>::quiet_NaN());
  Histogram::Snapshot snapshot = histogram.Take();
  EXPECT_EQ(snapshot.cumulative_counts, (std::vector<std::uint64_t>{0, 1}));
  EXPECT_EQ(snapshot.count, 1u);
}

TEST(HistogramTest, ExplicitTrailingInfBoundIsDropped) {
  Histogram histogram({1, std::numeric_limits<double>::infinity()});
  EXPECT_EQ(histogram.Take().upper_bounds, (std::vector<double>{1}));
}

TEST(HistogramDeathTest, UnsortedBoundsAreABug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(Histogram({2, 1}), "ascending");
}

TEST(HistogramTest, ConcurrentObservationsAreAllCounted) {
  Histogram histogram(DefaultLatencyBuckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) {
        histogram.Observe(0.5);
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  Histogram::Snapshot snapshot = histogram.Take();
  EXPECT_EQ(snapshot.count, 20000u);
  EXPECT_DOUBLE_EQ(snapshot.sum, 10000);
}

TEST(DefaultLatencyBucketsTest, SpanOneMillisecondToOneMinuteAscending) {
  std::vector<double> buckets = DefaultLatencyBuckets();
  ASSERT_EQ(buckets.size(), 15u);
  EXPECT_DOUBLE_EQ(buckets.front(), 0.001);
  EXPECT_DOUBLE_EQ(buckets.back(), 60);
  EXPECT_TRUE(std::is_sorted(buckets.begin(), buckets.end()));
}

}  // namespace
}  // namespace sg
