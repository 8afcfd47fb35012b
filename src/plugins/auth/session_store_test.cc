#include "plugins/auth/session_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <fstream>
#include <set>
#include <thread>

#include "core/testing/fake_clock.h"
#include "core/testing/temp_dir.h"

namespace sg::plugins::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using namespace std::chrono_literals;

constexpr std::string_view kSubject = "eip155:1:0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B";
const std::vector<std::string> kRoles = {"viewer", "creator"};

class AuthSessionStoreTest : public ::testing::Test {
 protected:
  AuthSessionStoreOptions Options() const {
    return {.path = dir_.path() / "data" / "auth.sqlite3",
            .nonce_ttl = 5min,
            .refresh_ttl = 30 * 24h,
            .session_max_lifetime = 90 * 24h,
            .purge_interval = 1min};
  }

  void SetUp() override {
    auto store = AuthSessionStore::Open(Options(), clock_);
    ASSERT_TRUE(store) << store.error().ToString();
    store_ = std::move(*store);
  }

  RefreshSession SignIn() {
    auto session = store_->IssueRefresh(kSubject, kRoles);
    SG_CHECK(session.has_value(), "issue refresh");
    return *session;
  }

  /// Every column of every row, to show what the file holds.
  std::string DumpDatabase() {
    SQLite::Database db(Options().path.string(), SQLite::OPEN_READONLY);
    std::string dump;
    for (const char* table : {"nonces", "refresh_families", "refresh_tokens"}) {
      SQLite::Statement query(db, std::string("SELECT * FROM ") + table);
      while (query.executeStep()) {
        for (int i = 0; i < query.getColumnCount(); ++i) {
          dump += query.getColumn(i).getString() + "|";
        }
        dump += "\n";
      }
    }
    return dump;
  }

  std::int64_t CountRows(const std::string& table) {
    SQLite::Database db(Options().path.string(), SQLite::OPEN_READONLY);
    return db.execAndGet("SELECT COUNT(*) FROM " + table).getInt64();
  }

  testing::TempDir dir_{"sg-auth-sessions"};
  testing::FakeClock clock_;
  std::unique_ptr<AuthSessionStore> store_;
};

// ---- Nonces ------------------------------------------------------------------------------

TEST_F(AuthSessionStoreTest, NoncesAreLongAlphanumericAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto nonce = store_->IssueNonce();
    ASSERT_TRUE(nonce) << nonce.error().ToString();
    EXPECT_THAT(*nonce, MatchesRegex("[A-Za-z0-9]{24}"));
    EXPECT_TRUE(seen.insert(*nonce).second);
  }
}

TEST_F(AuthSessionStoreTest, ANonceIsConsumedExactlyOnce) {
  auto nonce = store_->IssueNonce();
  ASSERT_TRUE(nonce);

  auto first = store_->ConsumeNonce(*nonce);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_TRUE(*first);
  EXPECT_EQ(store_->ConsumeNonce(*nonce), false);
}

TEST_F(AuthSessionStoreTest, UnknownAndMalformedNoncesAreRefused) {
  EXPECT_EQ(store_->ConsumeNonce("AAAAAAAAAAAAAAAAAAAAAAAA"), false);
  EXPECT_EQ(store_->ConsumeNonce(""), false);
  EXPECT_EQ(store_->ConsumeNonce("x' OR '1'='1"), false);
  EXPECT_EQ(store_->ConsumeNonce(std::string(1000, 'a')), false);
}

TEST_F(AuthSessionStoreTest, ANonceExpiresAfterItsTtl) {
  auto fresh = store_->IssueNonce();
  auto stale = store_->IssueNonce();
  ASSERT_TRUE(fresh && stale);

  clock_.Advance(5min - 1ms);
  EXPECT_EQ(store_->ConsumeNonce(*fresh), true);
  clock_.Advance(1ms);
  EXPECT_EQ(store_->ConsumeNonce(*stale), false);
}

TEST_F(AuthSessionStoreTest, ANonceSurvivesARestart) {
  auto nonce = store_->IssueNonce();
  ASSERT_TRUE(nonce);
  store_.reset();
  auto reopened = AuthSessionStore::Open(Options(), clock_);
  ASSERT_TRUE(reopened);

  EXPECT_EQ((*reopened)->ConsumeNonce(*nonce), true);
}

TEST_F(AuthSessionStoreTest, OfTwoThreadsConsumingTheSameNonceExactlyOneWins) {
  constexpr int kRounds = 50;
  for (int round = 0; round < kRounds; ++round) {
    auto nonce = store_->IssueNonce();
    ASSERT_TRUE(nonce);
    std::atomic<int> wins{0};
    std::atomic<int> errors{0};
    std::barrier start(2);
    auto consume = [&] {
      start.arrive_and_wait();
      auto won = store_->ConsumeNonce(*nonce);
      if (!won) {
        errors.fetch_add(1);
      } else if (*won) {
        wins.fetch_add(1);
      }
    };
    std::thread a(consume);
    std::thread b(consume);
    a.join();
    b.join();
    EXPECT_EQ(errors.load(), 0);
    EXPECT_EQ(wins.load(), 1) << "round " << round;
  }
}

TEST_F(AuthSessionStoreTest, OfTwoStoresOnOneFileConsumingTheSameNonceExactlyOneWins) {
  // Two connections, as two processes sharing the data directory would have.
  auto other = AuthSessionStore::Open(Options(), clock_);
  ASSERT_TRUE(other);
  for (int round = 0; round < 20; ++round) {
    auto nonce = store_->IssueNonce();
    ASSERT_TRUE(nonce);
    std::atomic<int> wins{0};
    std::barrier start(2);
    auto consume = [&](AuthSessionStore& store) {
      start.arrive_and_wait();
      auto won = store.ConsumeNonce(*nonce);
      if (won && *won) {
        wins.fetch_add(1);
      }
    };
    std::thread a(consume, std::ref(*store_));
    std::thread b(consume, std::ref(**other));
    a.join();
    b.join();
    EXPECT_EQ(wins.load(), 1) << "round " << round;
  }
}

TEST_F(AuthSessionStoreTest, ExpiredNoncesArePurgedByLaterIssues) {
  ASSERT_TRUE(store_->IssueNonce());
  ASSERT_TRUE(store_->IssueNonce());
  EXPECT_EQ(CountRows("nonces"), 2);

  clock_.Advance(6min);
  ASSERT_TRUE(store_->IssueNonce());  // purges first: the interval has passed

  EXPECT_EQ(CountRows("nonces"), 1);
}

// ---- Refresh tokens ----------------------------------------------------------------------

TEST_F(AuthSessionStoreTest, ARefreshTokenIsOpaqueAndStoredOnlyAsItsHash) {
  const RefreshSession session = SignIn();

  EXPECT_THAT(session.token, MatchesRegex("[A-Za-z0-9_-]{43}"));
  EXPECT_THAT(session.family, MatchesRegex("[0-9a-f]{32}"));
  EXPECT_EQ(session.subject, kSubject);
  EXPECT_EQ(session.roles, kRoles);
  EXPECT_EQ(session.expires_at, clock_.WallNow() + 30 * 24h);
  EXPECT_THAT(DumpDatabase(), ::testing::Not(HasSubstr(session.token)));
}

TEST_F(AuthSessionStoreTest, RotationReturnsANewTokenOfTheSameSessionAndSpendsTheOldOne) {
  const RefreshSession first = SignIn();
  clock_.Advance(1h);

  auto second = store_->RotateRefresh(first.token);

  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_NE(second->token, first.token);
  EXPECT_EQ(second->family, first.family);
  EXPECT_EQ(second->subject, kSubject);
  EXPECT_EQ(second->roles, kRoles);
  EXPECT_EQ(second->expires_at, clock_.WallNow() + 30 * 24h);
  auto third = store_->RotateRefresh(second->token);
  EXPECT_TRUE(third) << "the new token rotates in turn";
}

TEST_F(AuthSessionStoreTest, ReusingASpentTokenRevokesTheWholeFamily) {
  const RefreshSession stolen = SignIn();
  auto victim = store_->RotateRefresh(stolen.token);  // the legitimate client rotates
  ASSERT_TRUE(victim);

  auto replay = store_->RotateRefresh(stolen.token);  // the thief replays the copy

  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.error().code, ErrorCode::kUnauthenticated);
  EXPECT_THAT(replay.error().message, HasSubstr("already used"));
  auto after = store_->RotateRefresh(victim->token);
  ASSERT_FALSE(after) << "the family's current token is revoked too";
  EXPECT_THAT(after.error().message, HasSubstr("revoked"));
  EXPECT_THAT(after.error().message, ::testing::Not(HasSubstr(victim->token)));
}

TEST_F(AuthSessionStoreTest, ReuseRevokesOnlyThatFamily) {
  const RefreshSession phone = SignIn();
  const RefreshSession laptop = SignIn();
  ASSERT_NE(phone.family, laptop.family);
  ASSERT_TRUE(store_->RotateRefresh(phone.token));
  ASSERT_FALSE(store_->RotateRefresh(phone.token));

  EXPECT_TRUE(store_->RotateRefresh(laptop.token));
}

TEST_F(AuthSessionStoreTest, LogoutRevokesTheFamilyOfAnyOfItsTokens) {
  const RefreshSession first = SignIn();
  auto second = store_->RotateRefresh(first.token);
  ASSERT_TRUE(second);

  ASSERT_TRUE(store_->Revoke(first.token)) << "even an already used token logs out";
  EXPECT_TRUE(store_->Revoke(second->token)) << "idempotent";

  auto refused = store_->RotateRefresh(second->token);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnauthenticated);
  EXPECT_THAT(refused.error().message, HasSubstr("revoked (logout)"));
}

TEST_F(AuthSessionStoreTest, UnknownAndMalformedTokensAreUnauthenticated) {
  const RefreshSession session = SignIn();
  std::string unknown = session.token;
  unknown[0] = unknown[0] == 'A' ? 'B' : 'A';

  auto rotated = store_->RotateRefresh(unknown);
  ASSERT_FALSE(rotated);
  EXPECT_EQ(rotated.error().code, ErrorCode::kUnauthenticated);
  EXPECT_THAT(rotated.error().message, HasSubstr("unknown refresh token"));
  EXPECT_THAT(store_->RotateRefresh("short").error().message, HasSubstr("malformed"));
  EXPECT_THAT(store_->RotateRefresh(session.token + "=").error().message, HasSubstr("malformed"));
  EXPECT_EQ(store_->Revoke(unknown).error().code, ErrorCode::kUnauthenticated);
  EXPECT_TRUE(store_->RotateRefresh(session.token)) << "the real one was not disturbed";
}

TEST_F(AuthSessionStoreTest, ARefreshTokenExpiresAfterItsTtl) {
  const RefreshSession session = SignIn();
  clock_.Advance(30 * 24h);

  auto expired = store_->RotateRefresh(session.token);

  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, ErrorCode::kUnauthenticated);
  EXPECT_THAT(expired.error().message, HasSubstr("expired"));
}

TEST_F(AuthSessionStoreTest, RotationNeverOutlivesTheSessionMaximum) {
  RefreshSession session = SignIn();
  for (int month = 0; month < 3; ++month) {
    clock_.Advance(29 * 24h);
    auto next = store_->RotateRefresh(session.token);
    ASSERT_TRUE(next) << month;
    session = *next;
  }
  // Signed in 87 days ago: this token ends with the session at 90 days, not at 117.
  EXPECT_EQ(session.expires_at, clock_.WallNow() + 3 * 24h);
  clock_.Advance(3 * 24h);
  auto ended = store_->RotateRefresh(session.token);
  ASSERT_FALSE(ended);
  EXPECT_THAT(ended.error().message, HasSubstr("expired"));
}

TEST_F(AuthSessionStoreTest, ANamedFamilyIsCreatedThenJoinedButNeverAcrossSubjects) {
  auto first = store_->IssueRefresh(kSubject, kRoles, "session-1");
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->family, "session-1");
  auto joined = store_->IssueRefresh(kSubject, std::vector<std::string>{"admin"}, "session-1");
  ASSERT_TRUE(joined);
  EXPECT_EQ(joined->roles, kRoles) << "the family's roles, not the ones asked for";

  auto other = store_->IssueRefresh("eip155:1:0x0000000000000000000000000000000000000001", kRoles,
                                    "session-1");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(store_->IssueRefresh(kSubject, kRoles, "bad id!"));
  EXPECT_FALSE(store_->IssueRefresh("", kRoles));

  ASSERT_TRUE(store_->Revoke(first->token));
  auto revoked = store_->IssueRefresh(kSubject, kRoles, "session-1");
  ASSERT_FALSE(revoked);
  EXPECT_EQ(revoked.error().code, ErrorCode::kUnauthenticated);
}

TEST_F(AuthSessionStoreTest, RevokeSubjectEndsEverySessionOfThatWalletOnly) {
  const RefreshSession a = SignIn();
  const RefreshSession b = SignIn();
  auto other = store_->IssueRefresh("eip155:1:0x0000000000000000000000000000000000000001", kRoles);
  ASSERT_TRUE(other);

  EXPECT_EQ(store_->RevokeSubject(kSubject), 2);

  EXPECT_FALSE(store_->RotateRefresh(a.token));
  EXPECT_FALSE(store_->RotateRefresh(b.token));
  EXPECT_TRUE(store_->RotateRefresh(other->token));
}

TEST_F(AuthSessionStoreTest, PurgeDeletesExpiredTokensAndTheirEmptyFamilies) {
  const RefreshSession old_session = SignIn();
  clock_.Advance(29 * 24h);
  const RefreshSession recent = SignIn();  // purges by itself: nothing has expired yet
  ASSERT_TRUE(store_->IssueNonce());
  clock_.Advance(2 * 24h);

  auto purged = store_->Purge();

  ASSERT_TRUE(purged) << purged.error().ToString();
  EXPECT_EQ(purged->nonces, 1);
  EXPECT_EQ(purged->refresh_tokens, 1);
  EXPECT_EQ(purged->families, 1);
  EXPECT_EQ(CountRows("refresh_families"), 1);
  EXPECT_THAT(store_->RotateRefresh(old_session.token).error().message,
              HasSubstr("unknown refresh token"));
  EXPECT_TRUE(store_->RotateRefresh(recent.token));
}

TEST_F(AuthSessionStoreTest, AFileThatIsNotADatabaseIsRefusedNamingIt) {
  const auto path = dir_.path() / "garbage.sqlite3";
  std::ofstream(path) << std::string(4096, 'x');
  AuthSessionStoreOptions options = Options();
  options.path = path;

  auto store = AuthSessionStore::Open(options, clock_);

  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(store.error().message, HasSubstr(path.string()));
}

}  // namespace
}  // namespace sg::plugins::auth
