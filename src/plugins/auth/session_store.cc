#include "plugins/auth/session_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>

#include "core/api/random.h"
#include "plugins/auth/base64url.h"
#include "support/sqlite/sqlite_support.h"

#include "core/api/hex.h"

namespace sg::plugins::auth {
namespace {

using Db = SQLite::Database;
using sqlite::FromMs;
using sqlite::ToMs;

constexpr std::string_view kWhat = "auth session store";
constexpr std::size_t kRefreshTokenBytes = 32;
constexpr std::size_t kRefreshTokenChars = 43;  // base64url of 32 bytes, unpadded
constexpr std::size_t kFamilyIdBytes = 16;
constexpr std::size_t kMaxFamilyIdChars = 64;
constexpr std::size_t kMaxNonceChars = 64;
constexpr char kNonceAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
constexpr unsigned kNonceAlphabetSize = 62;

// Version 1. Times are integer milliseconds since the Unix epoch (UTC).
constexpr std::string_view kV1 = R"sql(
CREATE TABLE nonces (
  nonce TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX nonces_expiry ON nonces (expires_at);
CREATE TABLE refresh_families (
  id TEXT PRIMARY KEY,              -- one sign-in; stable across rotations
  subject TEXT NOT NULL,
  roles TEXT NOT NULL,              -- JSON array of strings
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,      -- no token of the family outlives this
  revoked_at INTEGER,               -- NULL while live
  revoked_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX refresh_families_subject ON refresh_families (subject);
CREATE TABLE refresh_tokens (
  hash TEXT PRIMARY KEY,            -- hex SHA-256 of the token; the token is never stored
  family TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
  issued_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER                   -- set when rotated; a second use revokes the family
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
)sql";

constexpr std::array<std::string_view, 1> kMigrations{kV1};

template <class F>
auto Guarded(std::string_view op, F&& body) -> decltype(body()) {
  return sqlite::Guarded(kWhat, op, std::forward<F>(body));
}

void RandomBytes(std::span<unsigned char> out) {
  // Only fails when the OS entropy source is broken; a guessable token would be worse than
  // stopping (the same policy as RandomHex).
  SG_CHECK(RAND_bytes(out.data(), static_cast<int>(out.size())) == 1, "OpenSSL RAND_bytes failed");
}

std::string MakeNonce() {
  std::string nonce;
  std::array<unsigned char, 64> pool{};
  while (nonce.size() < AuthSessionStore::kNonceLength) {
    RandomBytes(pool);
    for (unsigned char byte : pool) {
      // Rejection sampling: 248 = 4 * 62, so the characters are uniform.
      if (byte < 4 * kNonceAlphabetSize && nonce.size() < AuthSessionStore::kNonceLength) {
        nonce.push_back(kNonceAlphabet[byte % kNonceAlphabetSize]);
      }
    }
  }
  return nonce;
}

bool LooksLikeNonce(std::string_view nonce) {
  if (nonce.empty() || nonce.size() > kMaxNonceChars) {
    return false;
  }
  return std::all_of(nonce.begin(), nonce.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  });
}

bool LooksLikeFamilyId(std::string_view id) {
  if (id.empty() || id.size() > kMaxFamilyIdChars) {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

std::string NewRefreshToken() {
  std::array<unsigned char, kRefreshTokenBytes> bytes{};
  RandomBytes(bytes);
  return Base64UrlEncode(bytes);
}

/// Digest under which a token is stored. The token carries 256 random bits, so a plain
/// hash cannot be reversed or guessed; a stolen database grants nothing.
std::string TokenHash(std::string_view token) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest.data());
  return HexEncode(digest);
}

Result<> CheckRefreshTokenShape(std::string_view token) {
  auto bytes = token.size() == kRefreshTokenChars ? Base64UrlDecode(token) : std::nullopt;
  if (!bytes || bytes->size() != kRefreshTokenBytes) {
    return MakeError(ErrorCode::kUnauthenticated, "malformed refresh token");
  }
  return {};
}

std::string RolesJson(std::span<const std::string> roles) {
  boost::json::array array;
  for (const auto& role : roles) {
    array.emplace_back(role);
  }
  return boost::json::serialize(array);
}

std::vector<std::string> ParseRoles(const std::string& text) {
  std::vector<std::string> roles;
  boost::json::error_code error;
  const boost::json::value value = boost::json::parse(text, error);
  if (error || !value.is_array()) {
    return roles;  // written by us; an unreadable list grants no role
  }
  for (const auto& item : value.as_array()) {
    if (item.is_string()) {
      roles.emplace_back(item.as_string());
    }
  }
  return roles;
}

struct Family {
  std::string id;
  std::string subject;
  std::string roles_json;
  WallTime expires_at{};
  bool revoked = false;
  std::string revoked_reason;
};

std::optional<Family> LoadFamily(Db& db, std::string_view id) {
  SQLite::Statement query(db,
                          "SELECT id, subject, roles, expires_at, revoked_at IS NOT NULL, "
                          "revoked_reason FROM refresh_families WHERE id = ?");
  query.bind(1, std::string(id));
  if (!query.executeStep()) {
    return std::nullopt;
  }
  return Family{.id = query.getColumn(0).getString(),
                .subject = query.getColumn(1).getString(),
                .roles_json = query.getColumn(2).getString(),
                .expires_at = FromMs(query.getColumn(3).getInt64()),
                .revoked = query.getColumn(4).getInt() != 0,
                .revoked_reason = query.getColumn(5).getString()};
}

void RevokeFamily(Db& db, const std::string& id, WallTime now, std::string_view reason) {
  SQLite::Statement update(db,
                           "UPDATE refresh_families SET revoked_at = ?, revoked_reason = ? "
                           "WHERE id = ? AND revoked_at IS NULL");
  update.bind(1, ToMs(now));
  update.bind(2, std::string(reason));
  update.bind(3, id);
  update.exec();
}

/// Inserts a new token of `family`, expiring after `ttl` but never after the family.
RefreshSession InsertToken(Db& db, const Family& family, WallTime now, Duration ttl) {
  RefreshSession session;
  session.token = NewRefreshToken();
  session.family = family.id;
  session.subject = family.subject;
  session.roles = ParseRoles(family.roles_json);
  session.expires_at = std::min(FromMs(ToMs(now + ttl)), family.expires_at);
  SQLite::Statement insert(
      db, "INSERT INTO refresh_tokens (hash, family, issued_at, expires_at) VALUES (?, ?, ?, ?)");
  insert.bind(1, TokenHash(session.token));
  insert.bind(2, family.id);
  insert.bind(3, ToMs(now));
  insert.bind(4, ToMs(session.expires_at));
  insert.exec();
  return session;
}

}  // namespace

struct AuthSessionStore::Impl {
  AuthSessionStoreOptions options;
  const Clock* clock = nullptr;
  std::mutex mutex;
  std::unique_ptr<Db> db;
  WallTime last_purge{};
};

AuthSessionStore::AuthSessionStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AuthSessionStore::~AuthSessionStore() = default;

Result<std::unique_ptr<AuthSessionStore>> AuthSessionStore::Open(
    const AuthSessionStoreOptions& options, const Clock& clock) {
  if (options.path.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "auth session database path is not set");
  }
  if (options.nonce_ttl <= Duration::zero() || options.refresh_ttl <= Duration::zero() ||
      options.session_max_lifetime <= Duration::zero()) {
    return MakeError(ErrorCode::kInvalidArgument, "auth session lifetimes must be positive");
  }
  if (const auto parent = options.path.parent_path(); !parent.empty()) {
    std::error_code error;
    std::filesystem::create_directories(parent, error);
    if (error) {
      return MakeError(ErrorCode::kUnavailable, "cannot create folder {}: {}", parent.string(),
                       error.message());
    }
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->clock = &clock;
  impl->last_purge = clock.WallNow();
  const std::string path = options.path.string();
  auto opened = Guarded("open " + path, [&]() -> Result<int> {
    impl->db = std::make_unique<Db>(
        path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX,
        static_cast<int>(options.busy_timeout.count()));
    Db& db = *impl->db;
    const std::string mode = db.execAndGet("PRAGMA journal_mode = WAL").getString();
    if (mode != "wal") {
      return MakeError(ErrorCode::kUnavailable,
                       "auth session database {} cannot use WAL mode (journal_mode is {}); put "
                       "it on a local file system",
                       path, mode);
    }
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("PRAGMA foreign_keys = ON");
    return sqlite::Migrate(db, clock, kMigrations, options.path, "auth session database");
  });
  if (!opened) {
    return MakeError(opened.error());
  }
  return std::unique_ptr<AuthSessionStore>(new AuthSessionStore(std::move(impl)));
}

Result<std::string> AuthSessionStore::IssueNonce() {
  std::lock_guard lock(impl_->mutex);
  MaybePurgeLocked();
  return Guarded("issue nonce", [&]() -> Result<std::string> {
    const WallTime now = impl_->clock->WallNow();
    const std::string nonce = MakeNonce();
    SQLite::Statement insert(*impl_->db, "INSERT INTO nonces (nonce, expires_at) VALUES (?, ?)");
    insert.bind(1, nonce);
    insert.bind(2, ToMs(now + impl_->options.nonce_ttl));
    insert.exec();
    return nonce;
  });
}

Result<bool> AuthSessionStore::ConsumeNonce(std::string_view nonce) {
  if (!LooksLikeNonce(nonce)) {
    return false;
  }
  std::lock_guard lock(impl_->mutex);
  return Guarded("consume nonce", [&]() -> Result<bool> {
    // One statement: the row is gone for every other reader the moment one wins, also for
    // another process on the same file. An expired row is not returned (and purged later).
    SQLite::Statement consume(*impl_->db,
                              "DELETE FROM nonces WHERE nonce = ? AND expires_at > ? "
                              "RETURNING nonce");
    consume.bind(1, std::string(nonce));
    consume.bind(2, ToMs(impl_->clock->WallNow()));
    const bool won = consume.executeStep();
    // Runs the statement to completion so that the delete commits now.
    while (won && consume.executeStep()) {
    }
    return won;
  });
}

Result<RefreshSession> AuthSessionStore::IssueRefresh(std::string_view subject,
                                                      std::span<const std::string> roles,
                                                      std::string_view family) {
  if (subject.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "a refresh token needs a subject");
  }
  if (!family.empty() && !LooksLikeFamilyId(family)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a refresh family id is 1 to 64 characters of [A-Za-z0-9_-]");
  }
  std::lock_guard lock(impl_->mutex);
  MaybePurgeLocked();
  return Guarded("issue refresh token", [&]() -> Result<RefreshSession> {
    Db& db = *impl_->db;
    const WallTime now = impl_->clock->WallNow();
    SQLite::Transaction transaction(db, SQLite::TransactionBehavior::IMMEDIATE);
    const std::string id = family.empty() ? RandomHex(kFamilyIdBytes) : std::string(family);
    std::optional<Family> existing = LoadFamily(db, id);
    if (existing) {
      if (existing->revoked) {
        return MakeError(ErrorCode::kUnauthenticated, "refresh family was revoked ({})",
                         existing->revoked_reason);
      }
      if (existing->subject != subject) {
        return MakeError(ErrorCode::kInvalidArgument, "refresh family belongs to another subject");
      }
      if (existing->expires_at <= now) {
        return MakeError(ErrorCode::kUnauthenticated, "refresh family expired; sign in again");
      }
    } else {
      Family made{.id = id,
                  .subject = std::string(subject),
                  .roles_json = RolesJson(roles),
                  .expires_at = FromMs(ToMs(now + impl_->options.session_max_lifetime))};
      SQLite::Statement insert(db,
                               "INSERT INTO refresh_families (id, subject, roles, created_at, "
                               "expires_at) VALUES (?, ?, ?, ?, ?)");
      insert.bind(1, made.id);
      insert.bind(2, made.subject);
      insert.bind(3, made.roles_json);
      insert.bind(4, ToMs(now));
      insert.bind(5, ToMs(made.expires_at));
      insert.exec();
      existing = std::move(made);
    }
    RefreshSession session = InsertToken(db, *existing, now, impl_->options.refresh_ttl);
    transaction.commit();
    return session;
  });
}

Result<RefreshSession> AuthSessionStore::RotateRefresh(std::string_view token) {
  SG_RETURN_IF_ERROR(CheckRefreshTokenShape(token));
  std::lock_guard lock(impl_->mutex);
  return Guarded("rotate refresh token", [&]() -> Result<RefreshSession> {
    Db& db = *impl_->db;
    const WallTime now = impl_->clock->WallNow();
    SQLite::Transaction transaction(db, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement query(
        db, "SELECT family, expires_at, used_at IS NOT NULL FROM refresh_tokens WHERE hash = ?");
    const std::string hash = TokenHash(token);
    query.bind(1, hash);
    if (!query.executeStep()) {
      return MakeError(ErrorCode::kUnauthenticated, "unknown refresh token");
    }
    const std::string family_id = query.getColumn(0).getString();
    const WallTime expires_at = FromMs(query.getColumn(1).getInt64());
    const bool used = query.getColumn(2).getInt() != 0;
    query.reset();
    std::optional<Family> family = LoadFamily(db, family_id);
    if (!family) {
      return MakeError(ErrorCode::kUnauthenticated, "unknown refresh token");
    }
    if (family->revoked) {
      return MakeError(ErrorCode::kUnauthenticated, "refresh token was revoked ({})",
                       family->revoked_reason);
    }
    if (used) {
      RevokeFamily(db, family_id, now, "a used refresh token was presented again");
      transaction.commit();
      return MakeError(ErrorCode::kUnauthenticated,
                       "refresh token was already used; every token of this sign-in is now "
                       "revoked (a copy may have been stolen): sign in again");
    }
    if (expires_at <= now || family->expires_at <= now) {
      return MakeError(ErrorCode::kUnauthenticated, "refresh token expired; sign in again");
    }
    SQLite::Statement mark(db,
                           "UPDATE refresh_tokens SET used_at = ? WHERE hash = ? AND used_at IS "
                           "NULL");
    mark.bind(1, ToMs(now));
    mark.bind(2, hash);
    SG_CHECK(mark.exec() == 1, "the write lock is held: the token is still unused");
    RefreshSession session = InsertToken(db, *family, now, impl_->options.refresh_ttl);
    transaction.commit();
    return session;
  });
}

Result<> AuthSessionStore::Revoke(std::string_view token) {
  SG_RETURN_IF_ERROR(CheckRefreshTokenShape(token));
  std::lock_guard lock(impl_->mutex);
  return Guarded("revoke refresh token", [&]() -> Result<> {
    Db& db = *impl_->db;
    SQLite::Transaction transaction(db, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement query(db, "SELECT family FROM refresh_tokens WHERE hash = ?");
    query.bind(1, TokenHash(token));
    if (!query.executeStep()) {
      return MakeError(ErrorCode::kUnauthenticated, "unknown refresh token");
    }
    const std::string family = query.getColumn(0).getString();
    query.reset();
    RevokeFamily(db, family, impl_->clock->WallNow(), "logout");
    transaction.commit();
    return {};
  });
}

Result<std::int64_t> AuthSessionStore::RevokeSubject(std::string_view subject) {
  std::lock_guard lock(impl_->mutex);
  return Guarded("revoke subject", [&]() -> Result<std::int64_t> {
    SQLite::Statement update(*impl_->db,
                             "UPDATE refresh_families SET revoked_at = ?, revoked_reason = ? "
                             "WHERE subject = ? AND revoked_at IS NULL");
    update.bind(1, ToMs(impl_->clock->WallNow()));
    update.bind(2, "revoked by an administrator");
    update.bind(3, std::string(subject));
    return static_cast<std::int64_t>(update.exec());
  });
}

Result<PurgeCounts> AuthSessionStore::Purge() {
  std::lock_guard lock(impl_->mutex);
  return PurgeLocked();
}

Result<PurgeCounts> AuthSessionStore::PurgeLocked() {
  return Guarded("purge", [&]() -> Result<PurgeCounts> {
    Db& db = *impl_->db;
    const std::int64_t now = ToMs(impl_->clock->WallNow());
    PurgeCounts counts;
    SQLite::Transaction transaction(db, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement nonces(db, "DELETE FROM nonces WHERE expires_at <= ?");
    nonces.bind(1, now);
    counts.nonces = nonces.exec();
    // An expired token, used or not, can only ever be refused: it need not be kept.
    SQLite::Statement tokens(db, "DELETE FROM refresh_tokens WHERE expires_at <= ?");
    tokens.bind(1, now);
    counts.refresh_tokens = tokens.exec();
    counts.families = db.exec(
        "DELETE FROM refresh_families WHERE NOT EXISTS "
        "(SELECT 1 FROM refresh_tokens WHERE refresh_tokens.family = refresh_families.id)");
    transaction.commit();
    impl_->last_purge = impl_->clock->WallNow();
    return counts;
  });
}

void AuthSessionStore::MaybePurgeLocked() {
  const WallTime now = impl_->clock->WallNow();
  if (now - impl_->last_purge < impl_->options.purge_interval) {
    return;
  }
  // A failed purge only leaves dead rows behind for the next attempt.
  impl_->last_purge = now;
  (void)PurgeLocked();
}

}  // namespace sg::plugins::auth
