#include "plugins/content/content_events.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <string>

namespace sg::plugins::content {
namespace {

std::shared_ptr<spdlog::logger> NullLogger() {
  return std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

BusMessage Event(std::string kind, std::string data) {
  return {.subject = "streamgate.transcoding." + kind, .data = std::move(data)};
}

std::string Drain(ResponseStream& stream) {
  std::string out;
  stream.TakeQueued(out);
  return out;
}

TEST(ContentEventsTest, FramesAreServerSentEvents) {
  EXPECT_EQ(FormatSseEvent("status", R"({"a":1})"), "event: status\ndata: {\"a\":1}\n\n");
}

TEST(ContentEventsTest, TranscodingEventsBecomeStatusAndProgress) {
  auto started = TranslateTranscodingEvent(Event("started", R"({"content_id":"c1","job_id":"j"})"));
  ASSERT_TRUE(started);
  EXPECT_EQ(started->content_id, "c1");
  EXPECT_NE(started->frame.find(R"("status":"processing")"), std::string::npos);
  EXPECT_FALSE(started->terminal);

  auto progress = TranslateTranscodingEvent(
      Event("progress", R"({"content_id":"c1","percent":42.5,"eta_seconds":null})"));
  ASSERT_TRUE(progress);
  EXPECT_EQ(progress->frame,
            "event: progress\ndata: {\"content_id\":\"c1\",\"percent\":4.25E1,\"eta_seconds\":null}"
            "\n\n");

  auto completed = TranslateTranscodingEvent(Event("completed", R"({"content_id":"c1"})"));
  ASSERT_TRUE(completed);
  EXPECT_TRUE(completed->terminal);
  EXPECT_NE(completed->frame.find(R"("status":"ready")"), std::string::npos);
}

TEST(ContentEventsTest, OnlyAFinalFailureEndsTheStream) {
  auto retrying = TranslateTranscodingEvent(
      Event("failed", R"({"content_id":"c1","attempt":1,"error":"boom","final":false})"));
  ASSERT_TRUE(retrying);
  EXPECT_FALSE(retrying->terminal);
  EXPECT_NE(retrying->frame.find("attempt 1 failed: boom; retrying"), std::string::npos);

  auto dead = TranslateTranscodingEvent(
      Event("failed", R"({"content_id":"c1","attempt":3,"error":"boom","final":true})"));
  ASSERT_TRUE(dead);
  EXPECT_TRUE(dead->terminal);
  EXPECT_NE(dead->frame.find(R"("status":"failed","reason":"boom")"), std::string::npos);
}

TEST(ContentEventsTest, MalformedOrForeignMessagesCarryNothing) {
  EXPECT_FALSE(TranslateTranscodingEvent(Event("progress", "not json")));
  EXPECT_FALSE(TranslateTranscodingEvent(Event("progress", "[1]")));
  EXPECT_FALSE(TranslateTranscodingEvent(Event("progress", R"({"percent":3})")));
  EXPECT_FALSE(TranslateTranscodingEvent(Event("exploded", R"({"content_id":"c1"})")));
  EXPECT_FALSE(TranslateTranscodingEvent(
      BusMessage{.subject = "streamgate.file.uploaded", .data = R"({"content_id":"c1"})"}));
}

TEST(ContentEventsTest, HubDeliversOnlyToWatchersOfThatContentAndEndsOnTerminal) {
  ContentEventHub hub({}, NullLogger());
  auto mine = hub.Open("c1");
  auto other = hub.Open("c2");
  ASSERT_TRUE(mine && other);
  hub.Deliver(Event("progress", R"({"content_id":"c1","percent":10})"));
  EXPECT_NE(Drain(**mine).find("event: progress"), std::string::npos);
  EXPECT_EQ(Drain(**other), "");

  hub.Deliver(Event("completed", R"({"content_id":"c1"})"));
  std::string out;
  EXPECT_EQ((*mine)->TakeQueued(out), ResponseStream::Take::kData);
  EXPECT_EQ((*mine)->TakeQueued(out), ResponseStream::Take::kEnded);
  EXPECT_TRUE((*other)->active());
}

TEST(ContentEventsTest, StreamsAreBoundedAndACancelledOneFreesItsPlace) {
  ContentEventHub hub({.max_streams = 2}, NullLogger());
  auto first = hub.Open("c1");
  auto second = hub.Open("c1");
  ASSERT_TRUE(first && second);
  auto third = hub.Open("c2");
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, ErrorCode::kResourceExhausted);
  (*first)->Cancel();  // the gateway does this when the client goes away
  EXPECT_EQ(hub.open_streams(), 1u);
  EXPECT_TRUE(hub.Open("c2"));
}

TEST(ContentEventsTest, AWatcherThatStopsReadingIsCutOffAndForgotten) {
  ContentEventHub hub({.max_buffered_bytes = 200}, NullLogger());
  auto slow = hub.Open("c1");
  ASSERT_TRUE(slow);
  for (int i = 0; i < 10; ++i) {
    hub.Deliver(Event("progress", R"({"content_id":"c1","percent":10})"));
  }
  EXPECT_TRUE((*slow)->overflowed());
  EXPECT_EQ(hub.open_streams(), 0u);
}

TEST(ContentEventsTest, StopEndsEveryOpenStream) {
  ContentEventHub hub({}, NullLogger());
  auto stream = hub.Open("c1");
  ASSERT_TRUE(stream);
  hub.Stop();
  std::string out;
  EXPECT_EQ((*stream)->TakeQueued(out), ResponseStream::Take::kEnded);
}

TEST(ContentEventsTest, AStreamOutlivingTheHubCanStillBeCancelled) {
  std::shared_ptr<ResponseStream> kept;
  {
    ContentEventHub hub({}, NullLogger());
    kept = *hub.Open("c1");
  }
  kept->Cancel();  // must not touch the destroyed hub
  EXPECT_FALSE(kept->active());
}

}  // namespace
}  // namespace sg::plugins::content
