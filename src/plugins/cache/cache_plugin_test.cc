#include "plugins/cache/cache_plugin.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "core/api/services/cache.h"
#include "core/api/services/event_bus.h"
#include "core/memory_event_bus.h"
#include "core/testing/fake_clock.h"
#include "core/testing/test_context.h"
#include "plugins/cache/cache_config.h"
#include "plugins/cache/cache_plugin_internal.h"

namespace sg::plugins::cache {
namespace {

using std::chrono::seconds;

BusMessage Event(std::string subject, std::string data) {
  BusMessage message;
  message.subject = std::move(subject);
  message.data = std::move(data);
  return message;
}

class CachePluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    context_ = std::make_unique<testing::TestPluginContext>(
        testing::TestPluginContext::MakeConfig(CacheConfig{}), clock_);
    bus_ = std::make_shared<core::InMemoryEventBus>(core::InMemoryEventBus::Options{},
                                                    context_->logger(), context_->metrics());
    ASSERT_TRUE(context_->Provide<EventBus>(bus_));
    plugin_ = MakeCachePlugin();
    auto initialised = plugin_->Init(*context_);
    ASSERT_TRUE(initialised) << initialised.error().ToString();
    ASSERT_TRUE(plugin_->Start());
    auto cache = context_->Require<Cache>();
    ASSERT_TRUE(cache) << cache.error().ToString();
    cache_ = *cache;
  }

  void TearDown() override {
    plugin_->Stop(SteadyTime::max());
    bus_->Close(std::chrono::steady_clock::now() + seconds(5));
  }

  // Delivery is asynchronous: waits (bounded) until `key` is gone from the cache.
  bool WaitUntilGone(const std::string& key) {
    auto deadline = std::chrono::steady_clock::now() + seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      auto value = cache_->Get(key);
      if (value && !value->has_value()) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }

  std::shared_ptr<testing::FakeClock> clock_ = std::make_shared<testing::FakeClock>();
  std::unique_ptr<testing::TestPluginContext> context_;
  std::shared_ptr<core::InMemoryEventBus> bus_;
  std::unique_ptr<Plugin> plugin_;
  std::shared_ptr<Cache> cache_;
};

TEST_F(CachePluginTest, ProvidesACacheThatUsesTheDefaultTtlOfItsConfig) {
  ASSERT_TRUE(cache_->Set("content:a:hls:master", "m", Cache::kDefaultTtl));
  clock_->Advance(seconds(29));
  EXPECT_TRUE(cache_->Get("content:a:hls:master")->has_value());
  clock_->Advance(seconds(1));
  EXPECT_FALSE(cache_->Get("content:a:hls:master")->has_value());
}

class CachePluginEventTest : public CachePluginTest,
                             public ::testing::WithParamInterface<std::string> {};

TEST_P(CachePluginEventTest, EventDropsEverythingCachedAboutItsContentOnly) {
  ASSERT_TRUE(cache_->Set("content:c1:hls:master", "m", seconds(60)));
  ASSERT_TRUE(cache_->Set("content:c1:dash", "d", seconds(60)));
  ASSERT_TRUE(cache_->Set("content:c2:hls:master", "m", seconds(60)));

  ASSERT_TRUE(bus_->Publish(Event(GetParam(), R"({"content_id":"c1","job_id":"j1"})")));

  EXPECT_TRUE(WaitUntilGone("content:c1:hls:master"));
  EXPECT_TRUE(WaitUntilGone("content:c1:dash"));
  EXPECT_TRUE(cache_->Get("content:c2:hls:master")->has_value());
}

INSTANTIATE_TEST_SUITE_P(
    Subjects, CachePluginEventTest,
    ::testing::Values("streamgate.transcoding.started", "streamgate.transcoding.progress",
                      "streamgate.transcoding.completed", "streamgate.transcoding.failed",
                      "streamgate.content.updated", "streamgate.content.deleted"));

TEST_F(CachePluginTest, UnrelatedSubjectsAndUnusablePayloadsInvalidateNothing) {
  ASSERT_TRUE(cache_->Set("content:c1:hls:master", "m", seconds(60)));
  ASSERT_TRUE(bus_->Publish(Event("streamgate.content.created", R"({"content_id":"c1"})")));
  ASSERT_TRUE(bus_->Publish(Event("streamgate.content.updated", "not json")));
  ASSERT_TRUE(bus_->Publish(Event("streamgate.content.updated", R"({"id":"c1"})")));
  // A marker event after them: once it is handled, the ones before it were too (one
  // subscription handles its messages in publish order).
  ASSERT_TRUE(cache_->Set("content:marker:x", "m", seconds(60)));
  ASSERT_TRUE(bus_->Publish(Event("streamgate.content.updated", R"({"content_id":"marker"})")));
  ASSERT_TRUE(WaitUntilGone("content:marker:x"));

  EXPECT_TRUE(cache_->Get("content:c1:hls:master")->has_value());
}

TEST(InvalidationPrefixOfTest, NamesTheContentPrefixOrNothing) {
  EXPECT_EQ(InvalidationPrefixOf(Event("s", R"({"content_id":"abc"})")).value_or(""),
            "content:abc:");
  EXPECT_FALSE(InvalidationPrefixOf(Event("s", R"({"content_id":""})")));
  EXPECT_FALSE(InvalidationPrefixOf(Event("s", R"({"content_id":7})")));
  EXPECT_FALSE(InvalidationPrefixOf(Event("s", R"({"content_id":"a b"})")));
  EXPECT_FALSE(InvalidationPrefixOf(Event("s", R"(["content_id"])")));
  EXPECT_FALSE(InvalidationPrefixOf(Event("s", "{")));
}

TEST(CacheConfigTest, ShardsTooSmallForTheirShareOfTheBudgetAreRefused) {
  CacheConfig config;
  config.max_bytes = ByteSize{64 * 1024};
  config.shards = 16;
  auto checked = config.Validate();
  ASSERT_FALSE(checked);
  EXPECT_NE(checked.error().message.find("max_bytes"), std::string::npos);
  config.shards = 4;
  EXPECT_TRUE(config.Validate());
  EXPECT_TRUE(CacheConfig{}.Validate());
}

TEST(CachePluginInitTest, WithoutAnEventBusInitFailsNamingIt) {
  testing::TestPluginContext context(testing::TestPluginContext::MakeConfig(CacheConfig{}));
  auto plugin = MakeCachePlugin();
  auto initialised = plugin->Init(context);
  ASSERT_FALSE(initialised);
  EXPECT_NE(initialised.error().message.find("EventBus"), std::string::npos);
}

}  // namespace
}  // namespace sg::plugins::cache
