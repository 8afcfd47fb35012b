#include "plugins/cache/cache_plugin.h"

#include <boost/json.hpp>

#include <memory>
#include <utility>
#include <vector>

#include "core/api/context.h"
#include "core/api/services/cache.h"
#include "plugins/cache/cache_config.h"
#include "plugins/cache/cache_plugin_internal.h"
#include "plugins/cache/lru_cache.h"

namespace sg::plugins::cache {
namespace {

namespace json = boost::json;

class CachePlugin final : public Plugin {
 public:
  const PluginInfo& Info() const override {
    static const PluginInfo info{
        .name = "cache",
        .version = "0.1.0",
        .description =
            "Cache service: in-process sharded LRU bounded in bytes, with TTLs and "
            "invalidation on content events",
    };
    return info;
  }

  std::unique_ptr<PluginConfig> NewConfig() const override {
    return std::make_unique<TypedPluginConfig<CacheConfig>>();
  }

  Result<> Init(PluginContext& context) override {
    logger_ = context.logger();
    const auto& config = context.Config<CacheConfig>();
    SG_ASSIGN_OR_RETURN(bus_, context.Require<EventBus>());
    LruCache::Options options{
        .max_bytes = static_cast<std::size_t>(config.max_bytes.bytes),
        .shards = static_cast<std::size_t>(config.shards),
        .default_ttl = config.default_ttl,
    };
    cache_ = std::make_shared<LruCache>(options, context.clock(), context.metrics());
    SG_RETURN_IF_ERROR(context.Provide<Cache>(cache_));
    logger_->info("cache of {} bytes in {} shards, default TTL {} ms", options.max_bytes,
                  options.shards, config.default_ttl.count());
    return {};
  }

  // Subscribing in Start (not Init) keeps Stop the one place that unsubscribes; nothing
  // publishes content events before the plugins start.
  Result<> Start() override {
    for (std::string_view subject : kInvalidatingSubjects) {
      SG_ASSIGN_OR_RETURN(
          auto subscription,
          bus_->Subscribe(std::string(subject), [this](const BusMessage& m) { OnEvent(m); }));
      subscriptions_.push_back(std::move(subscription));
    }
    return {};
  }

  void Stop(Deadline) noexcept override {
    for (auto& subscription : subscriptions_) {
      subscription->Unsubscribe();  // after this, OnEvent is not running and will not run
    }
    subscriptions_.clear();
  }

  Health CheckHealth() const override {
    if (!cache_) {
      return {HealthStatus::kDown, "not initialised"};
    }
    return {HealthStatus::kOk, ""};
  }

 private:
  void OnEvent(const BusMessage& message) {
    auto prefix = InvalidationPrefixOf(message);
    if (!prefix) {
      logger_->debug("event on {} names no content to invalidate", message.subject);
      return;
    }
    if (auto done = cache_->InvalidatePrefix(*prefix); !done) {
      logger_->warn("could not invalidate {}: {}", *prefix, done.error().ToString());
    }
  }

  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<EventBus> bus_;
  std::shared_ptr<LruCache> cache_;
  std::vector<std::unique_ptr<BusSubscription>> subscriptions_;
};

}  // namespace

std::optional<std::string> InvalidationPrefixOf(const BusMessage& message) {
  boost::system::error_code error;
  json::value parsed = json::parse(message.data, error);
  if (error || !parsed.is_object()) {
    return std::nullopt;
  }
  const json::value* id = parsed.as_object().if_contains("content_id");
  if (id == nullptr || !id->is_string() || id->as_string().empty()) {
    return std::nullopt;
  }
  std::string prefix = ContentKeyPrefix(std::string_view(id->as_string()));
  // An id that cannot be part of a key (spaces, too long) cannot have been cached.
  if (!ValidateCacheKey(prefix)) {
    return std::nullopt;
  }
  return prefix;
}

std::unique_ptr<Plugin> MakeCachePlugin() { return std::make_unique<CachePlugin>(); }

}  // namespace sg::plugins::cache

namespace sg {

Result<> RegisterCachePlugin(PluginRegistrar& registrar) {
  return registrar.Register(&plugins::cache::MakeCachePlugin);
}

}  // namespace sg
