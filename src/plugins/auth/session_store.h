#pragma once
/// Sign-in state that must survive restarts: SIWE nonces and refresh tokens, in SQLite
/// (`<data_dir>/auth.sqlite3`, WAL).
///
/// Nonces are single use: ConsumeNonce is one `DELETE ... RETURNING`, so of two requests
/// presenting the same nonce at once exactly one wins, also across processes sharing the
/// file.
///
/// Refresh tokens rotate (OAuth 2.0 Security BCP, RFC 9700 §4.14): each use returns a new
/// token of the same family and marks the old one used. Presenting a used token again means
/// it was stolen (or the client is broken): the whole family is revoked, so the thief's and
/// the victim's tokens both stop working and the user signs in again. Only SHA-256 digests
/// of tokens are stored; nothing here logs a token.
///
/// Times come from Clock::WallNow() (a FakeClock in tests). Thread-safe: one connection
/// behind a mutex, each call one short transaction.

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/clock.h"
#include "core/api/result.h"

namespace SQLite {
class Database;
}

namespace sg::plugins::auth {

struct AuthSessionStoreOptions {
  /// The database file, normally `<data_dir>/auth.sqlite3`; its folder is created.
  std::filesystem::path path;
  /// How long a nonce may wait for its sign-in.
  Duration nonce_ttl = std::chrono::minutes(5);
  /// Lifetime of each refresh token; every rotation starts a new one...
  Duration refresh_ttl = std::chrono::hours(24 * 30);
  /// ...but no family (one sign-in) lives longer than this: then the user signs in again.
  Duration session_max_lifetime = std::chrono::hours(24 * 90);
  /// Expired rows are deleted at most this often, by the calls that insert rows.
  Duration purge_interval = std::chrono::minutes(1);
  std::chrono::milliseconds busy_timeout{5'000};
};

/// A new refresh token and what it stands for.
struct RefreshSession {
  /// Opaque: base64url of 32 random bytes (43 characters). A credential: never log it.
  std::string token;
  /// The family (sign-in) the token belongs to; stable across rotations. Not secret.
  std::string family;
  std::string subject;
  std::vector<std::string> roles;
  WallTime expires_at{};
};

struct PurgeCounts {
  std::int64_t nonces = 0;
  std::int64_t refresh_tokens = 0;
  std::int64_t families = 0;
};

class AuthSessionStore {
 public:
  /// Nonces are this many characters of [A-Za-z0-9] (about 143 bits).
  static constexpr std::size_t kNonceLength = 24;

  /// Opens (creating) the file and applies pending migrations. kInvalidArgument when the file
  /// is not a database or its schema is newer than this binary; kUnavailable when it cannot
  /// be opened. `clock` must outlive the store.
  static Result<std::unique_ptr<AuthSessionStore>> Open(const AuthSessionStoreOptions& options,
                                                        const Clock& clock);

  ~AuthSessionStore();
  AuthSessionStore(const AuthSessionStore&) = delete;
  AuthSessionStore& operator=(const AuthSessionStore&) = delete;

  /// A fresh nonce (kNonceLength alphanumerics from the OpenSSL CSPRNG), valid for
  /// nonce_ttl. kUnavailable when the database cannot be written.
  Result<std::string> IssueNonce();

  /// true exactly once for a nonce issued here and not yet expired; false for an unknown,
  /// used or expired one (or one that is not even shaped like a nonce). An error only when
  /// the database fails (then the sign-in must fail too).
  Result<bool> ConsumeNonce(std::string_view nonce);

  /// A new refresh token for `subject` with `roles`, in a new family (a new sign-in) whose
  /// id is `family`, or a random one when empty. When a family with that id exists already,
  /// the token joins it (and carries the family's roles, not `roles`): kUnauthenticated if
  /// it is revoked or expired, kInvalidArgument if it belongs to another subject.
  /// kInvalidArgument for an empty subject or a family id that is not 1 to 64 characters of
  /// [A-Za-z0-9_-].
  Result<RefreshSession> IssueRefresh(std::string_view subject, std::span<const std::string> roles,
                                      std::string_view family = {});

  /// Trades `token` for a new one of the same family (same subject and roles); the old one
  /// is marked used. kUnauthenticated with the reason when the token is malformed, unknown,
  /// expired, revoked, or already used (which also revokes its whole family).
  Result<RefreshSession> RotateRefresh(std::string_view token);

  /// Logout: revokes the family of `token` (whether or not the token is still current).
  /// Idempotent for a known token; kUnauthenticated for a malformed or unknown one.
  Result<> Revoke(std::string_view token);

  /// Revokes every family of `subject` (e.g. when an admin bans a wallet); returns how many.
  Result<std::int64_t> RevokeSubject(std::string_view subject);

  /// Deletes expired nonces, expired refresh tokens and families left without tokens.
  /// Inserting calls do this by themselves at most every purge_interval.
  Result<PurgeCounts> Purge();

 private:
  struct Impl;
  explicit AuthSessionStore(std::unique_ptr<Impl> impl);

  Result<PurgeCounts> PurgeLocked();
  void MaybePurgeLocked();

  std::unique_ptr<Impl> impl_;
};

}  // namespace sg::plugins::auth
