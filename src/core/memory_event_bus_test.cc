#include "core/memory_event_bus.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/api/request_context.h"
#include "core/metrics_registry.h"

namespace sg::core {
namespace {

using namespace std::chrono_literals;

constexpr auto kWait = std::chrono::seconds(10);

/// Records what a handler received; tests wait on it with a deadline.
class Collector {
 public:
  BusHandler Handler() {
    return [this](const BusMessage& message) { Add(message); };
  }
  void Add(const BusMessage& message) {
    {
      std::lock_guard lock(mutex_);
      messages_.push_back(message);
    }
    changed_.notify_all();
  }
  bool WaitForCount(std::size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kWait, [&] { return messages_.size() >= count; });
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return messages_.size();
  }
  std::vector<BusMessage> messages() const {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  std::vector<std::string> data() const {
    std::vector<std::string> out;
    for (const auto& message : messages()) {
      out.push_back(message.data);
    }
    return out;
  }
  std::vector<std::string> subjects() const {
    std::vector<std::string> out;
    for (const auto& message : messages()) {
      out.push_back(message.subject);
    }
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<BusMessage> messages_;
};

/// Holds a handler inside itself until opened. Shared with the handler so that it outlives
/// the dispatch thread that waits on it.
class Gate {
 public:
  void Enter() {
    std::unique_lock lock(mutex_);
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
  }
  bool WaitEntered(int times = 1) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kWait, [&] { return entered_ >= times; });
  }
  void Open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int entered_ = 0;
  bool open_ = false;
};

/// Opens a gate when the test scope ends, also when an assertion bailed out early, so that
/// no dispatch thread stays blocked. Declare it after the subscriptions it unblocks: locals
/// die in reverse order, and unsubscribing waits for the running handler.
struct OpenOnExit {
  std::shared_ptr<Gate> gate;
  ~OpenOnExit() { gate->Open(); }
};

BusMessage Message(std::string subject, std::string data = {}) {
  BusMessage message;
  message.subject = std::move(subject);
  message.data = std::move(data);
  return message;
}

class InMemoryEventBusTest : public ::testing::Test {
 protected:
  InMemoryEventBusTest() {
    logger_ = std::make_shared<spdlog::logger>(
        "bus-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_));
    logger_->set_level(spdlog::level::warn);
    Reset({});
  }

  void Reset(InMemoryEventBus::Options options) {
    bus_.reset();
    bus_ = std::make_unique<InMemoryEventBus>(options, logger_, registry_);
  }

  std::unique_ptr<BusSubscription> Subscribe(std::string subject, BusHandler handler,
                                             SubscribeOptions options = {}) {
    auto result = bus_->Subscribe(std::move(subject), std::move(handler), std::move(options));
    if (!result) {
      ADD_FAILURE() << result.error().ToString();
      return nullptr;
    }
    return std::move(*result);
  }

  void Publish(std::string subject, std::string data = {}) {
    auto result = bus_->Publish(Message(std::move(subject), std::move(data)));
    ASSERT_TRUE(result) << result.error().ToString();
  }

  double CounterValue(const std::string& name, const std::string& subject_label) {
    return registry_.CounterFamily(name, "", {"subject"}).WithLabels({subject_label}).Value();
  }
  double CounterValue(const std::string& name) {
    return registry_.CounterFamily(name, "").WithLabels({}).Value();
  }
  double GaugeValue(const std::string& name) {
    return registry_.GaugeFamily(name, "").WithLabels({}).Value();
  }
  /// Closes the bus, which first delivers everything queued: afterwards the collectors hold
  /// every delivery that will ever happen, so exact counts catch duplicates too.
  void Drain() { bus_->Close(std::chrono::steady_clock::now() + kWait); }

  std::string Log() {
    logger_->flush();
    return log_.str();
  }

  PrometheusMetricsRegistry registry_;
  std::ostringstream log_;
  std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<InMemoryEventBus> bus_;
};

TEST_F(InMemoryEventBusTest, FanOutDeliversEachMessageToEverySubscriberOfTheSubject) {
  Collector first, second, third, other;
  auto s1 = Subscribe("orders.created", first.Handler());
  auto s2 = Subscribe("orders.created", second.Handler());
  auto s3 = Subscribe("orders.created", third.Handler());
  auto s4 = Subscribe("orders.deleted", other.Handler());

  Publish("orders.created", "1");
  Publish("orders.deleted", "x");
  Drain();

  for (Collector* collector : {&first, &second, &third}) {
    ASSERT_TRUE(collector->WaitForCount(1));
    EXPECT_EQ(collector->data(), std::vector<std::string>{"1"});
  }
  ASSERT_TRUE(other.WaitForCount(1));
  EXPECT_EQ(other.data(), std::vector<std::string>{"x"});
}

TEST_F(InMemoryEventBusTest, WildcardSubscriptionsMatchPerNatsRules) {
  Collector star, tail, all, exact;
  auto s1 = Subscribe("files.*", star.Handler());
  auto s2 = Subscribe("files.>", tail.Handler());
  auto s3 = Subscribe(">", all.Handler());
  auto s4 = Subscribe("files.a.b", exact.Handler());

  Publish("files.a");
  Publish("files.a.b");
  Publish("other");
  // Last messages each subscription matches: anything wrongly routed before them would be
  // delivered first (per-subscription order), so the full lists below are exact.
  Publish("files.end");
  Publish("files.a.b");
  Drain();

  ASSERT_TRUE(star.WaitForCount(2));
  ASSERT_TRUE(tail.WaitForCount(4));
  ASSERT_TRUE(all.WaitForCount(5));
  ASSERT_TRUE(exact.WaitForCount(2));
  EXPECT_EQ(star.subjects(), (std::vector<std::string>{"files.a", "files.end"}));
  EXPECT_EQ(tail.subjects(),
            (std::vector<std::string>{"files.a", "files.a.b", "files.end", "files.a.b"}));
  EXPECT_EQ(all.subjects(),
            (std::vector<std::string>{"files.a", "files.a.b", "other", "files.end", "files.a.b"}));
  EXPECT_EQ(exact.subjects(), (std::vector<std::string>{"files.a.b", "files.a.b"}));
}

TEST_F(InMemoryEventBusTest, QueueGroupGivesEachMessageToExactlyOneMember) {
  constexpr int kMessages = 30;
  constexpr int kWorkers = 3;
  Collector plain;
  Collector group_all;  // every delivery to a worker, in any order
  Collector audit_all;
  std::vector<std::unique_ptr<BusSubscription>> subscriptions;
  std::vector<std::atomic<int>> per_worker(kWorkers);
  for (int i = 0; i < kWorkers; ++i) {
    subscriptions.push_back(Subscribe("jobs.>",
                                      [&, i](const BusMessage& message) {
                                        per_worker[i].fetch_add(1);
                                        group_all.Add(message);
                                      },
                                      {.queue_group = "workers"}));
  }
  for (int i = 0; i < 2; ++i) {
    subscriptions.push_back(Subscribe("jobs.>", audit_all.Handler(), {.queue_group = "audit"}));
  }
  subscriptions.push_back(Subscribe("jobs.run", plain.Handler()));

  for (int i = 0; i < kMessages; ++i) {
    Publish("jobs.run", std::to_string(i));
  }
  Drain();

  EXPECT_EQ(plain.size(), static_cast<std::size_t>(kMessages));
  for (Collector* collector : {&group_all, &audit_all}) {
    // Exactly kMessages deliveries of kMessages distinct payloads: none duplicated, none lost.
    auto data = collector->data();
    std::set<std::string> distinct(data.begin(), data.end());
    EXPECT_EQ(data.size(), static_cast<std::size_t>(kMessages));
    EXPECT_EQ(distinct.size(), static_cast<std::size_t>(kMessages));
  }
  for (int i = 0; i < kWorkers; ++i) {
    EXPECT_GE(per_worker[i].load(), 1) << "worker " << i << " got nothing";
  }
}

TEST_F(InMemoryEventBusTest, RequestReceivesTheReply) {
  auto responder = Subscribe("svc.echo",
                             [&](const BusMessage& request) {
                               auto replied = bus_->Reply(request, "echo:" + request.data);
                               EXPECT_TRUE(replied) << replied.error().ToString();
                             },
                             {.queue_group = "echoers"});

  auto reply = bus_->Request(Message("svc.echo", "hi"), std::chrono::milliseconds(10'000));

  ASSERT_TRUE(reply) << reply.error().ToString();
  EXPECT_EQ(reply->data, "echo:hi");
  EXPECT_TRUE(reply->subject.starts_with("_INBOX.")) << reply->subject;
}

TEST_F(InMemoryEventBusTest, RequestWithoutRespondersFailsAtOnceAndCleansUpItsInbox) {
  Collector unrelated;
  auto other = Subscribe("svc.other", unrelated.Handler());

  auto reply = bus_->Request(Message("svc.nobody", "hi"), std::chrono::milliseconds(60'000));

  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(reply.error().message, "no responders for svc.nobody");
  EXPECT_EQ(GaugeValue("streamgate_bus_subscriptions"), 1.0);  // only `other` is left
}

TEST_F(InMemoryEventBusTest, RequestTimesOutWhenTheResponderNeverReplies) {
  Collector silent;
  auto responder = Subscribe("svc.silent", silent.Handler());

  auto reply = bus_->Request(Message("svc.silent", "hi"), std::chrono::milliseconds(50));

  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(reply.error().message, "request to svc.silent timed out after 50ms");
  ASSERT_TRUE(silent.WaitForCount(1));
  EXPECT_FALSE(silent.messages()[0].reply_to.empty());
}

TEST_F(InMemoryEventBusTest, ReplyToAPlainEventIsAnError) {
  auto replied = bus_->Reply(Message("events.x"), "data");
  ASSERT_FALSE(replied);
  EXPECT_EQ(replied.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(InMemoryEventBusTest, ThrowingHandlerIsCountedAndLoggedAndOthersStillReceive) {
  Collector thrower_done, healthy;
  auto thrower = Subscribe("events.*", [&](const BusMessage& message) {
    if (message.data == "boom") {
      throw std::runtime_error("kaput");
    }
    if (message.data == "int") {
      throw 42;
    }
    thrower_done.Add(message);
  });
  auto other = Subscribe("events.>", healthy.Handler());

  Publish("events.a", "boom");
  Publish("events.a", "int");
  Publish("events.a", "boom");
  Publish("events.a", "done");

  // The failures were handled before "done" (same subscription, in order).
  ASSERT_TRUE(thrower_done.WaitForCount(1));
  ASSERT_TRUE(healthy.WaitForCount(4));
  EXPECT_EQ(healthy.data(), (std::vector<std::string>{"boom", "int", "boom", "done"}));
  EXPECT_EQ(CounterValue("streamgate_bus_handler_errors_total", "events.*"), 3.0);
  EXPECT_EQ(CounterValue("streamgate_bus_handler_errors_total", "events.>"), 0.0);
  std::string log = Log();
  EXPECT_NE(log.find("events.*"), std::string::npos) << log;
  EXPECT_NE(log.find("kaput"), std::string::npos) << log;
  EXPECT_NE(log.find("unknown exception"), std::string::npos) << log;
}

TEST_F(InMemoryEventBusTest, FullPendingQueueDropsNewMessagesAndCountsThem) {
  auto gate = std::make_shared<Gate>();
  Collector received;
  auto slow = Subscribe("slow.x",
                        [&received, gate](const BusMessage& message) {
                          if (message.data == "0") {
                            gate->Enter();
                          }
                          received.Add(message);
                        },
                        {.queue_group = "", .max_pending = 2});
  OpenOnExit open_on_exit{gate};

  Publish("slow.x", "0");
  ASSERT_TRUE(gate->WaitEntered());  // "0" is running, the queue is empty
  for (int i = 1; i <= 5; ++i) {
    Publish("slow.x", std::to_string(i));  // never blocks, even though nobody consumes
  }

  EXPECT_EQ(CounterValue("streamgate_bus_dropped_total", "slow.x"), 3.0);
  EXPECT_EQ(GaugeValue("streamgate_bus_pending_messages"), 2.0);
  std::string log = Log();
  EXPECT_NE(log.find("slow subscriber on slow.x"), std::string::npos) << log;
  gate->Open();
  ASSERT_TRUE(received.WaitForCount(3));
  Publish("slow.x", "6");  // room again
  ASSERT_TRUE(received.WaitForCount(4));
  EXPECT_EQ(received.data(), (std::vector<std::string>{"0", "1", "2", "6"}));
  EXPECT_EQ(CounterValue("streamgate_bus_dropped_total", "slow.x"), 3.0);
  EXPECT_EQ(GaugeValue("streamgate_bus_pending_messages"), 0.0);
}

TEST_F(InMemoryEventBusTest, DropWarningsAreRateLimited) {
  auto gate = std::make_shared<Gate>();
  auto slow = Subscribe("slow.y", [gate](const BusMessage&) { gate->Enter(); },
                        {.queue_group = "", .max_pending = 1});
  OpenOnExit open_on_exit{gate};  // after the subscription: opens before it unsubscribes
  Publish("slow.y");
  ASSERT_TRUE(gate->WaitEntered());

  for (int i = 0; i < 101; ++i) {
    Publish("slow.y");
  }

  EXPECT_EQ(CounterValue("streamgate_bus_dropped_total", "slow.y"), 100.0);
  std::string log = Log();
  std::size_t warnings = 0;
  for (auto at = log.find("slow subscriber"); at != std::string::npos;
       at = log.find("slow subscriber", at + 1)) {
    ++warnings;
  }
  EXPECT_GE(warnings, 1u);
  EXPECT_LT(warnings, 10u);  // one per second, not one per drop
}

TEST_F(InMemoryEventBusTest, UnsubscribeStopsDelivery) {
  Collector gone, staying;
  auto leaving = Subscribe("x.y", gone.Handler());
  auto remaining = Subscribe("x.y", staying.Handler());
  EXPECT_EQ(leaving->subject(), "x.y");
  Publish("x.y", "1");
  ASSERT_TRUE(gone.WaitForCount(1));
  ASSERT_TRUE(staying.WaitForCount(1));

  leaving->Unsubscribe();
  leaving->Unsubscribe();  // idempotent
  Publish("x.y", "2");

  ASSERT_TRUE(staying.WaitForCount(2));
  EXPECT_EQ(gone.data(), std::vector<std::string>{"1"});
  EXPECT_EQ(GaugeValue("streamgate_bus_subscriptions"), 1.0);
}

TEST_F(InMemoryEventBusTest, UnsubscribeWaitsUntilTheRunningHandlerReturns) {
  auto gate = std::make_shared<Gate>();
  auto finished = std::make_shared<std::atomic<bool>>(false);
  auto subscription = Subscribe("block.me", [gate, finished](const BusMessage&) {
    gate->Enter();
    finished->store(true);
  });
  OpenOnExit open_on_exit{gate};
  Publish("block.me");
  ASSERT_TRUE(gate->WaitEntered());

  std::atomic<bool> finished_when_unsubscribed{false};
  std::thread unsubscriber([&] {
    subscription->Unsubscribe();
    finished_when_unsubscribed.store(finished->load());
  });
  gate->Open();
  unsubscriber.join();

  EXPECT_TRUE(finished_when_unsubscribed.load());
}

TEST_F(InMemoryEventBusTest, UnsubscribeFromInsideItsOwnHandlerDoesNotDeadlock) {
  Collector calls, witness;
  std::unique_ptr<BusSubscription> self;
  std::mutex self_mutex;
  std::condition_variable unsubscribed;
  bool done = false;
  {
    std::lock_guard lock(self_mutex);
    self = Subscribe("once", [&](const BusMessage& message) {
      calls.Add(message);
      std::lock_guard inner(self_mutex);
      self->Unsubscribe();
      done = true;
      unsubscribed.notify_all();
    });
  }
  auto other = Subscribe("once", witness.Handler());

  Publish("once", "1");
  Publish("once", "2");
  Publish("once", "3");

  {
    std::unique_lock lock(self_mutex);
    ASSERT_TRUE(unsubscribed.wait_for(lock, kWait, [&] { return done; }));
  }
  ASSERT_TRUE(witness.WaitForCount(3));
  EXPECT_EQ(calls.data(), std::vector<std::string>{"1"});
}

TEST_F(InMemoryEventBusTest, SubscriptionHandleMayOutliveTheBus) {
  Collector collector;
  auto subscription = Subscribe("late", collector.Handler());
  bus_.reset();
  subscription->Unsubscribe();  // must neither crash nor hang
  SUCCEED();
}

TEST_F(InMemoryEventBusTest, EachSubscriptionSeesMessagesInPublishOrder) {
  Reset({.max_pending = 10000, .dispatch_threads = 4});
  constexpr int kMessages = 500;
  Collector first, second;
  auto s1 = Subscribe("seq", first.Handler());
  auto s2 = Subscribe("seq", second.Handler());

  std::vector<std::string> expected;
  for (int i = 0; i < kMessages; ++i) {
    expected.push_back(std::to_string(i));
    Publish("seq", expected.back());
  }
  Drain();

  ASSERT_TRUE(first.WaitForCount(kMessages));
  ASSERT_TRUE(second.WaitForCount(kMessages));
  EXPECT_EQ(first.data(), expected);
  EXPECT_EQ(second.data(), expected);
}

TEST_F(InMemoryEventBusTest, ABlockedHandlerDoesNotHoldUpOtherSubscriptions) {
  auto gate = std::make_shared<Gate>();
  Collector fast;
  auto slow = Subscribe("slow", [gate](const BusMessage&) { gate->Enter(); });
  auto quick = Subscribe("fast", fast.Handler());
  OpenOnExit open_on_exit{gate};

  Publish("slow");
  ASSERT_TRUE(gate->WaitEntered());
  Publish("fast", "through");

  EXPECT_TRUE(fast.WaitForCount(1));
}

TEST_F(InMemoryEventBusTest, HandlersMayPublishAndSubscribe) {
  Collector end;
  std::unique_ptr<BusSubscription> inner;
  std::mutex inner_mutex;
  auto start = Subscribe("chain.start", [&](const BusMessage& message) {
    std::lock_guard lock(inner_mutex);
    inner = Subscribe("chain.end", end.Handler());
    auto published = bus_->Publish(Message("chain.end", message.data + "!"));
    EXPECT_TRUE(published);
  });

  Publish("chain.start", "go");

  ASSERT_TRUE(end.WaitForCount(1));
  EXPECT_EQ(end.data(), std::vector<std::string>{"go!"});
  std::lock_guard lock(inner_mutex);
  inner.reset();
}

TEST_F(InMemoryEventBusTest, TraceparentComesFromTheRequestContext) {
  Collector received;
  std::string handler_trace_id;
  std::mutex trace_mutex;
  auto subscription = Subscribe("traced", [&](const BusMessage& message) {
    {
      std::lock_guard lock(trace_mutex);
      const RequestContext* context = CurrentRequestContext();
      handler_trace_id = context == nullptr ? "<none>" : context->trace.trace_id;
    }
    received.Add(message);
  });
  RequestContext context;
  context.request_id = "req-1";
  context.trace.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  context.trace.span_id = "00f067aa0ba902b7";
  context.trace.flags = 1;

  {
    ScopedRequestContext scope(&context);
    Publish("traced", "with context");
    BusMessage explicit_header = Message("traced", "explicit");
    explicit_header.headers["traceparent"] =
        "00-11111111111111111111111111111111-2222222222222222-00";
    ASSERT_TRUE(bus_->Publish(explicit_header));
  }
  Publish("traced", "without context");

  ASSERT_TRUE(received.WaitForCount(3));
  auto messages = received.messages();
  EXPECT_EQ(messages[0].headers.at("traceparent"),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_EQ(messages[1].headers.at("traceparent"),
            "00-11111111111111111111111111111111-2222222222222222-00");
  EXPECT_EQ(messages[2].headers.count("traceparent"), 0u);
  std::lock_guard lock(trace_mutex);
  EXPECT_EQ(handler_trace_id, "<none>");  // the last message carried no trace
}

TEST_F(InMemoryEventBusTest, HandlerRunsInTheTraceOfTheMessage) {
  Collector received;
  std::string seen;
  std::mutex seen_mutex;
  auto subscription = Subscribe("traced.handler", [&](const BusMessage& message) {
    {
      std::lock_guard lock(seen_mutex);
      const RequestContext* context = CurrentRequestContext();
      seen = context == nullptr ? "<none>" : context->trace.trace_id;
    }
    received.Add(message);
  });
  BusMessage message = Message("traced.handler");
  message.headers["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

  ASSERT_TRUE(bus_->Publish(message));

  ASSERT_TRUE(received.WaitForCount(1));
  std::lock_guard lock(seen_mutex);
  EXPECT_EQ(seen, "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST_F(InMemoryEventBusTest, InvalidSubjectsAreRejected) {
  Collector collector;
  EXPECT_EQ(bus_->Publish(Message("a.*")).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bus_->Publish(Message("a..b")).error().code, ErrorCode::kInvalidArgument);
  BusMessage bad_reply = Message("a.b");
  bad_reply.reply_to = "has space";
  EXPECT_EQ(bus_->Publish(bad_reply).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bus_->Subscribe("a.>.b", collector.Handler()).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(bus_->Subscribe("a.b", nullptr).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bus_->Subscribe("a.b", collector.Handler(), {.queue_group = "two words"}).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(bus_->Request(Message("a.>"), 10ms).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(CounterValue("streamgate_bus_messages_published_total"), 0.0);
}

TEST_F(InMemoryEventBusTest, PublishedAndDeliveredMessagesAreCounted) {
  Collector first, second;
  auto s1 = Subscribe("count.me", first.Handler());
  auto s2 = Subscribe("count.*", second.Handler());

  Publish("count.me");
  Publish("count.me");
  Publish("nobody.listens");
  Drain();

  EXPECT_EQ(first.size(), 2u);
  EXPECT_EQ(second.size(), 2u);
  EXPECT_EQ(CounterValue("streamgate_bus_messages_published_total"), 3.0);
  EXPECT_EQ(CounterValue("streamgate_bus_messages_delivered_total"), 4.0);
}

TEST_F(InMemoryEventBusTest, CloseDrainsQueuedMessagesThenRefusesNewWork) {
  std::atomic<int> handled{0};
  auto subscription = Subscribe("drain", [&](const BusMessage&) { handled.fetch_add(1); });
  for (int i = 0; i < 100; ++i) {
    Publish("drain");
  }

  bus_->Close(std::chrono::steady_clock::now() + kWait);

  EXPECT_EQ(handled.load(), 100);
  auto publish = bus_->Publish(Message("drain"));
  ASSERT_FALSE(publish);
  EXPECT_EQ(publish.error().code, ErrorCode::kUnavailable);
  auto subscribe = bus_->Subscribe("drain", [](const BusMessage&) {});
  ASSERT_FALSE(subscribe);
  EXPECT_EQ(subscribe.error().code, ErrorCode::kUnavailable);
  auto request = bus_->Request(Message("drain"), 10ms);
  ASSERT_FALSE(request);
  EXPECT_EQ(request.error().code, ErrorCode::kUnavailable);
  bus_->Close(std::chrono::steady_clock::now());  // idempotent
}

}  // namespace
}  // namespace sg::core
