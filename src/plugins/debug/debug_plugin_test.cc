#include <gtest/gtest.h>

#include <map>

#include "core/api/services/event_bus.h"
#include "core/api/services/http.h"
#include "core/testing/capturing_router.h"
#include "core/testing/test_context.h"
#include "plugins/debug/debug_plugin_internal.h"

namespace sg::plugins::debug {
namespace {

using sg::testing::CapturingRouter;

class RecordingBus final : public EventBus {
 public:
  Result<> Publish(BusMessage message) override {
    published.push_back(std::move(message));
    return {};
  }
  Result<std::unique_ptr<BusSubscription>> Subscribe(std::string, BusHandler,
                                                     SubscribeOptions) override {
    return MakeError(ErrorCode::kInternal, "not used");
  }
  Result<BusMessage> Request(BusMessage, std::chrono::milliseconds) override {
    return MakeError(ErrorCode::kInternal, "not used");
  }
  std::vector<BusMessage> published;
};

class DebugPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(context_.Provide<HttpRouter>(router_));
    ASSERT_TRUE(context_.Provide<EventBus>(bus_));
    ASSERT_TRUE(plugin_->Init(context_));
  }
  std::shared_ptr<CapturingRouter> router_ = std::make_shared<CapturingRouter>();
  std::shared_ptr<RecordingBus> bus_ = std::make_shared<RecordingBus>();
  testing::TestPluginContext context_;
  std::unique_ptr<Plugin> plugin_ = MakeDebugPlugin();
};

TEST_F(DebugPluginTest, IsNotEnabledByDefault) { EXPECT_FALSE(plugin_->Info().enabled_by_default); }

TEST_F(DebugPluginTest, SleepRejectsOutOfRangeAndMalformedDurations) {
  for (const char* value : {"-1", "60001", "abc", "5x"}) {
    HttpRequest request;
    request.query = {{"ms", value}};
    auto response = router_->Call("GET /debug/sleep", request);
    ASSERT_FALSE(response) << value;
    EXPECT_EQ(response.error().code, ErrorCode::kInvalidArgument) << value;
  }
}

TEST_F(DebugPluginTest, EchoReturnsTheBody) {
  HttpRequest request;
  request.body = "hello";
  auto response = router_->Call("POST /debug/echo", request);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "hello");
}

TEST_F(DebugPluginTest, PanicThrows) {
  HttpRequest request;
  EXPECT_THROW((void)router_->Call("GET /debug/panic", request), std::runtime_error);
}

TEST_F(DebugPluginTest, PublishSendsTheBodyOnTheSubject) {
  HttpRequest request;
  request.path_params = {{"subject", "streamgate.test"}};
  request.body = "payload";
  auto response = router_->Call("POST /debug/publish/{subject}", request);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 202);
  ASSERT_EQ(bus_->published.size(), 1u);
  EXPECT_EQ(bus_->published[0].subject, "streamgate.test");
  EXPECT_EQ(bus_->published[0].data, "payload");
}

}  // namespace
}  // namespace sg::plugins::debug
