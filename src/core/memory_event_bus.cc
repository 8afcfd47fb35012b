#include "core/memory_event_bus.h"

#include <spdlog/sinks/null_sink.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <utility>

#include "core/api/random.h"
#include "core/api/request_context.h"

namespace sg::core {
namespace {

// The bus has no Clock: its only uses of time are real waits (Request timeouts, Close
// deadlines, which are steady_clock points) and rate-limiting a log line.
using SteadyClock = std::chrono::steady_clock;

constexpr std::string_view kInboxPrefix = "_INBOX.";
constexpr std::string_view kTraceparentHeader = "traceparent";
constexpr auto kDropWarningInterval = std::chrono::seconds(1);
constexpr auto kDestructorCloseTimeout = std::chrono::seconds(1);

/// One subscription: a serial executor over its own bounded queue.
struct Subscription {
  std::string pattern;
  std::string queue_group;
  std::size_t max_pending = 1;
  Counter* dropped = nullptr;
  Counter* errors = nullptr;
  Gauge* pending = nullptr;

  std::mutex mutex;
  std::condition_variable idle;
  /// Called only by the worker that set `running`; released once closed and idle so that
  /// captures (which may own the subscription handle) do not form a cycle.
  BusHandler handler;
  std::deque<std::shared_ptr<const BusMessage>> queue;
  /// In the ready queue or held by a worker: at most one worker serves a subscription.
  bool scheduled = false;
  bool running = false;
  std::thread::id running_thread;
  bool closed = false;
  SteadyClock::time_point last_drop_warning{};
  std::uint64_t drops_since_warning = 0;
};

/// Members of one queue group on one pattern; each message goes to one of them.
struct QueueGroup {
  std::string pattern;
  std::string queue;
  std::vector<std::shared_ptr<Subscription>> members;
  std::atomic<std::uint64_t> next{0};
};

Result<> ValidateQueueGroup(std::string_view queue) {
  for (char c : queue) {
    auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7F) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "queue group \"{}\" contains whitespace or a control character", queue);
    }
  }
  return {};
}

}  // namespace

struct InMemoryEventBus::Core {
  Core(Options bus_options, std::shared_ptr<spdlog::logger> bus_logger, MetricsRegistry& metrics)
      : options(bus_options),
        logger(std::move(bus_logger)),
        published(metrics
                      .CounterFamily("streamgate_bus_messages_published_total",
                                     "Messages published on the embedded event bus.")
                      .WithLabels({})),
        delivered(metrics
                      .CounterFamily("streamgate_bus_messages_delivered_total",
                                     "Messages handed to a subscription's handler.")
                      .WithLabels({})),
        dropped_family(metrics.CounterFamily(
            "streamgate_bus_dropped_total",
            "Messages dropped because a subscription's pending queue was full or the bus "
            "closed, by subscription pattern.",
            {"subject"})),
        errors_family(metrics.CounterFamily("streamgate_bus_handler_errors_total",
                                            "Handlers that threw, by subscription pattern.",
                                            {"subject"})),
        subscriptions(metrics
                          .GaugeFamily("streamgate_bus_subscriptions",
                                       "Active subscriptions on the embedded event bus.")
                          .WithLabels({})),
        pending(metrics
                    .GaugeFamily("streamgate_bus_pending_messages",
                                 "Messages queued for handlers on the embedded event bus.")
                    .WithLabels({})) {
    if (logger == nullptr) {
      logger =
          std::make_shared<spdlog::logger>("bus", std::make_shared<spdlog::sinks::null_sink_mt>());
    }
    options.max_pending = std::max<std::size_t>(options.max_pending, 1);
    options.dispatch_threads = std::max<std::size_t>(options.dispatch_threads, 1);
  }

  void Add(const std::shared_ptr<Subscription>& sub) {
    std::unique_lock lock(subs_mutex);
    if (sub->queue_group.empty()) {
      plain.push_back(sub);
    } else {
      auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& group) {
        return group->pattern == sub->pattern && group->queue == sub->queue_group;
      });
      if (it == groups.end()) {
        auto group = std::make_unique<QueueGroup>();
        group->pattern = sub->pattern;
        group->queue = sub->queue_group;
        it = groups.insert(groups.end(), std::move(group));
      }
      (*it)->members.push_back(sub);
    }
    subscriptions.Inc();
  }

  void Remove(const std::shared_ptr<Subscription>& sub) {
    std::unique_lock lock(subs_mutex);
    bool removed = false;
    if (sub->queue_group.empty()) {
      auto it = std::find(plain.begin(), plain.end(), sub);
      if (it != plain.end()) {
        plain.erase(it);
        removed = true;
      }
    } else {
      for (auto group = groups.begin(); group != groups.end(); ++group) {
        auto& members = (*group)->members;
        auto it = std::find(members.begin(), members.end(), sub);
        if (it == members.end()) {
          continue;
        }
        members.erase(it);
        removed = true;
        if (members.empty()) {
          groups.erase(group);
        }
        break;
      }
    }
    if (removed) {
      subscriptions.Dec();
    }
  }

  /// Every plain subscription matching `subject`, plus one member per matching queue group.
  std::vector<std::shared_ptr<Subscription>> Match(std::string_view subject) {
    std::vector<std::shared_ptr<Subscription>> targets;
    std::shared_lock lock(subs_mutex);
    for (const auto& sub : plain) {
      if (SubjectMatches(sub->pattern, subject)) {
        targets.push_back(sub);
      }
    }
    for (const auto& group : groups) {
      if (SubjectMatches(group->pattern, subject)) {
        // Round-robin; the counter is per group so that groups do not skew each other.
        std::uint64_t turn = group->next.fetch_add(1, std::memory_order_relaxed);
        targets.push_back(group->members[turn % group->members.size()]);
      }
    }
    return targets;
  }

  std::vector<std::shared_ptr<Subscription>> All() {
    std::vector<std::shared_ptr<Subscription>> all;
    std::shared_lock lock(subs_mutex);
    all = plain;
    for (const auto& group : groups) {
      all.insert(all.end(), group->members.begin(), group->members.end());
    }
    return all;
  }

  /// Publishes a validated message; returns how many subscriptions it was routed to
  /// (including those that dropped it because they were full).
  std::size_t Route(BusMessage message) {
    auto shared = std::make_shared<const BusMessage>(std::move(message));
    auto targets = Match(shared->subject);
    published.Inc();
    for (const auto& sub : targets) {
      Enqueue(sub, shared);
    }
    return targets.size();
  }

  void Enqueue(const std::shared_ptr<Subscription>& sub,
               const std::shared_ptr<const BusMessage>& message) {
    bool schedule = false;
    bool dropped = false;
    std::uint64_t drops_to_report = 0;
    {
      std::lock_guard lock(sub->mutex);
      if (sub->closed) {
        return;
      }
      if (sub->queue.size() >= sub->max_pending) {
        // Slow consumer: drop the new message (as NATS does), never block the publisher.
        dropped = true;
        ++sub->drops_since_warning;
        auto now = SteadyClock::now();
        if (now - sub->last_drop_warning >= kDropWarningInterval) {
          sub->last_drop_warning = now;
          drops_to_report = sub->drops_since_warning;
          sub->drops_since_warning = 0;
        }
      } else {
        sub->queue.push_back(message);
        // Under the lock, so that the worker's Dec cannot come first.
        pending.Inc();
        if (!sub->scheduled) {
          sub->scheduled = true;
          schedule = true;
        }
      }
    }
    if (dropped) {
      sub->dropped->Inc();
      if (drops_to_report != 0) {
        logger->warn(
            "slow subscriber on {}: pending queue full ({} messages), dropped {} message(s) "
            "since the last warning",
            sub->pattern, sub->max_pending, drops_to_report);
      }
      return;
    }
    if (schedule) {
      Schedule(sub);
    }
  }

  void Schedule(const std::shared_ptr<Subscription>& sub) {
    {
      std::lock_guard lock(pool_mutex);
      ready.push_back(sub);
    }
    work_cv.notify_one();
  }

  static void WorkerLoop(const std::shared_ptr<Core>& core) {
    for (;;) {
      std::shared_ptr<Subscription> sub;
      {
        std::unique_lock lock(core->pool_mutex);
        core->work_cv.wait(lock, [&] { return core->stopping || !core->ready.empty(); });
        if (core->stopping) {
          return;
        }
        sub = std::move(core->ready.front());
        core->ready.pop_front();
        ++core->active;
      }
      core->RunOne(sub);
      {
        std::lock_guard lock(core->pool_mutex);
        --core->active;
        if (core->active == 0 && core->ready.empty()) {
          core->idle_cv.notify_all();
        }
      }
    }
  }

  /// Runs the subscription's next message, then hands the subscription back to the pool if
  /// more are queued (one message per turn keeps a busy subscription from starving others).
  void RunOne(const std::shared_ptr<Subscription>& sub) {
    std::shared_ptr<const BusMessage> message;
    {
      std::lock_guard lock(sub->mutex);
      if (sub->closed || sub->queue.empty()) {
        sub->scheduled = false;
        return;
      }
      message = std::move(sub->queue.front());
      sub->queue.pop_front();
      sub->running = true;
      sub->running_thread = std::this_thread::get_id();
    }
    pending.Dec();
    delivered.Inc();
    Invoke(*sub, *message);

    BusHandler released;
    bool requeue = false;
    {
      std::lock_guard lock(sub->mutex);
      sub->running = false;
      sub->running_thread = {};
      if (sub->closed) {
        sub->scheduled = false;
        released = std::move(sub->handler);
      } else if (!sub->queue.empty()) {
        requeue = true;
      } else {
        sub->scheduled = false;
      }
    }
    sub->idle.notify_all();
    if (requeue) {
      Schedule(sub);
    }
    // `released` (and whatever it captured) is destroyed here, outside every lock.
  }

  void Invoke(Subscription& sub, const BusMessage& message) {
    // Handlers log with the publisher's trace, and whatever they publish carries it on.
    std::optional<RequestContext> context;
    if (auto header = message.headers.find(std::string(kTraceparentHeader));
        header != message.headers.end()) {
      if (auto trace = TraceContext::Parse(header->second)) {
        context.emplace();
        context->trace = std::move(*trace);
      }
    }
    ScopedRequestContext scope(context ? &*context : nullptr);
    try {
      sub.handler(message);
    } catch (const std::exception& error) {
      sub.errors->Inc();
      logger->error("event handler for {} failed on message to {}: {}", sub.pattern,
                    message.subject, error.what());
    } catch (...) {
      sub.errors->Inc();
      logger->error("event handler for {} failed on message to {}: unknown exception", sub.pattern,
                    message.subject);
    }
  }

  Options options;
  std::shared_ptr<spdlog::logger> logger;
  Counter& published;
  Counter& delivered;
  MetricFamily<Counter>& dropped_family;
  MetricFamily<Counter>& errors_family;
  Gauge& subscriptions;
  Gauge& pending;

  std::atomic<bool> closed{false};

  std::shared_mutex subs_mutex;
  std::vector<std::shared_ptr<Subscription>> plain;
  std::vector<std::unique_ptr<QueueGroup>> groups;

  std::mutex pool_mutex;
  std::condition_variable work_cv;
  std::condition_variable idle_cv;
  std::deque<std::shared_ptr<Subscription>> ready;
  std::size_t active = 0;
  bool stopping = false;

  /// Serialises Close calls (explicit and from the destructor).
  std::mutex close_mutex;
};

namespace {

class MemorySubscription final : public BusSubscription {
 public:
  MemorySubscription(std::weak_ptr<InMemoryEventBus::Core> core, std::shared_ptr<Subscription> sub)
      : core_(std::move(core)), sub_(std::move(sub)) {}
  ~MemorySubscription() override { Unsubscribe(); }
  MemorySubscription(const MemorySubscription&) = delete;
  MemorySubscription& operator=(const MemorySubscription&) = delete;

  void Unsubscribe() noexcept override {
    if (auto core = core_.lock()) {
      core->Remove(sub_);
    }
    BusHandler released;
    std::size_t discarded = 0;
    {
      std::unique_lock lock(sub_->mutex);
      if (!sub_->closed) {
        sub_->closed = true;
        discarded = sub_->queue.size();
        sub_->queue.clear();
      }
      // From inside its own handler we must not wait for ourselves; the worker sees
      // `closed` when the handler returns and makes no further calls.
      if (sub_->running && sub_->running_thread != std::this_thread::get_id()) {
        sub_->idle.wait(lock, [&] { return !sub_->running; });
      }
      if (!sub_->running) {
        released = std::move(sub_->handler);
      }
    }
    if (discarded != 0) {
      sub_->pending->Dec(static_cast<double>(discarded));
    }
  }

  const std::string& subject() const noexcept override { return sub_->pattern; }

 private:
  std::weak_ptr<InMemoryEventBus::Core> core_;
  std::shared_ptr<Subscription> sub_;
};

void AddTraceparent(BusMessage& message) {
  if (message.headers.contains(std::string(kTraceparentHeader))) {
    return;
  }
  const RequestContext* context = CurrentRequestContext();
  if (context == nullptr || context->trace.trace_id.empty()) {
    return;
  }
  message.headers.emplace(std::string(kTraceparentHeader), context->trace.ToTraceparent());
}

Result<> ValidateForPublish(const BusMessage& message) {
  SG_RETURN_IF_ERROR(ValidateSubject(message.subject, false));
  if (!message.reply_to.empty()) {
    auto valid = ValidateSubject(message.reply_to, false);
    if (!valid) {
      return MakeError(valid.error().WithContext("reply subject"));
    }
  }
  return {};
}

}  // namespace

InMemoryEventBus::InMemoryEventBus(Options options, std::shared_ptr<spdlog::logger> logger,
                                   MetricsRegistry& metrics)
    : core_(std::make_shared<Core>(options, std::move(logger), metrics)) {
  threads_.reserve(core_->options.dispatch_threads);
  for (std::size_t i = 0; i < core_->options.dispatch_threads; ++i) {
    threads_.emplace_back([core = core_] { Core::WorkerLoop(core); });
  }
}

InMemoryEventBus::~InMemoryEventBus() { Close(SteadyClock::now() + kDestructorCloseTimeout); }

Result<> InMemoryEventBus::Publish(BusMessage message) {
  if (core_->closed.load()) {
    return MakeError(ErrorCode::kUnavailable, "event bus is closed; cannot publish to {}",
                     message.subject);
  }
  SG_RETURN_IF_ERROR(ValidateForPublish(message));
  AddTraceparent(message);
  core_->Route(std::move(message));
  return {};
}

Result<std::unique_ptr<BusSubscription>> InMemoryEventBus::Subscribe(std::string subject,
                                                                     BusHandler handler,
                                                                     SubscribeOptions options) {
  if (core_->closed.load()) {
    return MakeError(ErrorCode::kUnavailable, "event bus is closed; cannot subscribe to {}",
                     subject);
  }
  SG_RETURN_IF_ERROR(ValidateSubject(subject, true));
  SG_RETURN_IF_ERROR(ValidateQueueGroup(options.queue_group));
  if (!handler) {
    return MakeError(ErrorCode::kInvalidArgument, "subscription to {} has no handler", subject);
  }
  auto sub = std::make_shared<Subscription>();
  sub->pattern = std::move(subject);
  sub->queue_group = std::move(options.queue_group);
  sub->max_pending = options.max_pending != 0 ? options.max_pending : core_->options.max_pending;
  sub->handler = std::move(handler);
  // Inboxes are one per request: they share one label value to bound cardinality.
  std::string_view label = sub->pattern;
  if (label.starts_with(kInboxPrefix)) {
    label = "_INBOX.>";
  }
  sub->dropped = &core_->dropped_family.WithLabels({label});
  sub->errors = &core_->errors_family.WithLabels({label});
  sub->pending = &core_->pending;
  core_->Add(sub);
  return std::unique_ptr<BusSubscription>(std::make_unique<MemorySubscription>(core_, sub));
}

Result<BusMessage> InMemoryEventBus::Request(BusMessage message,
                                             std::chrono::milliseconds timeout) {
  if (core_->closed.load()) {
    return MakeError(ErrorCode::kUnavailable, "event bus is closed; cannot send a request to {}",
                     message.subject);
  }
  SG_RETURN_IF_ERROR(ValidateSubject(message.subject, false));

  struct ReplyState {
    std::mutex mutex;
    std::condition_variable arrived;
    std::optional<BusMessage> reply;
  };
  auto state = std::make_shared<ReplyState>();
  std::string inbox = std::string(kInboxPrefix) + RandomHex(12);
  SG_ASSIGN_OR_RETURN(auto inbox_subscription, Subscribe(inbox, [state](const BusMessage& reply) {
                        {
                          std::lock_guard lock(state->mutex);
                          if (state->reply) {
                            return;  // first reply wins
                          }
                          state->reply = reply;
                        }
                        state->arrived.notify_all();
                      }));

  std::string subject = message.subject;
  message.reply_to = inbox;
  AddTraceparent(message);
  if (core_->closed.load()) {
    return MakeError(ErrorCode::kUnavailable, "event bus is closed; cannot send a request to {}",
                     subject);
  }
  if (core_->Route(std::move(message)) == 0) {
    return MakeError(ErrorCode::kUnavailable, "no responders for {}", subject);
  }

  std::unique_lock lock(state->mutex);
  if (!state->arrived.wait_for(lock, timeout, [&] { return state->reply.has_value(); })) {
    return MakeError(ErrorCode::kUnavailable, "request to {} timed out after {}ms", subject,
                     timeout.count());
  }
  BusMessage reply = std::move(*state->reply);
  lock.unlock();
  return reply;
}

void InMemoryEventBus::Close(Deadline deadline) noexcept {
  std::lock_guard close_lock(core_->close_mutex);
  core_->closed.store(true);
  if (threads_stopped_) {
    return;
  }
  threads_stopped_ = true;

  std::size_t still_running = 0;
  {
    std::unique_lock lock(core_->pool_mutex);
    core_->idle_cv.wait_until(lock, deadline,
                              [&] { return core_->ready.empty() && core_->active == 0; });
    still_running = core_->active;
    core_->stopping = true;
  }
  core_->work_cv.notify_all();

  if (still_running != 0) {
    core_->logger->error(
        "event bus close: {} handler(s) still running at the deadline; leaving their threads "
        "behind",
        still_running);
  }
  for (auto& thread : threads_) {
    // A handler that closes the bus runs on one of these threads: it cannot join itself.
    if (still_running != 0 || thread.get_id() == std::this_thread::get_id()) {
      thread.detach();
    } else {
      thread.join();
    }
  }
  threads_.clear();

  std::size_t dropped = 0;
  for (const auto& sub : core_->All()) {
    std::size_t count = 0;
    {
      std::lock_guard lock(sub->mutex);
      count = sub->queue.size();
      sub->queue.clear();
    }
    if (count != 0) {
      dropped += count;
      sub->dropped->Inc(static_cast<double>(count));
      core_->pending.Dec(static_cast<double>(count));
    }
  }
  if (dropped != 0) {
    core_->logger->warn("event bus closed: dropped {} undelivered message(s)", dropped);
  }
}

}  // namespace sg::core
