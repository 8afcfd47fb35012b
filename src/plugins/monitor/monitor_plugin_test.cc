#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <atomic>
#include <map>
#include <mutex>

#include "core/api/services/event_bus.h"
#include "core/api/services/http.h"
#include "core/api/services/runtime_info.h"
#include "core/memory_event_bus.h"
#include "core/testing/capturing_router.h"
#include "core/testing/test_context.h"
#include "plugins/monitor/monitor_config.h"
#include "plugins/monitor/monitor_plugin_internal.h"

namespace sg::plugins::monitor {
namespace {

// Captures routes so handlers can be called without sockets (the gateway's own tests
using sg::testing::CapturingRouter;

class ScriptedRuntime final : public RuntimeInfo {
 public:
  std::vector<PluginStatus> CheckPlugins() const override {
    std::lock_guard lock(mutex);
    ++checks;
    return plugins;
  }
  bool ShuttingDown() const noexcept override { return shutting_down; }
  std::string_view Version() const noexcept override { return "9.9.9"; }

  mutable std::mutex mutex;
  mutable std::atomic<int> checks{0};
  std::vector<PluginStatus> plugins{{"gateway", "0.1.0", {HealthStatus::kOk, ""}}};
  std::atomic<bool> shutting_down{false};
};

class MonitorPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MonitorConfig config;
    config.health_interval = std::chrono::milliseconds(100'000);
    context_ = std::make_unique<testing::TestPluginContext>(
        testing::TestPluginContext::MakeConfig(config));
    ASSERT_TRUE(context_->Provide<HttpRouter>(router_));
    ASSERT_TRUE(context_->Provide<RuntimeInfo>(runtime_));
    bus_ = std::make_shared<core::InMemoryEventBus>(core::InMemoryEventBus::Options{},
                                                    context_->logger(), context_->metrics());
    ASSERT_TRUE(context_->Provide<EventBus>(bus_));
    plugin_ = MakeMonitorPlugin();
    ASSERT_TRUE(plugin_->Init(*context_));
  }
  void TearDown() override {
    plugin_->Stop(SteadyTime::max());
    bus_->Close(std::chrono::steady_clock::now() + std::chrono::seconds(5));
  }

  bool WaitForChecks(int count) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (runtime_->checks < count && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return runtime_->checks >= count;
  }

  // What the kernel does once every plugin runs; waits until /readyz reflects it.
  void AnnounceKernelStarted() {
    BusMessage started;
    started.subject = std::string(kKernelStartedSubject);
    ASSERT_TRUE(bus_->Publish(started));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      auto response = router_->Call("GET /readyz");
      if (response && response->body.find("\"starting\"") == std::string::npos) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ADD_FAILURE() << "/readyz still says starting";
  }

  boost::json::value ReadyzBody(int expected_status) {
    auto response = router_->Call("GET /readyz");
    EXPECT_TRUE(response);
    EXPECT_EQ(response->status, expected_status);
    return boost::json::parse(response->body);
  }

  std::shared_ptr<CapturingRouter> router_ = std::make_shared<CapturingRouter>();
  std::shared_ptr<ScriptedRuntime> runtime_ = std::make_shared<ScriptedRuntime>();
  std::unique_ptr<testing::TestPluginContext> context_;
  std::shared_ptr<core::InMemoryEventBus> bus_;
  std::unique_ptr<Plugin> plugin_;
};

TEST_F(MonitorPluginTest, ProbeRoutesAreNeverRateLimited) {
  for (const char* key : {"GET /healthz", "GET /readyz", "GET /metrics"}) {
    ASSERT_EQ(router_->routes.count(key), 1u) << key;
    EXPECT_EQ(router_->routes.at(key).second.rate_class, "none") << key;
  }
}

TEST_F(MonitorPluginTest, HealthzIsOkWithoutCheckingPlugins) {
  auto response = router_->Call("GET /healthz");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(runtime_->checks, 0);
}

TEST_F(MonitorPluginTest, ReadyzIsNotReadyUntilTheKernelSaysEveryPluginRuns) {
  ASSERT_TRUE(plugin_->Start());
  auto body = ReadyzBody(503);
  EXPECT_EQ(body.at("status").as_string(), "not_ready");
  EXPECT_EQ(body.at("reason").as_string(), "starting");
  AnnounceKernelStarted();
  EXPECT_EQ(ReadyzBody(200).at("status").as_string(), "ready");
}

TEST_F(MonitorPluginTest, ReadyzIsReadyWhenEveryPluginIsOkOrDegraded) {
  runtime_->plugins.push_back({"storage", "0.1.0", {HealthStatus::kDegraded, "disk 91% full"}});
  ASSERT_TRUE(plugin_->Start());
  AnnounceKernelStarted();
  auto body = ReadyzBody(200);
  EXPECT_EQ(body.at("status").as_string(), "ready");
  EXPECT_EQ(body.at("plugins").at("storage").at("status").as_string(), "degraded");
  EXPECT_EQ(body.at("plugins").at("storage").at("detail").as_string(), "disk 91% full");
}

TEST_F(MonitorPluginTest, ReadyzIs503WithDetailWhenAPluginIsDown) {
  runtime_->plugins.push_back({"metadata", "0.1.0", {HealthStatus::kDown, "database locked"}});
  ASSERT_TRUE(plugin_->Start());
  AnnounceKernelStarted();
  auto body = ReadyzBody(503);
  EXPECT_EQ(body.at("status").as_string(), "not_ready");
  EXPECT_EQ(body.at("plugins").at("metadata").at("detail").as_string(), "database locked");
}

TEST_F(MonitorPluginTest, ReadyzServesTheCachedResultUntilTheNextCheck) {
  ASSERT_TRUE(plugin_->Start());
  AnnounceKernelStarted();
  int checks_after_start = runtime_->checks;
  ReadyzBody(200);
  ReadyzBody(200);
  EXPECT_EQ(runtime_->checks, checks_after_start);
}

TEST_F(MonitorPluginTest, ReadyzIs503WhileShuttingDown) {
  ASSERT_TRUE(plugin_->Start());
  runtime_->shutting_down = true;
  auto body = ReadyzBody(503);
  EXPECT_EQ(body.at("reason").as_string(), "shutting down");
}

TEST_F(MonitorPluginTest, ReloadedIntervalTakesEffectWithoutRestart) {
  ASSERT_TRUE(plugin_->Start());
  int before = runtime_->checks;
  MonitorConfig faster;
  faster.health_interval = std::chrono::milliseconds(100);
  ASSERT_TRUE(plugin_->Reload(TypedPluginConfig<MonitorConfig>(faster)));
  EXPECT_TRUE(WaitForChecks(before + 3));
}

TEST_F(MonitorPluginTest, KernelStartedAnnouncementTriggersAFreshCheck) {
  ASSERT_TRUE(plugin_->Start());
  AnnounceKernelStarted();
  int before = runtime_->checks;
  {
    std::lock_guard lock(runtime_->mutex);
    runtime_->plugins.push_back({"monitor", "0.1.0", {HealthStatus::kOk, ""}});
  }
  BusMessage started;
  started.subject = std::string(kKernelStartedSubject);
  ASSERT_TRUE(bus_->Publish(started));
  // The check counts itself before it publishes its snapshot: wait for what /readyz shows.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool listed = false;
  while (!listed && std::chrono::steady_clock::now() < deadline) {
    listed = ReadyzBody(200).at("plugins").as_object().contains("monitor");
    if (!listed) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  EXPECT_TRUE(listed);
  EXPECT_GT(runtime_->checks, before);
}

TEST_F(MonitorPluginTest, MetricsExposeProcessAndPluginSeries) {
  ASSERT_TRUE(plugin_->Start());
  auto response = router_->Call("GET /metrics");
  ASSERT_TRUE(response);
  EXPECT_NE(response->body.find("process_resident_memory_bytes "), std::string::npos);
  EXPECT_NE(response->body.find("process_open_fds "), std::string::npos);
  EXPECT_NE(response->body.find(R"(streamgate_plugin_up{plugin="gateway"} 1)"), std::string::npos);
  EXPECT_NE(response->body.find(R"(streamgate_build_info{version="9.9.9"} 1)"), std::string::npos);
}

}  // namespace
}  // namespace sg::plugins::monitor
