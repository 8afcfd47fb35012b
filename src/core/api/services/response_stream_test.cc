#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "core/api/services/http.h"

namespace sg {
namespace {

TEST(ResponseStreamTest, DeliversPushedBytesInOrderThenEnds) {
  ResponseStream stream({});
  int wakeups = 0;
  stream.SetWakeup([&] { ++wakeups; });
  std::string out;
  EXPECT_EQ(stream.TakeQueued(out), ResponseStream::Take::kEmpty);
  EXPECT_TRUE(stream.Push("a"));
  EXPECT_TRUE(stream.Push("b"));
  EXPECT_EQ(stream.TakeQueued(out), ResponseStream::Take::kData);
  EXPECT_EQ(out, "ab");
  stream.End();
  EXPECT_EQ(wakeups, 3);
  EXPECT_EQ(stream.TakeQueued(out), ResponseStream::Take::kEnded);
  EXPECT_FALSE(stream.Push("late"));
}

TEST(ResponseStreamTest, DataQueuedBeforeEndIsStillDelivered) {
  ResponseStream stream({});
  stream.Push("last words");
  stream.End();
  std::string out;
  EXPECT_EQ(stream.TakeQueued(out), ResponseStream::Take::kData);
  EXPECT_EQ(out, "last words");
  EXPECT_EQ(stream.TakeQueued(out), ResponseStream::Take::kEnded);
}

TEST(ResponseStreamTest, ASlowConsumerIsCutOffInsteadOfBufferingWithoutLimit) {
  ResponseStream stream({.max_buffered_bytes = 8});
  std::atomic<int> cancels = 0;
  stream.OnCancel([&] { ++cancels; });
  EXPECT_TRUE(stream.Push("12345678"));
  EXPECT_FALSE(stream.Push("9"));
  EXPECT_TRUE(stream.overflowed());
  EXPECT_FALSE(stream.active());
  EXPECT_EQ(cancels.load(), 1);
}

TEST(ResponseStreamTest, CancelRunsTheCallbackOnceAndStopsTheProducer) {
  ResponseStream stream({});
  int cancels = 0;
  stream.OnCancel([&] { ++cancels; });
  stream.Cancel();
  stream.Cancel();
  EXPECT_EQ(cancels, 1);
  EXPECT_FALSE(stream.Push("x"));
  EXPECT_FALSE(stream.overflowed());
}

TEST(ResponseStreamTest, CallbackRegisteredAfterCancelRunsAtOnce) {
  ResponseStream stream({});
  stream.Cancel();
  bool called = false;
  stream.OnCancel([&] { called = true; });
  EXPECT_TRUE(called);
}

}  // namespace
}  // namespace sg
