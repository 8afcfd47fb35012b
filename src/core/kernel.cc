#include "core/kernel.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <map>
#include <mutex>
#include <set>
#include <typeindex>
#include <utility>

#include "core/api/clock.h"
#include "core/api/context.h"
#include "core/api/random.h"
#include "core/api/services/event_bus.h"
#include "core/api/services/runtime_info.h"
#include "core/config_visitors.h"
#include "core/logging.h"
#include "core/memory_event_bus.h"
#include "core/metrics_registry.h"

namespace sg::core {
namespace {

#ifdef SG_VERSION
constexpr std::string_view kVersion = SG_VERSION;
#else
constexpr std::string_view kVersion = "0.1.0";
#endif

constexpr std::string_view kKernelProvider = "kernel";
constexpr std::string_view kServerSection = "server";
constexpr std::string_view kLogSection = "log";
constexpr std::string_view kBusSection = "bus";

std::string Join(const std::vector<std::string>& items, std::string_view separator) {
  return fmt::format("{}", fmt::join(items, separator));
}

std::int64_t MillisecondsSince(const Clock& clock, SteadyTime start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now() - start).count();
}

// Runs a plugin method so that no exception crosses the plugin boundary.
template <class Function>
Result<> Guarded(std::string_view what, Function&& function) {
  try {
    return function();
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, "{} threw an exception: {}", what, e.what());
  } catch (...) {
    return MakeError(ErrorCode::kInternal, "{} threw an unknown exception", what);
  }
}

// The type-erased service registry behind PluginContext::Provide / Require / Find.
class ServiceRegistry {
 public:
  Result<> Provide(std::type_index type, std::string_view name, std::shared_ptr<void> service,
                   std::string_view provider) {
    if (service == nullptr) {
      return MakeError(ErrorCode::kInvalidArgument, "plugin {} provided a null {} service",
                       provider, name);
    }
    std::lock_guard lock(mutex_);
    auto it = services_.find(type);
    if (it != services_.end()) {
      return MakeError(ErrorCode::kAlreadyExists,
                       "service {} already provided by plugin {} (plugin {} provides it too)", name,
                       it->second.provider, provider);
    }
    services_.emplace(type, Entry{std::move(service), std::string(provider)});
    return {};
  }

  Result<std::shared_ptr<void>> Find(std::type_index type, std::string_view name,
                                     std::string_view requester) const {
    std::lock_guard lock(mutex_);
    auto it = services_.find(type);
    if (it == services_.end()) {
      return MakeError(ErrorCode::kNotFound,
                       "plugin {} requires service {}, which no started plugin provides (add "
                       "its provider to --plugins)",
                       requester, name);
    }
    return it->second.service;
  }

  void Clear() {
    std::map<std::type_index, Entry> services;
    {
      std::lock_guard lock(mutex_);
      services.swap(services_);
    }
    // Destroyed outside the lock: a service destructor may call back into the registry.
  }

 private:
  struct Entry {
    std::shared_ptr<void> service;
    std::string provider;
  };
  mutable std::mutex mutex_;
  std::map<std::type_index, Entry> services_;
};

// RuntimeInfo over the plugins the kernel started. Called from any thread (health
// endpoints), so the list is guarded; CheckHealth runs outside the lock.
class KernelRuntimeInfo final : public RuntimeInfo {
 public:
  std::vector<PluginStatus> CheckPlugins() const override {
    std::vector<Entry> entries;
    {
      std::lock_guard lock(mutex_);
      entries = entries_;
    }
    std::vector<PluginStatus> statuses;
    statuses.reserve(entries.size());
    for (const Entry& entry : entries) {
      PluginStatus status{entry.name, entry.version, {}};
      if (!entry.running || entry.plugin == nullptr) {
        status.health = Health{HealthStatus::kDown, "stopped"};
      } else {
        try {
          status.health = entry.plugin->CheckHealth();
        } catch (const std::exception& e) {
          status.health =
              Health{HealthStatus::kDown, fmt::format("health check threw: {}", e.what())};
        } catch (...) {
          status.health = Health{HealthStatus::kDown, "health check threw an unknown exception"};
        }
      }
      statuses.push_back(std::move(status));
    }
    return statuses;
  }

  bool ShuttingDown() const noexcept override { return shutting_down_.load(); }
  std::string_view Version() const noexcept override { return kVersion; }

  void SetShuttingDown() noexcept { shutting_down_.store(true); }

  void MarkStarted(const PluginInfo& info, const Plugin* plugin) {
    std::lock_guard lock(mutex_);
    entries_.push_back(Entry{info.name, info.version, plugin, true});
  }

  // Before a plugin's Stop: from then on it is reported down without being called.
  void MarkStopping(const std::string& name) noexcept {
    std::lock_guard lock(mutex_);
    for (Entry& entry : entries_) {
      if (entry.name == name) {
        entry.running = false;
      }
    }
  }

  // Before plugins are destroyed: a RuntimeInfo reference kept somewhere must not reach them.
  void Forget() noexcept {
    std::lock_guard lock(mutex_);
    for (Entry& entry : entries_) {
      entry.running = false;
      entry.plugin = nullptr;
    }
  }

 private:
  struct Entry {
    std::string name;
    std::string version;
    const Plugin* plugin = nullptr;
    bool running = false;
  };
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
  std::atomic<bool> shutting_down_{false};
};

enum class PluginState { kCreated, kInitialised, kStarted, kStopped };

struct Slot {
  PluginInfo info;
  std::unique_ptr<Plugin> plugin;
  /// What the plugin's context hands out; never replaced once Init ran, because plugins
  /// keep references into it.
  std::shared_ptr<PluginConfig> running;
  /// What `config print` shows and reload diffs against: `running` plus reloaded keys.
  std::shared_ptr<PluginConfig> effective;
  std::unique_ptr<PluginContext> context;
  PluginState state = PluginState::kCreated;
};

class KernelPluginContext final : public PluginContext {
 public:
  KernelPluginContext(Slot& slot, ServiceRegistry& services, MetricsRegistry& metrics,
                      const Clock& clock, Random& random, const ServerSettings& server)
      : slot_(slot),
        services_(services),
        metrics_(metrics),
        clock_(clock),
        random_(random),
        server_(server),
        logger_(MakeLogger(slot.info.name)) {}

  const PluginConfig& config() const override {
    SG_CHECK(slot_.running != nullptr, "config() called by a plugin whose NewConfig() is null");
    return *slot_.running;
  }
  std::shared_ptr<spdlog::logger> logger() const override { return logger_; }
  MetricsRegistry& metrics() override { return metrics_; }
  const Clock& clock() const override { return clock_; }
  Random& random() override { return random_; }
  const ServerSettings& server() const override { return server_; }

 protected:
  Result<> ProvideErased(std::type_index type, std::string_view name,
                         std::shared_ptr<void> service) override {
    return services_.Provide(type, name, std::move(service), slot_.info.name);
  }
  Result<std::shared_ptr<void>> FindErased(std::type_index type, std::string_view name,
                                           bool required) override {
    return services_.Find(type, name, slot_.info.name);
  }

 private:
  Slot& slot_;
  ServiceRegistry& services_;
  MetricsRegistry& metrics_;
  const Clock& clock_;
  Random& random_;
  const ServerSettings& server_;
  std::shared_ptr<spdlog::logger> logger_;
};

// Every section of one config tree, read and validated.
struct ConfigSet {
  ServerConfig server;
  LogConfig log;
  BusConfig bus;
  std::map<std::string, std::shared_ptr<PluginConfig>, std::less<>> plugins;
};

void AddProblems(std::vector<std::string>& problems, std::vector<std::string> more) {
  for (std::string& problem : more) {
    problems.push_back(std::move(problem));
  }
}

template <class Config>
void ValidateSection(std::string_view section, const Config& config,
                     std::vector<std::string>& problems) {
  Result<> valid = Guarded("Validate", [&config] { return config.Validate(); });
  if (!valid) {
    // A section that is a list names its elements "[1].key": "chains[1].key", no dot.
    const std::string& message = valid.error().message;
    problems.push_back(fmt::format("{}{}{}", section,
                                   !message.empty() && message.front() == '[' ? "" : ".", message));
  }
}

YAML::Node SectionNode(const YAML::Node& root, std::string_view section) {
  if (!root.IsDefined() || !root.IsMap()) {
    return YAML::Node();
  }
  return root[std::string(section)];
}

template <class Config>
void ReadSection(const YAML::Node& root, const ConfigOrigins& origins, std::string_view section,
                 Config& config, std::vector<std::string>& problems) {
  // A missing section is a "zombie" node in yaml-cpp: copyable and !IsDefined(), which the
  // reader treats as "all defaults" (assigning or reset() from it would throw).
  std::vector<std::string> errors =
      ReadConfig(config, SectionNode(root, section), std::string(section), &origins);
  if (!errors.empty()) {
    AddProblems(problems, std::move(errors));
    return;
  }
  // Cross-field checks only make sense on fields that were read cleanly.
  ValidateSection(section, config, problems);
}

std::string OriginSuffix(const ConfigOrigins& origins, const std::string& path) {
  auto it = origins.find(path);
  return it == origins.end() ? std::string() : fmt::format(" (from {})", it->second);
}

// "http://127.0.0.1:8080" from a listen address; wildcard hosts become loopback so that the
// links work on the machine itself.
std::string PublicUrlFromListen(std::string_view listen) {
  std::size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) {
    return {};
  }
  std::string_view host = listen.substr(0, colon);
  std::string_view port = listen.substr(colon + 1);
  if (host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]") {
    host = "127.0.0.1";
  }
  return fmt::format("http://{}:{}", host, port);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Kernel sections

void ServerConfig::Visit(ConfigVisitor& visitor) {
  visitor.Field("data_dir", data_dir,
                {.doc = "directory for local state (uploads, media, embedded databases)"});
  visitor.Field("public_url", public_url,
                {.doc = "base URL clients use to reach this server; empty = from gateway.listen"});
  visitor.Field("shutdown_timeout", shutdown_timeout,
                {.doc = "how long plugins may drain in-flight work on shutdown",
                 .min = 0,
                 .max = 10 * 60 * 1000});
}

Result<> ServerConfig::Validate() const {
  if (data_dir.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "data_dir: must not be empty");
  }
  if (!public_url.empty() && public_url.rfind("http://", 0) != 0 &&
      public_url.rfind("https://", 0) != 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "public_url: must start with http:// or https://, got \"{}\"", public_url);
  }
  return {};
}

void LogConfig::Visit(ConfigVisitor& visitor) {
  visitor.Field("level", level,
                {.doc = "least severe level written",
                 .reloadable = true,
                 .choices = {"trace", "debug", "info", "warn", "error", "critical", "off"}});
  visitor.Field(
      "format", format,
      {.doc = "json (one object per line) or text (for a terminal)", .choices = {"json", "text"}});
}

Result<> LogConfig::Validate() const {
  auto parsed = ParseLogLevel(level);
  if (!parsed) {
    return MakeError(ErrorCode::kInvalidArgument, "level: {}", parsed.error().message);
  }
  if (format != "json" && format != "text") {
    return MakeError(ErrorCode::kInvalidArgument, "format: must be one of json, text, got \"{}\"",
                     format);
  }
  return {};
}

void BusConfig::Visit(ConfigVisitor& visitor) {
  visitor.Field("max_pending", max_pending,
                {.doc = "messages queued per subscription before new ones are dropped",
                 .min = 1,
                 .max = 10'000'000});
  visitor.Field("dispatch_threads", dispatch_threads,
                {.doc = "threads that run event handlers", .min = 1, .max = 64});
}

Result<> BusConfig::Validate() const { return {}; }

// ---------------------------------------------------------------------------------------
// Kernel

enum class Phase { kNew, kStarting, kRunning, kStopped };

struct Kernel::Impl {
  Impl(const PluginRegistry& plugin_registry, KernelDeps deps)
      : registry(plugin_registry),
        clock(deps.clock ? std::move(deps.clock) : std::make_shared<SystemClock>()),
        random(deps.random ? std::move(deps.random) : std::make_shared<SystemRandom>()),
        logger(MakeLogger("kernel")),
        runtime_info(std::make_shared<KernelRuntimeInfo>()) {}

  ~Impl() {
    // Plugins go first (newest first): their subscriptions and services point into the bus
    // and each other. Then the bus, whose threads record into `metrics`, which goes last.
    runtime_info->Forget();
    services.Clear();
    for (auto it = started_order.rbegin(); it != started_order.rend(); ++it) {
      (*it)->plugin.reset();
      (*it)->context.reset();
    }
    slots.clear();
    bus.reset();
  }

  Result<ConfigSet> ReadAll(const ConfigTree& tree) const;
  Result<> FailStart(Slot& slot, const Error& error);
  void StopPlugins(Deadline deadline) noexcept;
  Slot* FindSlot(std::string_view name);

  const PluginRegistry& registry;
  std::shared_ptr<Clock> clock;
  std::shared_ptr<Random> random;
  PrometheusMetricsRegistry metrics;
  std::shared_ptr<spdlog::logger> logger;
  std::shared_ptr<KernelRuntimeInfo> runtime_info;
  ServiceRegistry services;

  bool configured = false;
  ServerConfig server_config;
  LogConfig log_config;
  BusConfig bus_config;
  ServerSettings settings;
  std::vector<std::unique_ptr<Slot>> slots;  // every registered plugin, by name
  std::vector<Slot*> started_order;          // selected plugins in dependency order
  std::vector<std::string> started_names;    // those whose Start succeeded, in order
  std::shared_ptr<InMemoryEventBus> bus;
  Phase phase = Phase::kNew;
};

Slot* Kernel::Impl::FindSlot(std::string_view name) {
  for (auto& slot : slots) {
    if (slot->info.name == name) {
      return slot.get();
    }
  }
  return nullptr;
}

Result<ConfigSet> Kernel::Impl::ReadAll(const ConfigTree& tree) const {
  std::vector<std::string> problems;
  const YAML::Node& root = tree.root;
  bool root_ok = !root.IsDefined() || root.IsNull() || root.IsMap();
  if (!root_ok) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "config: the top level must be a mapping of sections");
  }

  // Top-level keys: the kernel's sections and one per plugin that has settings.
  std::vector<std::string> known = {std::string(kServerSection), std::string(kLogSection),
                                    std::string(kBusSection)};
  std::set<std::string, std::less<>> without_config;
  for (const auto& slot : slots) {
    if (slot->running != nullptr) {
      known.push_back(slot->info.name);
    } else {
      without_config.insert(slot->info.name);
    }
  }
  std::sort(known.begin(), known.end());
  if (root.IsDefined() && root.IsMap()) {
    for (const auto& entry : root) {
      if (!entry.first.IsScalar()) {
        problems.push_back("config: section names must be plain names");
        continue;
      }
      const std::string& name = entry.first.Scalar();
      if (std::binary_search(known.begin(), known.end(), name)) {
        continue;
      }
      if (without_config.count(name) != 0) {
        problems.push_back(fmt::format("{}{}: plugin {} has no settings; remove this section", name,
                                       OriginSuffix(tree.origins, name), name));
      } else {
        problems.push_back(fmt::format("{}{}: unknown section (known: {})", name,
                                       OriginSuffix(tree.origins, name), Join(known, ", ")));
      }
    }
  }

  ConfigSet set;
  ReadSection(root, tree.origins, kServerSection, set.server, problems);
  ReadSection(root, tree.origins, kLogSection, set.log, problems);
  ReadSection(root, tree.origins, kBusSection, set.bus, problems);
  for (const auto& slot : slots) {
    if (slot->running == nullptr) {
      continue;
    }
    std::unique_ptr<PluginConfig> fresh;
    Result<> made = Guarded("NewConfig", [&] {
      fresh = slot->plugin->NewConfig();
      return Result<>{};
    });
    if (!made || fresh == nullptr) {
      problems.push_back(fmt::format("{}: plugin {} could not create its config{}", slot->info.name,
                                     slot->info.name,
                                     made ? std::string() : ": " + made.error().message));
      continue;
    }
    ReadSection(root, tree.origins, slot->info.name, *fresh, problems);
    set.plugins.emplace(slot->info.name, std::shared_ptr<PluginConfig>(std::move(fresh)));
  }
  if (!problems.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "{}", Join(problems, "\n"));
  }
  return set;
}

Kernel::Kernel(const PluginRegistry& registry, KernelDeps deps)
    : impl_(std::make_unique<Impl>(registry, std::move(deps))) {}

Kernel::~Kernel() {
  if (impl_->phase == Phase::kStarting || impl_->phase == Phase::kRunning) {
    Stop(impl_->clock->Now() + impl_->server_config.shutdown_timeout);
  }
}

Result<> Kernel::Configure(const ConfigTree& tree) {
  Impl& impl = *impl_;
  if (impl.phase != Phase::kNew) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the kernel is already started; use Reload to change its config");
  }
  // One instance per registered plugin: its NewConfig() defines the section's schema, and
  // the selected ones are the instances that Start drives.
  std::vector<std::unique_ptr<Slot>> slots;
  std::vector<std::string> problems;
  for (const PluginInfo& info : impl.registry.List()) {
    auto plugin = impl.registry.Create(info.name);
    if (!plugin) {
      problems.push_back(plugin.error().message);
      continue;
    }
    auto slot = std::make_unique<Slot>();
    slot->info = info;
    slot->plugin = std::move(*plugin);
    std::unique_ptr<PluginConfig> defaults;
    Result<> made = Guarded("NewConfig", [&] {
      defaults = slot->plugin->NewConfig();
      return Result<>{};
    });
    if (!made) {
      problems.push_back(fmt::format("plugin {}: {}", info.name, made.error().message));
      continue;
    }
    // Placeholder so ReadAll knows which plugins have a section; replaced below.
    slot->running = std::shared_ptr<PluginConfig>(std::move(defaults));
    slots.push_back(std::move(slot));
  }
  if (!problems.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "{}", Join(problems, "\n"));
  }
  impl.slots = std::move(slots);
  auto set = impl.ReadAll(tree);
  if (!set) {
    impl.configured = false;
    return MakeError(set.error());
  }
  impl.server_config = set->server;
  impl.log_config = set->log;
  impl.bus_config = set->bus;
  for (auto& slot : impl.slots) {
    auto it = set->plugins.find(slot->info.name);
    if (it != set->plugins.end()) {
      slot->running = it->second;
      slot->effective = it->second;
    }
  }
  impl.configured = true;
  return {};
}

std::string Kernel::PrintConfig() const {
  const Impl& impl = *impl_;
  YAML::Emitter out;
  ConfigPrinter printer(out);
  out << YAML::BeginMap;
  ServerConfig server = impl.server_config;
  LogConfig log = impl.log_config;
  BusConfig bus = impl.bus_config;
  printer.Section(kServerSection, "process-wide settings",
                  [&server](ConfigVisitor& v) { server.Visit(v); });
  printer.Section(kLogSection, "logging", [&log](ConfigVisitor& v) { log.Visit(v); });
  printer.Section(kBusSection, "embedded event bus", [&bus](ConfigVisitor& v) { bus.Visit(v); });
  for (const auto& slot : impl.slots) {
    if (slot->effective == nullptr) {
      continue;
    }
    PluginConfig& config = *slot->effective;
    printer.Section(slot->info.name, slot->info.description,
                    [&config](ConfigVisitor& v) { config.Visit(v); });
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

Result<> Kernel::Start(const std::vector<std::string>& plugins) {
  Impl& impl = *impl_;
  if (impl.phase != Phase::kNew) {
    return MakeError(ErrorCode::kInvalidArgument, "the kernel was already started");
  }
  if (!impl.configured) {
    ConfigTree empty;
    empty.root = YAML::Node(YAML::NodeType::Map);
    SG_RETURN_IF_ERROR(Configure(empty));
  }

  // Selection: the named plugins, or every plugin enabled by default.
  std::vector<PluginInfo> selected;
  if (plugins.empty()) {
    for (const auto& slot : impl.slots) {
      if (slot->info.enabled_by_default) {
        selected.push_back(slot->info);
      }
    }
  } else {
    std::vector<std::string> unknown;
    std::set<std::string, std::less<>> seen;
    for (const std::string& name : plugins) {
      Slot* slot = impl.FindSlot(name);
      if (slot == nullptr) {
        unknown.push_back(name);
        continue;
      }
      if (seen.insert(name).second) {
        selected.push_back(slot->info);
      }
    }
    if (!unknown.empty()) {
      std::vector<std::string> known;
      for (const auto& slot : impl.slots) {
        known.push_back(slot->info.name);
      }
      return MakeError(ErrorCode::kInvalidArgument, "unknown plugin{} {} (known: {})",
                       unknown.size() > 1 ? "s" : "", Join(unknown, ", "),
                       known.empty() ? std::string("none") : Join(known, ", "));
    }
  }
  SG_ASSIGN_OR_RETURN(std::vector<std::string> order, OrderByDependencies(selected));

  impl.phase = Phase::kStarting;
  auto level = ParseLogLevel(impl.log_config.level);
  ConfigureLogging(impl.log_config.format == "text" ? LogFormat::kText : LogFormat::kJson,
                   level ? *level : spdlog::level::info);

  impl.settings.data_dir = impl.server_config.data_dir;
  impl.settings.public_url = impl.server_config.public_url;
  if (impl.settings.public_url.empty()) {
    if (Slot* gateway = impl.FindSlot("gateway"); gateway != nullptr && gateway->effective) {
      for (const FlatField& field : FlattenConfig(*gateway->effective, "gateway")) {
        if (field.path == "gateway.listen") {
          impl.settings.public_url = PublicUrlFromListen(field.value);
        }
      }
    }
  }
  while (!impl.settings.public_url.empty() && impl.settings.public_url.back() == '/') {
    impl.settings.public_url.pop_back();
  }

  // Services the kernel itself provides, before any Init.
  InMemoryEventBus::Options bus_options;
  bus_options.max_pending = static_cast<std::size_t>(impl.bus_config.max_pending);
  bus_options.dispatch_threads = static_cast<std::size_t>(impl.bus_config.dispatch_threads);
  impl.bus = std::make_shared<InMemoryEventBus>(bus_options, MakeLogger("bus"), impl.metrics);
  SG_CHECK(impl.services
               .Provide(std::type_index(typeid(EventBus)), EventBus::kServiceName,
                        std::static_pointer_cast<EventBus>(impl.bus), kKernelProvider)
               .has_value(),
           "EventBus provided twice at start");
  SG_CHECK(impl.services
               .Provide(std::type_index(typeid(RuntimeInfo)), RuntimeInfo::kServiceName,
                        std::static_pointer_cast<RuntimeInfo>(impl.runtime_info), kKernelProvider)
               .has_value(),
           "RuntimeInfo provided twice at start");

  impl.logger->info("starting streamgate {} with plugins: {}", kVersion, Join(order, ", "));
  for (const std::string& name : order) {
    impl.started_order.push_back(impl.FindSlot(name));
  }

  for (Slot* slot : impl.started_order) {
    slot->context = std::make_unique<KernelPluginContext>(*slot, impl.services, impl.metrics,
                                                          *impl.clock, *impl.random, impl.settings);
    impl.logger->info("initialising plugin {} {}", slot->info.name, slot->info.version);
    SteadyTime begin = impl.clock->Now();
    Result<> init = Guarded("Init", [slot] { return slot->plugin->Init(*slot->context); });
    if (!init) {
      return impl.FailStart(*slot, init.error());
    }
    slot->state = PluginState::kInitialised;
    impl.logger->info("initialised plugin {} in {} ms", slot->info.name,
                      MillisecondsSince(*impl.clock, begin));
  }
  for (Slot* slot : impl.started_order) {
    impl.logger->info("starting plugin {}", slot->info.name);
    SteadyTime begin = impl.clock->Now();
    Result<> start = Guarded("Start", [slot] { return slot->plugin->Start(); });
    if (!start) {
      return impl.FailStart(*slot, start.error());
    }
    slot->state = PluginState::kStarted;
    impl.runtime_info->MarkStarted(slot->info, slot->plugin.get());
    impl.started_names.push_back(slot->info.name);
    impl.logger->info("started plugin {} in {} ms", slot->info.name,
                      MillisecondsSince(*impl.clock, begin));
  }
  impl.phase = Phase::kRunning;
  impl.logger->info("all {} plugins started", impl.started_order.size());
  // Lets plugins act once every plugin runs (the monitor's first full health check).
  BusMessage started;
  started.subject = std::string(kKernelStartedSubject);
  started.data = Join(impl.started_names, ",");
  if (auto published = impl.bus->Publish(std::move(started)); !published) {
    impl.logger->warn("could not announce start-up: {}", published.error().message);
  }
  return {};
}

Result<> Kernel::Impl::FailStart(Slot& slot, const Error& error) {
  Error failure{error.code,
                fmt::format("plugin {} failed to start: {}", slot.info.name, error.message)};
  logger->error("{}; stopping what was started", failure.message);
  StopPlugins(clock->Now() + server_config.shutdown_timeout);
  return MakeError(std::move(failure));
}

void Kernel::Impl::StopPlugins(Deadline deadline) noexcept {
  runtime_info->SetShuttingDown();
  // Phase one, in start order: ingress stops taking work and finishes what is in flight
  // while everything it calls still runs (plugin.h).
  for (Slot* slot : started_order) {
    if (slot->state != PluginState::kStarted) {
      continue;
    }
    try {
      logger->info("draining plugin {}", slot->info.name);
      SteadyTime begin = clock->Now();
      slot->plugin->Drain(deadline);
      logger->info("drained plugin {} in {} ms", slot->info.name, MillisecondsSince(*clock, begin));
    } catch (const std::exception& e) {
      logger->error("draining plugin {} threw: {}", slot->info.name, e.what());
    } catch (...) {
      logger->error("draining plugin {} threw an unknown exception", slot->info.name);
    }
  }
  for (auto it = started_order.rbegin(); it != started_order.rend(); ++it) {
    Slot& slot = **it;
    // A plugin whose Init succeeded gets Stop even if its Start never ran (plugin.h).
    if (slot.state != PluginState::kInitialised && slot.state != PluginState::kStarted) {
      continue;
    }
    try {
      runtime_info->MarkStopping(slot.info.name);
      if (clock->Now() >= deadline) {
        logger->warn("shutdown deadline passed before plugin {} stopped; it must stop now",
                     slot.info.name);
      }
      logger->info("stopping plugin {}", slot.info.name);
      SteadyTime begin = clock->Now();
      slot.plugin->Stop(deadline);
      slot.state = PluginState::kStopped;
      logger->info("stopped plugin {} in {} ms", slot.info.name, MillisecondsSince(*clock, begin));
    } catch (const std::exception& e) {
      slot.state = PluginState::kStopped;
      logger->error("stopping plugin {} threw: {}", slot.info.name, e.what());
    } catch (...) {
      slot.state = PluginState::kStopped;
      logger->error("stopping plugin {} threw an unknown exception", slot.info.name);
    }
  }
  if (bus != nullptr) {
    try {
      SteadyTime begin = clock->Now();
      bus->Close(deadline);
      logger->info("closed the event bus in {} ms", MillisecondsSince(*clock, begin));
    } catch (...) {
      // Close is noexcept; only the logging above can throw, and there is nothing to add.
    }
  }
  phase = Phase::kStopped;
}

void Kernel::Stop(Deadline deadline) noexcept {
  Impl& impl = *impl_;
  if (impl.phase == Phase::kStopped) {
    return;
  }
  if (impl.phase == Phase::kNew) {
    impl.runtime_info->SetShuttingDown();
    impl.phase = Phase::kStopped;
    return;
  }
  try {
    impl.logger->info("shutting down");
  } catch (...) {
  }
  impl.StopPlugins(deadline);
  try {
    impl.logger->info("shutdown complete");
  } catch (...) {
  }
}

Result<> Kernel::Reload(const ConfigTree& tree) {
  Impl& impl = *impl_;
  if (impl.phase == Phase::kNew) {
    // Nothing runs yet, so nothing needs to be kept: this is a plain (re)configure.
    return Configure(tree);
  }
  if (impl.phase != Phase::kRunning) {
    return MakeError(ErrorCode::kUnavailable, "the kernel is not running");
  }
  SG_ASSIGN_OR_RETURN(ConfigSet fresh, impl.ReadAll(tree));

  // Logs each changed key; returns whether any changed.
  auto report_changes = [&impl](const std::vector<FlatField>& before,
                                const std::vector<FlatField>& after) {
    std::map<std::string, const FlatField*> old_fields;
    for (const FlatField& field : before) {
      old_fields[field.path] = &field;
    }
    for (const FlatField& field : after) {
      auto it = old_fields.find(field.path);
      if (it == old_fields.end() || it->second->value == field.value) {
        continue;
      }
      if (!field.reloadable) {
        impl.logger->warn("{} changed; restart to apply", field.path);
      } else if (field.secret) {
        impl.logger->info("{} changed", field.path);
      } else {
        impl.logger->info("{} changed to {}", field.path, field.value);
      }
    }
  };

  report_changes(FlattenConfig(impl.server_config, std::string(kServerSection)),
                 FlattenConfig(fresh.server, std::string(kServerSection)));
  report_changes(FlattenConfig(impl.log_config, std::string(kLogSection)),
                 FlattenConfig(fresh.log, std::string(kLogSection)));
  report_changes(FlattenConfig(impl.bus_config, std::string(kBusSection)),
                 FlattenConfig(fresh.bus, std::string(kBusSection)));
  CopyNonReloadable(impl.server_config, fresh.server);
  CopyNonReloadable(impl.log_config, fresh.log);
  CopyNonReloadable(impl.bus_config, fresh.bus);
  impl.server_config = fresh.server;
  impl.log_config = fresh.log;
  impl.bus_config = fresh.bus;
  if (auto level = ParseLogLevel(impl.log_config.level)) {
    SetLogLevel(*level);
  }

  std::vector<std::string> failures;
  ErrorCode failure_code = ErrorCode::kInvalidArgument;
  for (auto& slot : impl.slots) {
    auto it = fresh.plugins.find(slot->info.name);
    if (it == fresh.plugins.end() || slot->effective == nullptr) {
      continue;
    }
    std::shared_ptr<PluginConfig> config = it->second;
    if (slot->state != PluginState::kStarted) {
      // Not running: nothing to keep, the next start uses the new values as they are.
      if (slot->state == PluginState::kCreated) {
        slot->running = config;
      }
      slot->effective = config;
      continue;
    }
    std::vector<FlatField> before = FlattenConfig(*slot->effective, slot->info.name);
    std::vector<FlatField> after = FlattenConfig(*config, slot->info.name);
    // The plugin sees its running values for keys that need a restart, so applying
    // `fresh` wholesale is safe even in a plugin that does not check which keys changed.
    CopyNonReloadable(*slot->effective, *config);
    Plugin* plugin = slot->plugin.get();
    Result<> reloaded = Guarded("Reload", [plugin, &config] { return plugin->Reload(*config); });
    if (!reloaded) {
      if (failures.empty()) {
        failure_code = reloaded.error().code;
      }
      failures.push_back(
          fmt::format("plugin {} failed to reload: {}", slot->info.name, reloaded.error().message));
      impl.logger->error("{}", failures.back());
      continue;
    }
    report_changes(before, after);
    slot->effective = config;
  }
  if (!failures.empty()) {
    return MakeError(failure_code, "{}", Join(failures, "\n"));
  }
  impl.logger->info("configuration reloaded");
  return {};
}

std::vector<std::string> Kernel::StartedPlugins() const { return impl_->started_names; }

const ServerConfig& Kernel::server_config() const { return impl_->server_config; }
const LogConfig& Kernel::log_config() const { return impl_->log_config; }
MetricsRegistry& Kernel::metrics() { return impl_->metrics; }
bool Kernel::ShuttingDown() const noexcept { return impl_->runtime_info->ShuttingDown(); }

// ---------------------------------------------------------------------------------------
// OrderByDependencies

Result<std::vector<std::string>> OrderByDependencies(const std::vector<PluginInfo>& selected) {
  std::map<std::string, std::size_t, std::less<>> index;
  for (std::size_t i = 0; i < selected.size(); ++i) {
    if (!index.emplace(selected[i].name, i).second) {
      return MakeError(ErrorCode::kInvalidArgument, "plugin {} is selected twice",
                       selected[i].name);
    }
  }
  std::vector<std::string> missing;
  // deps[i]: indexes of what plugin i depends on, de-duplicated, in declaration order.
  std::vector<std::vector<std::size_t>> deps(selected.size());
  for (std::size_t i = 0; i < selected.size(); ++i) {
    for (const std::string& dependency : selected[i].dependencies) {
      auto it = index.find(dependency);
      if (it == index.end()) {
        missing.push_back(fmt::format("plugin {} depends on {}, which is not selected",
                                      selected[i].name, dependency));
        continue;
      }
      if (std::find(deps[i].begin(), deps[i].end(), it->second) == deps[i].end()) {
        deps[i].push_back(it->second);
      }
    }
  }
  if (!missing.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "{}", Join(missing, "\n"));
  }

  // Kahn's algorithm, always taking the earliest ready plugin in input order, so the result
  // is the input order wherever dependencies allow it.
  std::vector<bool> done(selected.size(), false);
  std::vector<std::string> order;
  order.reserve(selected.size());
  while (order.size() < selected.size()) {
    std::size_t next = selected.size();
    for (std::size_t i = 0; i < selected.size() && next == selected.size(); ++i) {
      if (done[i]) {
        continue;
      }
      bool ready =
          std::all_of(deps[i].begin(), deps[i].end(), [&done](std::size_t d) { return done[d]; });
      if (ready) {
        next = i;
      }
    }
    if (next == selected.size()) {
      break;
    }
    done[next] = true;
    order.push_back(selected[next].name);
  }
  if (order.size() == selected.size()) {
    return order;
  }

  // Every plugin left has a dependency that is also left; following the first one from the
  // earliest plugin must come back to a plugin already on the path: that is a cycle.
  std::size_t current = 0;
  while (done[current]) {
    ++current;
  }
  std::vector<std::size_t> path;
  while (std::find(path.begin(), path.end(), current) == path.end()) {
    path.push_back(current);
    auto it = std::find_if(deps[current].begin(), deps[current].end(),
                           [&done](std::size_t d) { return !done[d]; });
    SG_CHECK(it != deps[current].end(), "a blocked plugin has no blocked dependency");
    current = *it;
  }
  std::vector<std::string> cycle;
  for (auto it = std::find(path.begin(), path.end(), current); it != path.end(); ++it) {
    cycle.push_back(selected[*it].name);
  }
  cycle.push_back(selected[current].name);
  return MakeError(ErrorCode::kInvalidArgument, "dependency cycle: {}", Join(cycle, " -> "));
}

}  // namespace sg::core
