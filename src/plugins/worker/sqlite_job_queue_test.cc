#include "plugins/worker/sqlite_job_queue.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <set>

#include "core/api/services/metadata_store.h"
#include "core/testing/fake_clock.h"
#include "core/testing/fake_random.h"
#include "plugins/worker/test_util.h"

namespace sg::plugins::worker {
namespace {

using namespace std::chrono_literals;
using sg::testing::FakeClock;
using sg::testing::FakeRandom;

class SqliteJobQueueTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() { OpenWith(random_); }

  void OpenWith(Random& random) {
    queue_.reset();  // closes the file first, as a restart does
    SqliteJobQueue::Options options;
    options.path = dir_.path() / "jobs.sqlite3";
    options.default_max_attempts = 3;
    options.backoff = {.initial = 5s, .max = 5min, .multiplier = 2.0, .jitter = 0.2};
    auto opened = SqliteJobQueue::Open(options, clock_, random);
    ASSERT_TRUE(opened) << opened.error().ToString();
    queue_ = *opened;
  }

  Job Add(std::string type = "transcode", int priority = 0, std::string key = "",
          int max_attempts = 0, std::string content_id = "", std::string owner = "") {
    JobSpec spec;
    spec.type = std::move(type);
    spec.payload = R"({"x":1})";
    spec.priority = priority;
    spec.idempotency_key = std::move(key);
    spec.max_attempts = max_attempts;
    spec.content_id = std::move(content_id);
    spec.owner = std::move(owner);
    auto job = queue_->Enqueue(spec);
    EXPECT_TRUE(job) << job.error().ToString();
    return job ? *job : Job{};
  }

  std::optional<JobLease> Take(std::string worker = "w1", Duration visibility = 30s,
                               std::vector<std::string> types = {}) {
    auto lease = queue_->Lease(types, worker, visibility);
    EXPECT_TRUE(lease) << lease.error().ToString();
    return lease ? *lease : std::nullopt;
  }

  Job Stored(const std::string& id) {
    auto job = queue_->Get(id);
    EXPECT_TRUE(job) << job.error().ToString();
    return job ? *job : Job{};
  }

  Duration WaitOf(const Job& job) { return job.not_before - clock_.WallNow(); }

  testing::TempDir dir_;
  FakeClock clock_;
  FakeRandom random_{{0.5}};
  std::shared_ptr<SqliteJobQueue> queue_;
};

TEST_F(SqliteJobQueueTest, EnqueuedJobIsQueuedWithTheDefaultMaxAttempts) {
  Job job = Add();
  EXPECT_TRUE(IsValidId(job.id));
  EXPECT_EQ(job.state, job_state::kQueued);
  EXPECT_EQ(job.attempts, 0);
  EXPECT_EQ(job.max_attempts, 3);
  EXPECT_EQ(job.payload, R"({"x":1})");
  EXPECT_EQ(job.created_at, clock_.WallNow());
  EXPECT_FALSE(job.finished_at);
}

TEST_F(SqliteJobQueueTest, EnqueueRejectsABadTypeAndAPayloadThatIsNotJson) {
  auto bad_type = queue_->Enqueue({.type = "Trans Code"});
  ASSERT_FALSE(bad_type);
  EXPECT_EQ(bad_type.error().code, ErrorCode::kInvalidArgument);
  auto bad_payload = queue_->Enqueue({.type = "transcode", .payload = "{nope"});
  ASSERT_FALSE(bad_payload);
  EXPECT_EQ(bad_payload.error().code, ErrorCode::kInvalidArgument);
  auto empty_payload = queue_->Enqueue({.type = "transcode"});
  ASSERT_TRUE(empty_payload);
  EXPECT_EQ(empty_payload->payload, "{}");
}

TEST_F(SqliteJobQueueTest, EnqueueWithAUsedIdempotencyKeyReturnsTheExistingJobInAnyState) {
  int ready_calls = 0;
  queue_->SetListener({.on_ready = [&](const Job&) { ++ready_calls; }});
  Job first = Add("transcode", 0, "content-1");
  auto lease = Take();
  ASSERT_TRUE(lease);
  ASSERT_TRUE(queue_->Ack(*lease, R"({"ok":true})"));
  Job again = Add("transcode", 5, "content-1");
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(again.state, job_state::kSucceeded);
  EXPECT_EQ(again.priority, 0);
  EXPECT_EQ(ready_calls, 1);
  Job other = Add("transcode", 0, "content-2");
  EXPECT_NE(other.id, first.id);
  Job unkeyed1 = Add();
  Job unkeyed2 = Add();
  EXPECT_NE(unkeyed1.id, unkeyed2.id);
}

TEST_F(SqliteJobQueueTest, LeaseTakesTheHighestPriorityThenTheOldest) {
  Job low = Add("a", 0);
  clock_.Advance(1ms);
  Job high_old = Add("a", 10);
  clock_.Advance(1ms);
  Job high_new = Add("a", 10);
  std::vector<std::string> order;
  while (auto lease = Take()) {
    order.push_back(lease->job.id);
  }
  EXPECT_EQ(order, (std::vector<std::string>{high_old.id, high_new.id, low.id}));
}

TEST_F(SqliteJobQueueTest, LeaseOnlyTakesTheRequestedTypes) {
  Add("upload.cleanup");
  EXPECT_FALSE(Take("w1", 30s, {"transcode"}));
  auto lease = Take("w1", 30s, {"transcode", "upload.cleanup"});
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->job.type, "upload.cleanup");
  EXPECT_EQ(lease->job.state, job_state::kRunning);
  EXPECT_EQ(lease->job.attempts, 1);
  EXPECT_EQ(lease->job.lease_owner, "w1");
  EXPECT_EQ(lease->expires_at, clock_.WallNow() + 30s);
}

TEST_F(SqliteJobQueueTest, AJobIsNotLeasableBeforeItsNotBefore) {
  auto job = queue_->Enqueue({.type = "a", .not_before = clock_.WallNow() + 10s});
  ASSERT_TRUE(job);
  EXPECT_FALSE(Take());
  clock_.Advance(10s);
  EXPECT_TRUE(Take());
}

TEST_F(SqliteJobQueueTest, AnExpiredLeaseIsTakenOverAndTheOldLeaseIsLost) {
  Job job = Add();
  auto first = Take("w1");
  ASSERT_TRUE(first);
  EXPECT_FALSE(Take("w2")) << "a held lease is not leasable";
  clock_.Advance(30s);
  auto second = Take("w2");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->job.id, job.id);
  EXPECT_EQ(second->job.attempts, 2);
  EXPECT_NE(second->token, first->token);
  EXPECT_NE(second->job.last_error.find("lease expired"), std::string::npos);

  auto ack = queue_->Ack(*first);
  ASSERT_FALSE(ack);
  EXPECT_EQ(ack.error().code, ErrorCode::kAlreadyExists);
  EXPECT_NE(ack.error().message.find("lease lost"), std::string::npos);
  auto nack = queue_->Nack(*first, "late");
  ASSERT_FALSE(nack);
  EXPECT_EQ(nack.error().code, ErrorCode::kAlreadyExists);
  auto heartbeat = queue_->Heartbeat(*first, 30s);
  ASSERT_FALSE(heartbeat);
  EXPECT_EQ(heartbeat.error().code, ErrorCode::kAlreadyExists);

  auto done = queue_->Ack(*second, R"({"n":2})");
  ASSERT_TRUE(done) << done.error().ToString();
  EXPECT_EQ(done->state, job_state::kSucceeded);
  EXPECT_EQ(done->result, R"({"n":2})");
  EXPECT_EQ(done->finished_at, clock_.WallNow());
}

TEST_F(SqliteJobQueueTest, HeartbeatKeepsTheLeaseAndRecordsProgress) {
  Job job = Add();
  auto lease = Take("w1", 30s);
  ASSERT_TRUE(lease);
  clock_.Advance(20s);
  ASSERT_TRUE(queue_->Heartbeat(*lease, 30s, JobProgress{.fraction = 0.5, .eta_seconds = 12}));
  EXPECT_EQ(lease->expires_at, clock_.WallNow() + 30s);
  clock_.Advance(20s);  // 40 s after the lease: alive only thanks to the heartbeat
  EXPECT_FALSE(Take("w2"));
  Job stored = Stored(job.id);
  EXPECT_DOUBLE_EQ(stored.progress, 0.5);
  ASSERT_TRUE(stored.eta_seconds);
  EXPECT_DOUBLE_EQ(*stored.eta_seconds, 12);
  ASSERT_TRUE(queue_->Heartbeat(*lease, 30s));  // no progress: keeps the last one
  EXPECT_DOUBLE_EQ(Stored(job.id).progress, 0.5);
  clock_.Advance(31s);
  EXPECT_TRUE(Take("w2"));
}

TEST_F(SqliteJobQueueTest, AckAndNackAfterSuccessAreLeaseLost) {
  Add();
  auto lease = Take();
  ASSERT_TRUE(lease);
  ASSERT_TRUE(queue_->Ack(*lease));
  auto again = queue_->Ack(*lease);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(queue_->Nack(*lease, "x").error().code, ErrorCode::kAlreadyExists);
}

TEST_F(SqliteJobQueueTest, AckRejectsAResultThatIsNotJson) {
  Add();
  auto lease = Take();
  ASSERT_TRUE(lease);
  auto ack = queue_->Ack(*lease, "{oops");
  ASSERT_FALSE(ack);
  EXPECT_EQ(ack.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(SqliteJobQueueTest, NackWithADelayQueuesTheJobAgainAfterIt) {
  Job job = Add();
  auto lease = Take();
  ASSERT_TRUE(lease);
  auto nacked = queue_->Nack(*lease, "busy", 7s);
  ASSERT_TRUE(nacked);
  EXPECT_EQ(nacked->state, job_state::kQueued);
  EXPECT_EQ(nacked->last_error, "busy");
  EXPECT_EQ(WaitOf(*nacked), 7s);
  clock_.Advance(6s);
  EXPECT_FALSE(Take());
  clock_.Advance(1s);
  auto next = Take();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->job.attempts, 2);
  EXPECT_EQ(next->job.last_error, "busy");
}

TEST_F(SqliteJobQueueTest, BackoffDelaysGrowAndStayWithinTheJitterBounds) {
  // Each Lease draws one unit for its token, each Nack one for the jitter: the nacks see
  // 0.0 (-20 %), 0.999999 (+20 %) and 0.5 (no change).
  FakeRandom random({0.3, 0.0, 0.3, 0.999999, 0.3, 0.5, 0.3, 0.5});
  OpenWith(random);
  Job job = Add("a", 0, "", 5);
  std::vector<Duration> waits;
  for (int i = 0; i < 4; ++i) {
    auto lease = Take();
    ASSERT_TRUE(lease) << "attempt " << i + 1;
    auto nacked = queue_->Nack(*lease, "boom");
    ASSERT_TRUE(nacked);
    waits.push_back(WaitOf(*nacked));
    clock_.Advance(waits.back());
  }
  EXPECT_EQ(waits[0], 4s);  // 5 s - 20 %
  EXPECT_GE(waits[1], 11'999ms);
  EXPECT_LE(waits[1], 12s);  // 10 s + 20 %
  EXPECT_EQ(waits[2], 20s);
  EXPECT_EQ(waits[3], 40s);
  for (std::size_t i = 1; i < waits.size(); ++i) {
    EXPECT_GT(waits[i], waits[i - 1]);
  }
}

TEST_F(SqliteJobQueueTest, BackoffNeverExceedsItsMaximum) {
  Job job = Add("a", 0, "", 20);
  for (int i = 0; i < 12; ++i) {
    auto lease = Take();
    ASSERT_TRUE(lease);
    auto nacked = queue_->Nack(*lease, "boom");
    ASSERT_TRUE(nacked);
    EXPECT_LE(WaitOf(*nacked), 5min);
    clock_.Advance(WaitOf(*nacked));
  }
}

TEST_F(SqliteJobQueueTest, AfterMaxAttemptsTheJobIsDeadWithItsLastError) {
  Job job = Add("a", 0, "", 2);
  auto first = Take();
  ASSERT_TRUE(first);
  auto retried = queue_->Nack(*first, "boom 1", 0s);
  ASSERT_TRUE(retried);
  EXPECT_EQ(retried->state, job_state::kQueued);
  auto second = Take();
  ASSERT_TRUE(second);
  auto dead = queue_->Nack(*second, "boom 2");
  ASSERT_TRUE(dead);
  EXPECT_EQ(dead->state, job_state::kDead);
  EXPECT_EQ(dead->last_error, "boom 2");
  EXPECT_EQ(dead->attempts, 2);
  EXPECT_EQ(dead->finished_at, clock_.WallNow());
  clock_.Advance(1h);
  EXPECT_FALSE(Take());
}

TEST_F(SqliteJobQueueTest, PermanentNackDeadLettersAtOnce) {
  Job job = Add("a", 0, "", 5);
  auto lease = Take();
  ASSERT_TRUE(lease);
  auto dead = queue_->Nack(*lease, "not a video", std::nullopt, true);
  ASSERT_TRUE(dead);
  EXPECT_EQ(dead->state, job_state::kDead);
  EXPECT_EQ(dead->attempts, 1);
}

TEST_F(SqliteJobQueueTest, AJobWhoseLeaseKeepsExpiringEndsDead) {
  std::vector<Job> dead_lettered;
  queue_->SetListener({.on_dead_lettered = [&](const Job& j) { dead_lettered.push_back(j); }});
  Job job = Add("a", 0, "", 2);
  ASSERT_TRUE(Take());
  clock_.Advance(31s);
  ASSERT_TRUE(Take());
  clock_.Advance(31s);
  EXPECT_FALSE(Take()) << "the third lease dead-letters instead";
  Job stored = Stored(job.id);
  EXPECT_EQ(stored.state, job_state::kDead);
  EXPECT_EQ(stored.last_error, "lease expired 2 times");
  EXPECT_TRUE(stored.finished_at);
  ASSERT_EQ(dead_lettered.size(), 1u);
  EXPECT_EQ(dead_lettered[0].id, job.id);
  EXPECT_EQ(dead_lettered[0].state, job_state::kDead);
}

TEST_F(SqliteJobQueueTest, ADeadLetteredJobDoesNotHideTheNextReadyOne) {
  Job doomed = Add("a", 5, "", 1);
  ASSERT_TRUE(Take());
  clock_.Advance(31s);
  Job next = Add("a", 0);
  auto lease = Take();
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->job.id, next.id);
  EXPECT_EQ(Stored(doomed.id).state, job_state::kDead);
}

TEST_F(SqliteJobQueueTest, RetryOfADeadJobQueuesItWithAttemptsReset) {
  int ready_calls = 0;
  Job job = Add("a", 0, "", 1);
  queue_->SetListener({.on_ready = [&](const Job&) { ++ready_calls; }});
  auto lease = Take();
  ASSERT_TRUE(lease);
  ASSERT_TRUE(queue_->Nack(*lease, "boom"));
  auto retried = queue_->Retry(job.id);
  ASSERT_TRUE(retried) << retried.error().ToString();
  EXPECT_EQ(retried->state, job_state::kQueued);
  EXPECT_EQ(retried->attempts, 0);
  EXPECT_FALSE(retried->finished_at);
  EXPECT_EQ(retried->last_error, "boom");
  EXPECT_EQ(ready_calls, 1);
  auto again = Take();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->job.attempts, 1);
  EXPECT_NE(again->token, lease->token);
  EXPECT_EQ(queue_->Ack(*lease).error().code, ErrorCode::kAlreadyExists)
      << "a lease from before the retry stays lost";
}

TEST_F(SqliteJobQueueTest, RetryOfAJobThatIsNotDeadIsAConflictNamingItsState) {
  Job job = Add();
  auto retried = queue_->Retry(job.id);
  ASSERT_FALSE(retried);
  EXPECT_EQ(retried.error().code, ErrorCode::kAlreadyExists);
  EXPECT_NE(retried.error().message.find("queued"), std::string::npos);
  auto unknown = queue_->Retry("aaaaaaaaaaaaaaaaaaaa");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
}

TEST_F(SqliteJobQueueTest, GetOfAnUnknownJobIsNotFound) {
  auto job = queue_->Get("aaaaaaaaaaaaaaaaaaaa");
  ASSERT_FALSE(job);
  EXPECT_EQ(job.error().code, ErrorCode::kNotFound);
}

TEST_F(SqliteJobQueueTest, ListFiltersAndPagesNewestFirst) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(
        Add("transcode", 0, "", 0, i % 2 == 0 ? "content-a" : "content-b", i < 3 ? "alice" : "bob")
            .id);
    clock_.Advance(1ms);
  }
  Job cleanup = Add("upload.cleanup");
  auto lease = Take("w1", 30s, {"upload.cleanup"});
  ASSERT_TRUE(lease);

  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto page = queue_->List({.limit = 2, .cursor = cursor});
    ASSERT_TRUE(page) << page.error().ToString();
    for (const auto& job : page->items) {
      seen.push_back(job.id);
    }
    cursor = page->next_cursor;
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<std::string>{cleanup.id, ids[4], ids[3], ids[2], ids[1], ids[0]}));

  auto by_content = queue_->List({.content_id = "content-a"});
  ASSERT_TRUE(by_content);
  ASSERT_EQ(by_content->items.size(), 3u);
  EXPECT_EQ(by_content->items[0].id, ids[4]);
  EXPECT_TRUE(by_content->next_cursor.empty());

  auto running = queue_->List({.state = "running"});
  ASSERT_TRUE(running);
  ASSERT_EQ(running->items.size(), 1u);
  EXPECT_EQ(running->items[0].id, cleanup.id);

  auto bobs = queue_->List({.type = "transcode", .owner = "bob"});
  ASSERT_TRUE(bobs);
  EXPECT_EQ(bobs->items.size(), 2u);
}

TEST_F(SqliteJobQueueTest, ListRejectsABadLimitStateOrCursor) {
  EXPECT_EQ(queue_->List({.limit = 0}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(queue_->List({.limit = 201}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(queue_->List({.state = "sleeping"}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(queue_->List({.cursor = "zz"}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(queue_->List({.cursor = "312e32"}).error().code, ErrorCode::kInvalidArgument);
}

TEST_F(SqliteJobQueueTest, CountsSplitReadyDelayedRunningAndDead) {
  Add("a");
  Add("a");
  Add("b");
  auto running = Take("w1", 30s, {"b"});
  ASSERT_TRUE(running);
  auto delayed = Take("w1", 30s, {"a"});
  ASSERT_TRUE(delayed);
  ASSERT_TRUE(queue_->Nack(*delayed, "later", 1min));
  auto dead = Take("w1", 30s, {"a"});
  ASSERT_TRUE(dead);
  ASSERT_TRUE(queue_->Nack(*dead, "bad", std::nullopt, true));
  Add("a");

  auto all = queue_->Counts();
  ASSERT_TRUE(all);
  EXPECT_EQ(all->ready, 1u);
  EXPECT_EQ(all->delayed, 1u);
  EXPECT_EQ(all->running, 1u);
  EXPECT_EQ(all->dead, 1u);
  auto only_b = queue_->Counts({"b"});
  ASSERT_TRUE(only_b);
  EXPECT_EQ(only_b->ready, 0u);
  EXPECT_EQ(only_b->running, 1u);
  clock_.Advance(31s);  // b's lease expired: leasable, so ready
  only_b = queue_->Counts({"b"});
  ASSERT_TRUE(only_b);
  EXPECT_EQ(only_b->ready, 1u);
  EXPECT_EQ(only_b->running, 0u);
}

TEST_F(SqliteJobQueueTest, ReleaseQueuesTheJobAgainWithoutCountingTheAttempt) {
  Job job = Add("a", 0, "", 1);
  auto lease = Take();
  ASSERT_TRUE(lease);
  auto released = queue_->Release(*lease, "server stopping");
  ASSERT_TRUE(released);
  EXPECT_EQ(released->state, job_state::kQueued);
  EXPECT_EQ(released->attempts, 0);
  auto again = Take();
  ASSERT_TRUE(again) << "released at once, and its only attempt is still available";
  EXPECT_EQ(again->job.attempts, 1);
  EXPECT_EQ(queue_->Release(*lease, "x").error().code, ErrorCode::kAlreadyExists);
}

TEST_F(SqliteJobQueueTest, JobsAndLeasesSurviveARestart) {
  Job waiting = Add("a", 0, "key-1");
  clock_.Advance(1ms);
  Job running = Add("b");
  auto lease = Take("w1", 30s, {"b"});
  ASSERT_TRUE(lease);

  Reopen();

  EXPECT_EQ(Stored(waiting.id).state, job_state::kQueued);
  EXPECT_EQ(Stored(running.id).state, job_state::kRunning);
  EXPECT_EQ(Add("a", 0, "key-1").id, waiting.id) << "idempotency keys persist";
  EXPECT_FALSE(Take("w2", 30s, {"b"})) << "the dead process's lease still holds";
  clock_.Advance(30s);
  auto taken = Take("w2", 30s, {"b"});
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->job.id, running.id);
  EXPECT_EQ(taken->job.attempts, 2);
  EXPECT_EQ(queue_->Ack(*lease).error().code, ErrorCode::kAlreadyExists);
}

TEST_F(SqliteJobQueueTest, PurgeDeletesOnlyOldSucceededJobs) {
  Job done = Add("a", 0, "slot-1");
  auto lease = Take();
  ASSERT_TRUE(lease);
  ASSERT_TRUE(queue_->Ack(*lease));
  Job queued = Add("a");
  clock_.Advance(2h);
  auto purged = queue_->PurgeSucceeded(clock_.WallNow() - 1h);
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 1u);
  EXPECT_EQ(queue_->Get(done.id).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(queue_->Get(queued.id));
}

TEST_F(SqliteJobQueueTest, OpenRefusesADatabaseWithANewerSchema) {
  queue_.reset();
  {
    SQLite::Database db((dir_.path() / "jobs.sqlite3").string(), SQLite::OPEN_READWRITE);
    db.exec("INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)");
  }
  SqliteJobQueue::Options options;
  options.path = dir_.path() / "jobs.sqlite3";
  auto opened = SqliteJobQueue::Open(options, clock_, random_);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(SqliteJobQueueTest, CallsAfterCloseAreUnavailable) {
  queue_->Close();
  EXPECT_EQ(queue_->Get("aaaaaaaaaaaaaaaaaaaa").error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(queue_->Ping().error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace sg::plugins::worker
