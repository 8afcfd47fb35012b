#include "plugins/cache/lru_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/metrics_registry.h"
#include "core/testing/fake_clock.h"

namespace sg::plugins::cache {
namespace {

using std::chrono::seconds;

// A value whose entry is charged exactly `charge` bytes under a key of `key_size` bytes.
std::string ValueCharged(std::size_t charge, std::size_t key_size) {
  return std::string(charge - key_size - LruCache::kEntryOverhead, 'v');
}

class LruCacheTest : public ::testing::Test {
 protected:
  std::unique_ptr<LruCache> Make(LruCache::Options options) {
    return std::make_unique<LruCache>(options, clock_, registry_);
  }
  double CounterValue(const std::string& name) {
    return registry_.CounterFamily(name, "").WithLabels({}).Value();
  }
  double GaugeValue(const std::string& name) {
    return registry_.GaugeFamily(name, "").WithLabels({}).Value();
  }

  testing::FakeClock clock_;
  core::PrometheusMetricsRegistry registry_;
};

TEST_F(LruCacheTest, AbsentKeyIsAMissAndAStoredOneAHit) {
  auto cache = Make({});
  auto missing = cache->Get("content:a:hls:master");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());

  ASSERT_TRUE(cache->Set("content:a:hls:master", "#EXTM3U", seconds(10)));
  auto found = cache->Get("content:a:hls:master");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->value_or(""), "#EXTM3U");
}

TEST_F(LruCacheTest, SetReplacesTheValueAndItsCharge) {
  auto cache = Make({});
  ASSERT_TRUE(cache->Set("k", std::string(100, 'a'), seconds(10)));
  ASSERT_TRUE(cache->Set("k", "short", seconds(10)));
  EXPECT_EQ(cache->Get("k")->value_or(""), "short");
  EXPECT_EQ(cache->usage().entries, 1u);
  EXPECT_EQ(cache->usage().bytes, 1 + 5 + LruCache::kEntryOverhead);
}

TEST_F(LruCacheTest, EntryExpiresWhenItsTtlHasPassed) {
  auto cache = Make({});
  ASSERT_TRUE(cache->Set("k", "v", seconds(10)));
  clock_.Advance(seconds(10) - std::chrono::nanoseconds(1));
  EXPECT_TRUE(cache->Get("k")->has_value());
  clock_.Advance(std::chrono::nanoseconds(1));
  EXPECT_FALSE(cache->Get("k")->has_value());
  EXPECT_EQ(cache->usage().entries, 0u) << "an expired entry is dropped when read";
}

TEST_F(LruCacheTest, ZeroTtlMeansTheConfiguredDefault) {
  auto cache = Make({.default_ttl = seconds(30)});
  ASSERT_TRUE(cache->Set("k", "v", Cache::kDefaultTtl));
  clock_.Advance(seconds(29));
  EXPECT_TRUE(cache->Get("k")->has_value());
  clock_.Advance(seconds(1));
  EXPECT_FALSE(cache->Get("k")->has_value());
}

TEST_F(LruCacheTest, NegativeTtlIsAnInvalidArgument) {
  auto cache = Make({});
  auto stored = cache->Set("k", "v", -seconds(1));
  ASSERT_FALSE(stored);
  EXPECT_EQ(stored.error().code, ErrorCode::kInvalidArgument);
  bool called = false;
  auto loaded = cache->GetOrLoad("k", -seconds(1), [&]() -> Result<std::string> {
    called = true;
    return "v";
  });
  ASSERT_FALSE(loaded);
  EXPECT_FALSE(called);
}

TEST_F(LruCacheTest, MalformedKeysAreInvalidArguments) {
  auto cache = Make({});
  for (std::string key : {std::string(), std::string("has space"), std::string("tab\tkey"),
                          std::string(Cache::kMaxKeyBytes + 1, 'k'), std::string("caf\xc3\xa9")}) {
    auto got = cache->Get(key);
    ASSERT_FALSE(got) << key;
    EXPECT_EQ(got.error().code, ErrorCode::kInvalidArgument);
    EXPECT_FALSE(cache->Set(key, "v", seconds(1)));
    EXPECT_FALSE(cache->Invalidate(key));
    EXPECT_FALSE(cache->InvalidatePrefix(key));
  }
  EXPECT_TRUE(cache->Get(std::string(Cache::kMaxKeyBytes, 'k')));
}

TEST_F(LruCacheTest, LeastRecentlyUsedEntryIsEvictedToStayWithinTheByteBound) {
  auto cache = Make({.max_bytes = 3 * 200, .shards = 1});
  ASSERT_TRUE(cache->Set("k1", ValueCharged(200, 2), seconds(60)));
  ASSERT_TRUE(cache->Set("k2", ValueCharged(200, 2), seconds(60)));
  ASSERT_TRUE(cache->Set("k3", ValueCharged(200, 2), seconds(60)));
  ASSERT_TRUE(cache->Get("k1")->has_value());  // k2 is now the least recently used

  ASSERT_TRUE(cache->Set("k4", ValueCharged(200, 2), seconds(60)));

  EXPECT_TRUE(cache->Get("k1")->has_value());
  EXPECT_FALSE(cache->Get("k2")->has_value());
  EXPECT_TRUE(cache->Get("k3")->has_value());
  EXPECT_TRUE(cache->Get("k4")->has_value());
  EXPECT_EQ(cache->usage().bytes, 600u);
  EXPECT_EQ(CounterValue("streamgate_cache_evictions_total"), 1);
}

TEST_F(LruCacheTest, ABigEntryEvictsAsManyAsItNeeds) {
  auto cache = Make({.max_bytes = 3 * 200, .shards = 1});
  ASSERT_TRUE(cache->Set("k1", ValueCharged(200, 2), seconds(60)));
  ASSERT_TRUE(cache->Set("k2", ValueCharged(200, 2), seconds(60)));
  ASSERT_TRUE(cache->Set("k3", ValueCharged(200, 2), seconds(60)));

  ASSERT_TRUE(cache->Set("k4", ValueCharged(400, 2), seconds(60)));

  EXPECT_FALSE(cache->Get("k1")->has_value());
  EXPECT_FALSE(cache->Get("k2")->has_value());
  EXPECT_TRUE(cache->Get("k3")->has_value());
  EXPECT_TRUE(cache->Get("k4")->has_value());
  EXPECT_LE(cache->usage().bytes, 600u);
}

TEST_F(LruCacheTest, ExpiredEntriesMakingRoomAreNotCountedAsEvictions) {
  auto cache = Make({.max_bytes = 2 * 200, .shards = 1});
  ASSERT_TRUE(cache->Set("k1", ValueCharged(200, 2), seconds(1)));
  ASSERT_TRUE(cache->Set("k2", ValueCharged(200, 2), seconds(60)));
  clock_.Advance(seconds(2));
  ASSERT_TRUE(cache->Set("k3", ValueCharged(200, 2), seconds(60)));
  EXPECT_EQ(CounterValue("streamgate_cache_evictions_total"), 0);
  EXPECT_TRUE(cache->Get("k2")->has_value());
}

TEST_F(LruCacheTest, EntryBiggerThanAShardIsNotStoredAndDropsTheOldValue) {
  auto cache = Make({.max_bytes = 16 * 1024, .shards = 4});  // 4 KiB per shard
  ASSERT_TRUE(cache->Set("k", "old", seconds(60)));
  ASSERT_TRUE(cache->Set("other", "x", seconds(60)));

  ASSERT_TRUE(cache->Set("k", std::string(cache->shard_capacity(), 'v'), seconds(60)));

  EXPECT_FALSE(cache->Get("k")->has_value()) << "the old value must not be served again";
  EXPECT_TRUE(cache->Get("other")->has_value());
  EXPECT_EQ(cache->usage().entries, 1u);
}

TEST_F(LruCacheTest, InvalidateDropsOnlyThatKey) {
  auto cache = Make({});
  ASSERT_TRUE(cache->Set("content:a:hls:master", "m", seconds(60)));
  ASSERT_TRUE(cache->Set("content:a:hls:360p", "p", seconds(60)));

  ASSERT_TRUE(cache->Invalidate("content:a:hls:master"));
  ASSERT_TRUE(cache->Invalidate("content:a:absent"));

  EXPECT_FALSE(cache->Get("content:a:hls:master")->has_value());
  EXPECT_TRUE(cache->Get("content:a:hls:360p")->has_value());
}

TEST_F(LruCacheTest, InvalidatePrefixDropsEveryKeyStartingWithItInEveryShard) {
  auto cache = Make({.shards = 16});
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(cache->Set(fmt::format("content:a:{}", i), "v", seconds(60)));
  }
  ASSERT_TRUE(cache->Set("content:ab:x", "v", seconds(60)));
  ASSERT_TRUE(cache->Set("content:b:x", "v", seconds(60)));
  ASSERT_TRUE(cache->Set("content:a", "v", seconds(60)));

  ASSERT_TRUE(cache->InvalidatePrefix(ContentKeyPrefix("a")));

  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(cache->Get(fmt::format("content:a:{}", i))->has_value()) << i;
  }
  EXPECT_TRUE(cache->Get("content:ab:x")->has_value());
  EXPECT_TRUE(cache->Get("content:b:x")->has_value());
  EXPECT_TRUE(cache->Get("content:a")->has_value());
  EXPECT_EQ(cache->usage().entries, 3u);
}

TEST_F(LruCacheTest, GetOrLoadLoadsOnAMissAndServesTheStoredValueAfterwards) {
  auto cache = Make({});
  int calls = 0;
  auto loader = [&]() -> Result<std::string> {
    ++calls;
    return "manifest";
  };
  auto first = cache->GetOrLoad("content:a:dash", seconds(10), loader);
  auto second = cache->GetOrLoad("content:a:dash", seconds(10), loader);
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  EXPECT_EQ(*first, "manifest");
  EXPECT_EQ(*second, "manifest");
  EXPECT_EQ(calls, 1);

  clock_.Advance(seconds(10));
  ASSERT_TRUE(cache->GetOrLoad("content:a:dash", seconds(10), loader));
  EXPECT_EQ(calls, 2) << "an expired value is loaded again";
}

// Many threads miss one key at once: the loader holds until every one of them has missed
// (the miss counter says so), so all of them must share its single call.
TEST_F(LruCacheTest, ConcurrentMissesOfOneKeyCallTheLoaderOnce) {
  constexpr int kThreads = 16;
  auto cache = Make({});
  std::atomic<int> calls{0};
  auto loader = [&]() -> Result<std::string> {
    calls.fetch_add(1);
    auto deadline = std::chrono::steady_clock::now() + seconds(10);
    while (CounterValue("streamgate_cache_misses_total") < kThreads &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    return "value";
  };
  std::vector<Result<std::string>> results(kThreads, MakeError(ErrorCode::kInternal, "unset"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { results[i] = cache->GetOrLoad("k", seconds(10), loader); });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(CounterValue("streamgate_cache_misses_total"), kThreads);
  for (const auto& result : results) {
    ASSERT_TRUE(result) << result.error().ToString();
    EXPECT_EQ(*result, "value");
  }
}

TEST_F(LruCacheTest, LoaderErrorReachesEveryWaiterAndIsNotCached) {
  constexpr int kThreads = 8;
  auto cache = Make({});
  std::atomic<int> calls{0};
  auto failing = [&]() -> Result<std::string> {
    calls.fetch_add(1);
    auto deadline = std::chrono::steady_clock::now() + seconds(10);
    while (CounterValue("streamgate_cache_misses_total") < kThreads &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    return MakeError(ErrorCode::kUnavailable, "metadata store is down");
  };
  std::vector<Result<std::string>> results(kThreads, "unset");
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { results[i] = cache->GetOrLoad("k", seconds(10), failing); });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(calls.load(), 1);
  for (const auto& result : results) {
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, ErrorCode::kUnavailable);
  }
  EXPECT_FALSE(cache->Get("k")->has_value());

  auto retried = cache->GetOrLoad("k", seconds(10), []() -> Result<std::string> { return "ok"; });
  ASSERT_TRUE(retried);
  EXPECT_EQ(*retried, "ok");
}

TEST_F(LruCacheTest, LoaderExceptionBecomesAnInternalErrorAndTheKeyStaysLoadable) {
  auto cache = Make({});
  auto thrown = cache->GetOrLoad("k", seconds(10),
                                 []() -> Result<std::string> { throw std::runtime_error("boom"); });
  ASSERT_FALSE(thrown);
  EXPECT_EQ(thrown.error().code, ErrorCode::kInternal);
  EXPECT_NE(thrown.error().message.find("boom"), std::string::npos);
  auto loaded = cache->GetOrLoad("k", seconds(10), []() -> Result<std::string> { return "v"; });
  ASSERT_TRUE(loaded);
}

TEST_F(LruCacheTest, ValueLoadedAcrossAnInvalidationIsReturnedButNotStored) {
  auto cache = Make({});
  auto by_key = cache->GetOrLoad("content:a:hls:master", seconds(10), [&]() -> Result<std::string> {
    EXPECT_TRUE(cache->Invalidate("content:a:hls:master"));  // the content changed meanwhile
    return "stale";
  });
  ASSERT_TRUE(by_key);
  EXPECT_EQ(*by_key, "stale");
  EXPECT_FALSE(cache->Get("content:a:hls:master")->has_value());

  auto by_prefix = cache->GetOrLoad("content:a:dash", seconds(10), [&]() -> Result<std::string> {
    EXPECT_TRUE(cache->InvalidatePrefix("content:a:"));
    return "stale";
  });
  ASSERT_TRUE(by_prefix);
  EXPECT_FALSE(cache->Get("content:a:dash")->has_value());

  auto other = cache->GetOrLoad("content:b:dash", seconds(10), [&]() -> Result<std::string> {
    EXPECT_TRUE(cache->InvalidatePrefix("content:a:"));
    return "fresh";
  });
  ASSERT_TRUE(other);
  EXPECT_TRUE(cache->Get("content:b:dash")->has_value()) << "another content's load is kept";
}

TEST_F(LruCacheTest, MetricsCountHitsMissesEvictionsAndTrackBytesAndEntries) {
  auto cache = Make({.max_bytes = 2 * 200, .shards = 1});
  ASSERT_TRUE(cache->Get("k1"));  // miss
  ASSERT_TRUE(cache->Set("k1", ValueCharged(200, 2), seconds(60)));
  ASSERT_TRUE(cache->Get("k1"));                                                              // hit
  ASSERT_TRUE(cache->GetOrLoad("k1", seconds(60), [] { return Result<std::string>("x"); }));  // hit
  ASSERT_TRUE(cache->GetOrLoad("k2", seconds(60),
                               [] { return Result<std::string>(ValueCharged(200, 2)); }));  // miss
  ASSERT_TRUE(cache->Set("k3", ValueCharged(200, 2), seconds(60)));  // evicts k1

  EXPECT_EQ(CounterValue("streamgate_cache_hits_total"), 2);
  EXPECT_EQ(CounterValue("streamgate_cache_misses_total"), 2);
  EXPECT_EQ(CounterValue("streamgate_cache_evictions_total"), 1);
  EXPECT_EQ(GaugeValue("streamgate_cache_bytes"), 400);
  EXPECT_EQ(GaugeValue("streamgate_cache_entries"), 2);

  ASSERT_TRUE(cache->InvalidatePrefix("k"));
  EXPECT_EQ(GaugeValue("streamgate_cache_bytes"), 0);
  EXPECT_EQ(GaugeValue("streamgate_cache_entries"), 0);
  EXPECT_NE(registry_.RenderPrometheus().find("streamgate_cache_hits_total 2"), std::string::npos);
}

TEST_F(LruCacheTest, DestroyingACacheTakesItsShareOffTheGauges) {
  auto kept = Make({});
  ASSERT_TRUE(kept->Set("a", "1", seconds(60)));
  {
    auto dropped = Make({});
    ASSERT_TRUE(dropped->Set("b", "2", seconds(60)));
    EXPECT_EQ(GaugeValue("streamgate_cache_entries"), 2);
  }
  EXPECT_EQ(GaugeValue("streamgate_cache_entries"), 1);
  EXPECT_EQ(GaugeValue("streamgate_cache_bytes"), 1 + 1 + LruCache::kEntryOverhead);
}

}  // namespace
}  // namespace sg::plugins::cache
