#include "plugins/debug/debug_plugin.h"

#include <charconv>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "core/api/context.h"
#include "core/api/services/event_bus.h"
#include "core/api/services/http.h"
#include "plugins/debug/debug_plugin_internal.h"

namespace sg::plugins::debug {
namespace {

constexpr std::int64_t kMaxSleepMs = 60'000;

// Routes under /debug/ for integration tests and for operators checking a deployment's
// timeouts and drain. Off unless named in --plugins; never enable it on a public listener.
class DebugPlugin final : public Plugin {
 public:
  const PluginInfo& Info() const override {
    static const PluginInfo info{
        .name = "debug",
        .version = "0.1.0",
        .description = "test routes: /debug/sleep, /debug/echo, /debug/panic, /debug/publish",
        .dependencies = {"gateway"},
        .enabled_by_default = false,
    };
    return info;
  }

  Result<> Init(PluginContext& context) override {
    SG_ASSIGN_OR_RETURN(auto router, context.Require<HttpRouter>());
    SG_ASSIGN_OR_RETURN(bus_, context.Require<EventBus>());
    SG_RETURN_IF_ERROR(router->AddRoute("GET", "/debug/sleep", &Sleep, {.rate_class = "none"}));
    SG_RETURN_IF_ERROR(router->AddRoute("POST", "/debug/echo", &Echo,
                                        {.max_body_bytes = 64 * 1024, .rate_class = "write"}));
    SG_RETURN_IF_ERROR(router->AddRoute("GET", "/debug/panic", &Panic, {.rate_class = "none"}));
    SG_RETURN_IF_ERROR(
        router->AddRoute("POST", "/debug/publish/{subject}",
                         [this](const HttpRequest& request) { return Publish(request); },
                         {.max_body_bytes = 64 * 1024, .rate_class = "write"}));
    return {};
  }
  Result<> Start() override { return {}; }
  void Stop(Deadline) noexcept override {}
  Health CheckHealth() const override { return {HealthStatus::kOk, ""}; }

 private:
  // GET /debug/sleep?ms=N: answers after N ms (at most 60 s); a stand-in for a slow
  // in-flight request when testing graceful drain.
  static Result<HttpResponse> Sleep(const HttpRequest& request) {
    auto text = request.Query("ms").value_or("0");
    std::int64_t ms = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (ec != std::errc() || end != text.data() + text.size() || ms < 0 || ms > kMaxSleepMs) {
      return MakeError(ErrorCode::kInvalidArgument, "ms must be an integer from 0 to {}",
                       kMaxSleepMs);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return HttpResponse::Json(200, fmt::format(R"({{"slept_ms":{}}})", ms));
  }

  // POST /debug/echo: returns the body (exercises body limits and 100-continue).
  static Result<HttpResponse> Echo(const HttpRequest& request) {
    auto type = request.Header("Content-Type").value_or("application/octet-stream");
    return HttpResponse::Text(200, request.body, std::string(type));
  }

  // GET /debug/panic: throws, to show that a handler exception becomes a 500 envelope and
  // the server stays up.
  static Result<HttpResponse> Panic(const HttpRequest&) {
    throw std::runtime_error("debug panic requested");
  }

  // POST /debug/publish/{subject}: publishes the body on the event bus; the trace context
  // of the request travels in the message headers.
  Result<HttpResponse> Publish(const HttpRequest& request) {
    BusMessage message;
    message.subject = std::string(request.PathParam("subject"));
    message.data = request.body;
    SG_RETURN_IF_ERROR(bus_->Publish(std::move(message)));
    return HttpResponse::Json(202, R"({"published":true})");
  }

  std::shared_ptr<EventBus> bus_;
};

}  // namespace

std::unique_ptr<Plugin> MakeDebugPlugin() { return std::make_unique<DebugPlugin>(); }

}  // namespace sg::plugins::debug

namespace sg {

Result<> RegisterDebugPlugin(PluginRegistrar& registrar) {
  return registrar.Register(&plugins::debug::MakeDebugPlugin);
}

}  // namespace sg
