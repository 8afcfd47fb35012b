#include "core/kernel.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>

#include "core/api/context.h"
#include "core/api/services/event_bus.h"
#include "core/api/services/runtime_info.h"

namespace sg::core {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

struct Recorder {
  std::vector<std::string> calls;
};

struct FakeConfig {
  std::string mode = "a";
  std::int64_t workers = 2;
  std::string token = "token-value";

  void Visit(ConfigVisitor& v) {
    v.Field("mode", mode, {.doc = "behaviour", .reloadable = true});
    v.Field("workers", workers, {.doc = "threads", .min = 1, .max = 16});
    v.Field("token", token, {.doc = "credential", .secret = true});
  }
  Result<> Validate() const {
    if (mode == "invalid") {
      return MakeError(ErrorCode::kInvalidArgument, "mode: must not be invalid");
    }
    return {};
  }
};

struct Greeter {
  static constexpr std::string_view kServiceName = "Greeter";
  std::string greeting;
};

struct Behaviour {
  std::vector<std::string> dependencies = {};
  bool has_config = true;
  bool enabled_by_default = true;
  bool fail_init = false;
  bool throw_init = false;
  bool fail_start = false;
  bool throw_health = false;
  bool fail_reload = false;
  bool record_drain = false;
  std::function<Result<>(PluginContext&)> on_init = nullptr;
};

class FakePlugin final : public Plugin {
 public:
  FakePlugin(std::string name, Behaviour behaviour, std::shared_ptr<Recorder> recorder)
      : behaviour_(std::move(behaviour)), recorder_(std::move(recorder)) {
    info_.name = std::move(name);
    info_.version = "1.2.3";
    info_.description = "a fake plugin";
    info_.dependencies = behaviour_.dependencies;
    info_.enabled_by_default = behaviour_.enabled_by_default;
  }

  const PluginInfo& Info() const override { return info_; }

  std::unique_ptr<PluginConfig> NewConfig() const override {
    if (!behaviour_.has_config) {
      return nullptr;
    }
    return std::make_unique<TypedPluginConfig<FakeConfig>>();
  }

  Result<> Init(PluginContext& context) override {
    std::string call = "init " + info_.name;
    if (behaviour_.has_config) {
      call += " mode=" + context.Config<FakeConfig>().mode;
    }
    recorder_->calls.push_back(call);
    if (behaviour_.throw_init) {
      throw std::runtime_error("kaboom");
    }
    if (behaviour_.fail_init) {
      return MakeError(ErrorCode::kUnavailable, "init refused");
    }
    if (behaviour_.on_init) {
      return behaviour_.on_init(context);
    }
    return {};
  }

  Result<> Start() override {
    recorder_->calls.push_back("start " + info_.name);
    if (behaviour_.fail_start) {
      return MakeError(ErrorCode::kUnavailable, "port in use");
    }
    return {};
  }

  void Drain(Deadline) noexcept override {
    if (behaviour_.record_drain) {
      recorder_->calls.push_back("drain " + info_.name);
    }
  }

  void Stop(Deadline) noexcept override { recorder_->calls.push_back("stop " + info_.name); }

  Health CheckHealth() const override {
    if (behaviour_.throw_health) {
      throw std::runtime_error("health exploded");
    }
    return Health{HealthStatus::kDegraded, "fake"};
  }

  Result<> Reload(const PluginConfig& fresh) override {
    const FakeConfig& config = ConfigAs<FakeConfig>(fresh);
    recorder_->calls.push_back(
        fmt::format("reload {} mode={} workers={}", info_.name, config.mode, config.workers));
    if (behaviour_.fail_reload) {
      return MakeError(ErrorCode::kInvalidArgument, "cannot apply");
    }
    return {};
  }

 private:
  PluginInfo info_;
  Behaviour behaviour_;
  std::shared_ptr<Recorder> recorder_;
};

// A plugin whose whole section is a list (like `chains:`).
struct ListItem {
  std::string name;
  std::int64_t count = 1;
  void Visit(ConfigVisitor& v) {
    v.Field("name", name, {.doc = "item name"});
    v.Field("count", count, {.doc = "how many", .min = 1, .max = 9});
  }
};

struct ListConfig {
  std::vector<ListItem> items;
  void Visit(ConfigVisitor& v) { v.List("", "the items", items); }
  Result<> Validate() const {
    for (std::size_t i = 1; i < items.size(); ++i) {
      if (items[i].name == items[0].name) {
        return MakeError(ErrorCode::kInvalidArgument, "[{}].name: duplicate", i);
      }
    }
    return {};
  }
};

class ListPlugin final : public Plugin {
 public:
  const PluginInfo& Info() const override {
    static const PluginInfo info{.name = "items", .version = "1.0.0", .description = "a list"};
    return info;
  }
  std::unique_ptr<PluginConfig> NewConfig() const override {
    return std::make_unique<TypedPluginConfig<ListConfig>>();
  }
  Result<> Init(PluginContext&) override { return {}; }
  Result<> Start() override { return {}; }
  void Stop(Deadline) noexcept override {}
  Health CheckHealth() const override { return {}; }
};

class KernelTest : public ::testing::Test {
 protected:
  void Add(const std::string& name, Behaviour behaviour = {}) {
    auto recorder = recorder_;
    ASSERT_TRUE(registry_.Register([name, behaviour, recorder] {
      return std::make_unique<FakePlugin>(name, behaviour, recorder);
    }));
  }

  // The tree for `yaml`; the log level defaults to error so test output stays readable.
  static ConfigTree Tree(const std::string& yaml) {
    ConfigTree tree;
    tree.root = YAML::Load(yaml);
    if (!tree.root.IsMap()) {
      tree.root = YAML::Node(YAML::NodeType::Map);
    }
    if (!tree.root["log"]) {
      tree.root["log"]["level"] = "error";
    }
    return tree;
  }

  static Deadline Soon() { return std::chrono::steady_clock::now() + std::chrono::seconds(5); }

  std::vector<std::string>& calls() { return recorder_->calls; }

  PluginRegistry registry_;
  std::shared_ptr<Recorder> recorder_ = std::make_shared<Recorder>();
};

// ---- lifecycle --------------------------------------------------------------------------------

TEST_F(KernelTest, StartsInDependencyOrderAndStopsInReverse) {
  Add("a", {.dependencies = {"b"}});
  Add("b");
  Add("c", {.dependencies = {"a"}});
  Kernel kernel(registry_);
  ASSERT_TRUE(kernel.Configure(Tree("")));

  auto started = kernel.Start({});
  kernel.Stop(Soon());

  ASSERT_TRUE(started) << started.error().message;
  EXPECT_THAT(kernel.StartedPlugins(), ElementsAre("b", "a", "c"));
  EXPECT_THAT(calls(), ElementsAre("init b mode=a", "init a mode=a", "init c mode=a", "start b",
                                   "start a", "start c", "stop c", "stop a", "stop b"));
}

TEST_F(KernelTest, DrainRunsInStartOrderBeforeAnyStop) {
  Add("ingress", {.record_drain = true});
  Add("store", {.dependencies = {"ingress"}, .record_drain = true});
  Kernel kernel(registry_);
  ASSERT_TRUE(kernel.Configure(Tree("")));
  ASSERT_TRUE(kernel.Start({}));
  calls().clear();

  kernel.Stop(Soon());

  EXPECT_THAT(calls(), ElementsAre("drain ingress", "drain store", "stop store", "stop ingress"));
}

TEST_F(KernelTest, PluginsThatNeverStartedAreNotDrained) {
  Add("a", {.record_drain = true});
  Add("b", {.dependencies = {"a"}, .fail_start = true, .record_drain = true});
  Kernel kernel(registry_);

  ASSERT_FALSE(kernel.Start({}));

  EXPECT_THAT(calls(), ElementsAre("init a mode=a", "init b mode=a", "start a", "start b",
                                   "drain a", "stop b", "stop a"));
}

TEST_F(KernelTest, FailedStartStopsEveryInitialisedPluginInReverse) {
  Add("a");
  Add("b", {.dependencies = {"a"}, .fail_start = true});
  Add("c", {.dependencies = {"b"}});
  Kernel kernel(registry_);

  auto started = kernel.Start({});

  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(started.error().message, "plugin b failed to start: port in use");
  // c was only initialised, never started, and still gets Stop.
  EXPECT_THAT(calls(), ElementsAre("init a mode=a", "init b mode=a", "init c mode=a", "start a",
                                   "start b", "stop c", "stop b", "stop a"));
  EXPECT_TRUE(kernel.ShuttingDown());
}

TEST_F(KernelTest, FailedInitStopsOnlyThePluginsInitialisedBefore) {
  Add("a");
  Add("b", {.dependencies = {"a"}, .fail_init = true});
  Add("c", {.dependencies = {"b"}});
  Kernel kernel(registry_);

  auto started = kernel.Start({});

  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().message, "plugin b failed to start: init refused");
  EXPECT_THAT(calls(), ElementsAre("init a mode=a", "init b mode=a", "stop a"));
}

TEST_F(KernelTest, ThrowingInitIsCaughtAndReportedAsAFailedStart) {
  Add("a");
  Add("b", {.dependencies = {"a"}, .throw_init = true});
  Kernel kernel(registry_);

  auto started = kernel.Start({});

  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, ErrorCode::kInternal);
  EXPECT_THAT(started.error().message, HasSubstr("plugin b failed to start"));
  EXPECT_THAT(started.error().message, HasSubstr("kaboom"));
  EXPECT_THAT(calls(), ElementsAre("init a mode=a", "init b mode=a", "stop a"));
}

TEST_F(KernelTest, DependencyCycleIsAnErrorNamingTheCycle) {
  Add("a", {.dependencies = {"b"}});
  Add("b", {.dependencies = {"a"}});
  Kernel kernel(registry_);

  auto started = kernel.Start({});

  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().message, "dependency cycle: a -> b -> a");
  EXPECT_THAT(calls(), IsEmpty());
}

TEST_F(KernelTest, MissingDependencyIsNamed) {
  Add("a");
  Add("b", {.dependencies = {"a"}});
  Kernel kernel(registry_);

  auto started = kernel.Start({"b"});

  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().message, "plugin b depends on a, which is not selected");
  EXPECT_THAT(calls(), IsEmpty());
}

TEST_F(KernelTest, UnknownPluginNameListsTheKnownOnes) {
  Add("a");
  Add("b");
  Kernel kernel(registry_);

  auto started = kernel.Start({"a", "nope"});

  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(started.error().message, "unknown plugin nope (known: a, b)");
  EXPECT_THAT(calls(), IsEmpty());
}

TEST_F(KernelTest, NamedSelectionRunsOnlyThoseAndDefaultSkipsOptionalPlugins) {
  Add("a");
  Add("tool", {.enabled_by_default = false});
  Kernel all(registry_);
  Kernel only_tool(registry_);

  ASSERT_TRUE(all.Start({}));
  ASSERT_TRUE(only_tool.Start({"tool"}));

  EXPECT_THAT(all.StartedPlugins(), ElementsAre("a"));
  EXPECT_THAT(only_tool.StartedPlugins(), ElementsAre("tool"));
}

TEST_F(KernelTest, StopIsIdempotentAndTheDestructorStopsARunningKernel) {
  Add("a");
  {
    Kernel stopped(registry_);
    ASSERT_TRUE(stopped.Start({}));
    stopped.Stop(Soon());
    stopped.Stop(Soon());
  }
  {
    Kernel running(registry_);
    ASSERT_TRUE(running.Start({}));
  }

  EXPECT_THAT(calls(), ElementsAre("init a mode=a", "start a", "stop a", "init a mode=a", "start a",
                                   "stop a"));
}

TEST_F(KernelTest, StartTwiceIsRefused) {
  Add("a");
  Kernel kernel(registry_);
  ASSERT_TRUE(kernel.Start({}));

  EXPECT_FALSE(kernel.Start({}));
}

// ---- services ---------------------------------------------------------------------------------

TEST_F(KernelTest, ServiceProvidedByOnePluginIsRequiredByAnother) {
  std::string seen;
  Add("store", {.on_init = [](PluginContext& context) {
        return context.Provide(std::make_shared<Greeter>(Greeter{"hello"}));
      }});
  Add("user", {.dependencies = {"store"}, .on_init = [&seen](PluginContext& context) -> Result<> {
                 SG_ASSIGN_OR_RETURN(auto greeter, context.Require<Greeter>());
                 seen = greeter->greeting;
                 return {};
               }});
  Kernel kernel(registry_);

  auto started = kernel.Start({});

  ASSERT_TRUE(started) << started.error().message;
  EXPECT_EQ(seen, "hello");
}

TEST_F(KernelTest, RequiringAServiceNobodyProvidesNamesTheServiceAndThePlugin) {
  Add("store", {.on_init = [](PluginContext& context) {
        return context.Provide(std::make_shared<Greeter>(Greeter{"hello"}));
      }});
  Add("user", {.on_init = [](PluginContext& context) -> Result<> {
        EXPECT_EQ(context.Find<Greeter>(), nullptr);
        return context.Require<Greeter>().map([](auto&&) {});
      }});
  Kernel kernel(registry_);

  auto started = kernel.Start({"user"});

  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(started.error().message,
            "plugin user failed to start: plugin user requires service Greeter, which no started "
            "plugin provides (add its provider to --plugins)");
}

TEST_F(KernelTest, ProvidingAServiceTwiceNamesTheFirstProvider) {
  auto provide = [](PluginContext& context) {
    return context.Provide(std::make_shared<Greeter>(Greeter{"hi"}));
  };
  Add("a", {.on_init = provide});
  Add("b", {.dependencies = {"a"}, .on_init = provide});
  Kernel kernel(registry_);

  auto started = kernel.Start({});

  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, ErrorCode::kAlreadyExists);
  EXPECT_THAT(started.error().message,
              HasSubstr("plugin b failed to start: service Greeter already provided by plugin a"));
}

TEST_F(KernelTest, KernelProvidesEventBusAndRuntimeInfoBeforeInit) {
  std::shared_ptr<EventBus> bus;
  std::shared_ptr<RuntimeInfo> runtime;
  Add("a", {.on_init = [&](PluginContext& context) -> Result<> {
        SG_ASSIGN_OR_RETURN(bus, context.Require<EventBus>());
        SG_ASSIGN_OR_RETURN(runtime, context.Require<RuntimeInfo>());
        return {};
      }});
  Add("b", {.throw_health = true});
  Kernel kernel(registry_);

  ASSERT_TRUE(kernel.Start({}));

  ASSERT_NE(bus, nullptr);
  ASSERT_NE(runtime, nullptr);
  EXPECT_TRUE(bus->Publish(BusMessage{"streamgate.test", "x", "", {}}));
  std::vector<PluginStatus> statuses = runtime->CheckPlugins();
  ASSERT_THAT(statuses, SizeIs(2));
  EXPECT_EQ(statuses[0].name, "a");
  EXPECT_EQ(statuses[0].version, "1.2.3");
  EXPECT_EQ(statuses[0].health.status, HealthStatus::kDegraded);
  EXPECT_EQ(statuses[1].health.status, HealthStatus::kDown);
  EXPECT_THAT(statuses[1].health.detail, HasSubstr("health exploded"));
  EXPECT_FALSE(runtime->Version().empty());
  EXPECT_FALSE(runtime->ShuttingDown());

  kernel.Stop(Soon());

  EXPECT_TRUE(runtime->ShuttingDown());
  EXPECT_TRUE(kernel.ShuttingDown());
  EXPECT_FALSE(bus->Publish(BusMessage{"streamgate.test", "x", "", {}}));
  EXPECT_EQ(runtime->CheckPlugins()[0].health.status, HealthStatus::kDown);
}

TEST_F(KernelTest, ContextCarriesServerSettings) {
  ServerSettings seen;
  Add("a", {.on_init = [&seen](PluginContext& context) {
        seen = context.server();
        EXPECT_NE(context.logger(), nullptr);
        return Result<>{};
      }});
  Kernel kernel(registry_);
  ASSERT_TRUE(
      kernel.Configure(Tree("server: {data_dir: /var/sg, public_url: 'https://x.example/'}")));

  ASSERT_TRUE(kernel.Start({}));

  EXPECT_EQ(seen.data_dir, "/var/sg");
  EXPECT_EQ(seen.public_url, "https://x.example");
}

// ---- configuration ----------------------------------------------------------------------------

TEST_F(KernelTest, PluginSeesItsConfiguredSection) {
  Add("a");
  Kernel kernel(registry_);
  ASSERT_TRUE(kernel.Configure(Tree("a: {mode: custom}")));

  ASSERT_TRUE(kernel.Start({}));

  EXPECT_THAT(calls(), ElementsAre("init a mode=custom", "start a"));
}

TEST_F(KernelTest, UnknownSectionIsAnErrorListingTheKnownSections) {
  Add("a");
  Add("b", {.has_config = false});
  Kernel kernel(registry_);

  auto configured = kernel.Configure(Tree("gatway: {listen: x}"));

  ASSERT_FALSE(configured);
  EXPECT_EQ(configured.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(configured.error().message, "gatway: unknown section (known: a, bus, log, server)");
}

TEST_F(KernelTest, SectionForAPluginWithoutSettingsIsAnError) {
  Add("b", {.has_config = false});
  Kernel kernel(registry_);

  auto configured = kernel.Configure(Tree("b: {x: 1}"));

  ASSERT_FALSE(configured);
  EXPECT_THAT(configured.error().message, HasSubstr("plugin b has no settings"));
}

TEST_F(KernelTest, EveryConfigProblemIsReportedOnePerLine) {
  Add("a");
  Add("b");
  Kernel kernel(registry_);

  auto configured = kernel.Configure(Tree(R"(
a: {workers: 0}
b: {mode: invalid}
bus: {dispatch_threads: 0}
log: {format: xml}
server: {shutdown_timeout: 11m}
)"));

  ASSERT_FALSE(configured);
  std::string message = configured.error().message;
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 4) << message;
  EXPECT_THAT(message, HasSubstr("a.workers: must be between 1 and 16, got 0"));
  EXPECT_THAT(message, HasSubstr("b.mode: must not be invalid"));
  EXPECT_THAT(message, HasSubstr("bus.dispatch_threads: must be between 1 and 64, got 0"));
  EXPECT_THAT(message, HasSubstr("log.format: must be one of json, text, got \"xml\""));
  EXPECT_THAT(message, HasSubstr("server.shutdown_timeout: must be between 0s and 10m, got 11m"));
}

TEST_F(KernelTest, ConfigErrorsNameTheirOrigin) {
  Add("a");
  Kernel kernel(registry_);
  ConfigTree tree = Tree("a: {workers: many}");
  tree.origins["a.workers"] = "env STREAMGATE_A__WORKERS";

  auto configured = kernel.Configure(tree);

  ASSERT_FALSE(configured);
  EXPECT_EQ(configured.error().message,
            "a.workers (from env STREAMGATE_A__WORKERS): expected an integer, got \"many\"");
}

TEST_F(KernelTest, ASectionThatIsAListIsReadValidatedAndPrinted) {
  ASSERT_TRUE(registry_.Register([] { return std::make_unique<ListPlugin>(); }));
  Kernel kernel(registry_);

  auto bad_value = kernel.Configure(Tree("items: [{name: a}, {name: b, count: x}]"));
  auto duplicate = kernel.Configure(Tree("items: [{name: a}, {name: a}]"));
  auto not_a_list = kernel.Configure(Tree("items: {name: a}"));
  ASSERT_TRUE(kernel.Configure(Tree("items: [{name: a, count: 2}, {name: b}]")));
  YAML::Node printed = YAML::Load(kernel.PrintConfig());

  ASSERT_FALSE(bad_value);
  EXPECT_EQ(bad_value.error().message, "items[1].count: expected an integer, got \"x\"");
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().message, "items[1].name: duplicate");
  ASSERT_FALSE(not_a_list);
  EXPECT_THAT(not_a_list.error().message, HasSubstr("items: expected a list of mappings"));
  ASSERT_TRUE(printed["items"].IsSequence()) << kernel.PrintConfig();
  ASSERT_EQ(printed["items"].size(), 2u);
  EXPECT_EQ(printed["items"][0]["count"].as<int>(), 2);
  EXPECT_EQ(printed["items"][1]["name"].as<std::string>(), "b");
}

TEST_F(KernelTest, PrintConfigShowsEveryKeyWithSecretsRedacted) {
  Add("a");
  Add("b", {.has_config = false});
  Kernel kernel(registry_);
  ASSERT_TRUE(kernel.Configure(Tree("a: {token: hunter2}")));

  std::string printed = kernel.PrintConfig();

  EXPECT_THAT(printed, Not(HasSubstr("hunter2")));
  YAML::Node node = YAML::Load(printed);
  EXPECT_EQ(node["a"]["token"].as<std::string>(), "<redacted>");
  EXPECT_EQ(node["a"]["workers"].as<int>(), 2);
  EXPECT_EQ(node["server"]["shutdown_timeout"].as<std::string>(), "30s");
  EXPECT_EQ(node["bus"]["max_pending"].as<int>(), 10000);
  EXPECT_EQ(node["log"]["format"].as<std::string>(), "json");
  EXPECT_FALSE(node["b"]);
}

// ---- reload -----------------------------------------------------------------------------------

TEST_F(KernelTest, InvalidReloadKeepsTheRunningConfig) {
  Add("a");
  Kernel kernel(registry_);
  ASSERT_TRUE(kernel.Configure(Tree("a: {mode: x}")));
  ASSERT_TRUE(kernel.Start({}));

  auto reloaded = kernel.Reload(Tree("a: {mode: y, workers: 0}"));

  ASSERT_FALSE(reloaded);
  EXPECT_THAT(reloaded.error().message, HasSubstr("a.workers"));
  EXPECT_EQ(YAML::Load(kernel.PrintConfig())["a"]["mode"].as<std::string>(), "x");
  EXPECT_THAT(calls(), ElementsAre("init a mode=x", "start a"));
}

TEST_F(KernelTest, ReloadableChangeIsAppliedThroughReload) {
  Add("a");
  Kernel kernel(registry_);
  ASSERT_TRUE(kernel.Configure(Tree("a: {mode: x}")));
  ASSERT_TRUE(kernel.Start({}));

  auto reloaded = kernel.Reload(Tree("a: {mode: y}"));

  ASSERT_TRUE(reloaded) << reloaded.error().message;
  EXPECT_THAT(calls(), ElementsAre("init a mode=x", "start a", "reload a mode=y workers=2"));
  EXPECT_EQ(YAML::Load(kernel.PrintConfig())["a"]["mode"].as<std::string>(), "y");
}

TEST_F(KernelTest, NonReloadableChangeIsOnlyWarnedAbout) {
  Add("a");
  Kernel kernel(registry_);
  ASSERT_TRUE(kernel.Configure(Tree("log: {level: warn}")));
  ASSERT_TRUE(kernel.Start({}));

  ::testing::internal::CaptureStderr();
  auto reloaded = kernel.Reload(Tree("log: {level: warn}\na: {workers: 5}"));
  std::string log = ::testing::internal::GetCapturedStderr();

  ASSERT_TRUE(reloaded) << reloaded.error().message;
  EXPECT_THAT(calls(), ElementsAre("init a mode=a", "start a", "reload a mode=a workers=2"));
  EXPECT_EQ(YAML::Load(kernel.PrintConfig())["a"]["workers"].as<int>(), 2);
  EXPECT_THAT(log, HasSubstr("a.workers changed; restart to apply"));
}

TEST_F(KernelTest, ReloadChangesTheLogLevel) {
  Add("a");
  Kernel kernel(registry_);
  ASSERT_TRUE(kernel.Configure(Tree("log: {level: error, format: json}")));
  ASSERT_TRUE(kernel.Start({}));

  ASSERT_TRUE(kernel.Reload(Tree("log: {level: debug, format: text}")));

  EXPECT_EQ(kernel.log_config().level, "debug");
  EXPECT_EQ(kernel.log_config().format, "json");  // needs a restart
  ASSERT_TRUE(kernel.Reload(Tree("log: {level: error}")));
}

TEST_F(KernelTest, FailedPluginReloadIsReportedAndOthersStillReload) {
  Add("a", {.fail_reload = true});
  Add("b");
  Kernel kernel(registry_);
  ASSERT_TRUE(kernel.Start({}));

  auto reloaded = kernel.Reload(Tree("a: {mode: y}\nb: {mode: z}"));

  ASSERT_FALSE(reloaded);
  EXPECT_EQ(reloaded.error().message, "plugin a failed to reload: cannot apply");
  EXPECT_THAT(calls(), ElementsAre("init a mode=a", "init b mode=a", "start a", "start b",
                                   "reload a mode=y workers=2", "reload b mode=z workers=2"));
  YAML::Node printed = YAML::Load(kernel.PrintConfig());
  EXPECT_EQ(printed["a"]["mode"].as<std::string>(), "a");
  EXPECT_EQ(printed["b"]["mode"].as<std::string>(), "z");
}

// ---- OrderByDependencies ----------------------------------------------------------------------

PluginInfo Info(std::string name, std::vector<std::string> dependencies = {}) {
  PluginInfo info;
  info.name = std::move(name);
  info.version = "1.0.0";
  info.dependencies = std::move(dependencies);
  return info;
}

TEST(OrderByDependenciesTest, KeepsInputOrderWhereDependenciesAllow) {
  auto order = OrderByDependencies({Info("a", {"c"}), Info("b"), Info("c"), Info("d", {"a"})});

  ASSERT_TRUE(order);
  EXPECT_THAT(*order, ElementsAre("b", "c", "a", "d"));
}

TEST(OrderByDependenciesTest, SelfDependencyIsACycle) {
  auto order = OrderByDependencies({Info("a", {"a"})});

  ASSERT_FALSE(order);
  EXPECT_EQ(order.error().message, "dependency cycle: a -> a");
}

TEST(OrderByDependenciesTest, CycleBehindAnAcyclicPluginIsNamedAlone) {
  auto order = OrderByDependencies(
      {Info("a", {"b"}), Info("b", {"c"}), Info("c", {"d"}), Info("d", {"b"}), Info("e")});

  ASSERT_FALSE(order);
  EXPECT_EQ(order.error().message, "dependency cycle: b -> c -> d -> b");
}

TEST(OrderByDependenciesTest, EveryMissingDependencyIsNamed) {
  auto order = OrderByDependencies({Info("a", {"x"}), Info("b", {"y", "a"})});

  ASSERT_FALSE(order);
  EXPECT_EQ(order.error().message,
            "plugin a depends on x, which is not selected\n"
            "plugin b depends on y, which is not selected");
}

TEST(OrderByDependenciesTest, EmptySelectionIsEmptyOrder) {
  auto order = OrderByDependencies({});

  ASSERT_TRUE(order);
  EXPECT_THAT(*order, IsEmpty());
}

}  // namespace
}  // namespace sg::core
