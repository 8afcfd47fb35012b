#pragma once
/// The ES256 (ECDSA P-256 + SHA-256) keys that sign and verify StreamGate's JWTs.
///
/// Keys live as PKCS#8 PEM files `es256-<created unix ms>.pem` in one folder
/// (`<data_dir>/auth/keys/`, mode 0700; files 0600, written temp + fsync + rename). The
/// newest key signs. When it is older than `rotation_period`, a new key is made on the next
/// signing (or Maintain()). An older key keeps verifying until `max_token_lifetime +
/// retire_grace` after its successor was made (the last moment it could have signed), so
/// at least `rotation_period + max_token_lifetime` after its own creation; then it is
/// "retired": Find() no longer returns it, Jwks() no longer lists it, and Maintain()
/// deletes its file.
///
/// The `kid` of a key is its RFC 7638 JWK thumbprint, so it names the key material itself
/// and two servers sharing a folder agree on it.
///
/// Thread-safe. Private keys never appear in logs or error messages.

#include <spdlog/logger.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/clock.h"
#include "core/api/result.h"

namespace sg::plugins::auth {

/// One P-256 key pair. Immutable; shared by the ring and the requests using it.
class SigningKey {
 public:
  /// A fresh key from the OpenSSL CSPRNG, made at `created_at`.
  static Result<std::shared_ptr<const SigningKey>> Generate(WallTime created_at);
  /// Parses a PEM private key (PKCS#8 or SEC1). kInvalidArgument unless it is an EC key on
  /// P-256. The message never contains the PEM.
  static Result<std::shared_ptr<const SigningKey>> FromPrivatePem(std::string_view pem,
                                                                  WallTime created_at);

  ~SigningKey();
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;

  /// RFC 7638 thumbprint (base64url, 43 characters).
  const std::string& kid() const { return kid_; }
  WallTime created_at() const { return created_at_; }
  /// Affine coordinates, base64url of 32 bytes each.
  const std::string& x() const { return x_; }
  const std::string& y() const { return y_; }
  /// SubjectPublicKeyInfo PEM: what a verifier needs.
  const std::string& public_pem() const { return public_pem_; }
  /// PKCS#8 PEM of the private key: what a signer needs. Secret: never log it.
  const std::string& private_pem() const { return private_pem_; }
  /// The public JWK: {"kty":"EC","crv":"P-256","x":..,"y":..,"kid":..,"use":"sig",
  /// "alg":"ES256"}.
  std::string PublicJwk() const;

 private:
  SigningKey(std::string kid, WallTime created_at, std::string x, std::string y,
             std::string public_pem, std::string private_pem);

  const std::string kid_;
  const WallTime created_at_;
  const std::string x_;
  const std::string y_;
  const std::string public_pem_;
  std::string private_pem_;  // not const: wiped by the destructor
};

/// RFC 7638 thumbprint of a P-256 public key given its base64url coordinates: base64url of
/// SHA-256 over `{"crv":"P-256","kty":"EC","x":"<x>","y":"<y>"}`.
std::string EcJwkThumbprint(std::string_view x, std::string_view y);

struct SigningKeyRingOptions {
  /// The key folder, normally `<data_dir>/auth/keys`; created (0700) when missing.
  std::filesystem::path directory;
  /// The newest key signs until it is this old; then a new one is made.
  Duration rotation_period = std::chrono::hours(24 * 30);
  /// The longest lifetime of any token signed with these keys (JwtCodec refuses longer).
  Duration max_token_lifetime = std::chrono::hours(24);
  /// Extra time a retired key keeps verifying: at least the verifiers' clock leeway.
  Duration retire_grace = std::chrono::minutes(5);
  /// After a failed rotation (disk full...), signing keeps using the current key and the
  /// next attempt waits this long.
  Duration retry_rotation_after = std::chrono::minutes(1);
};

class SigningKeyRing {
 public:
  /// Loads every key file of the folder, deletes retired ones and stale temp files, and
  /// makes a key when none is current. kPermissionDenied (with the chmod to run) when the
  /// folder is accessible by group or others or a key file by group or others;
  /// kInvalidArgument naming the file when a key file is not a P-256 private key;
  /// kUnavailable on I/O errors. `clock` and `logger` must outlive the ring.
  static Result<std::shared_ptr<SigningKeyRing>> Open(SigningKeyRingOptions options,
                                                      const Clock& clock, spdlog::logger& logger);

  SigningKeyRing(const SigningKeyRing&) = delete;
  SigningKeyRing& operator=(const SigningKeyRing&) = delete;

  /// The key to sign with now: the newest, after making a new one if it is due. If making
  /// one fails, logs a warning and returns the current key (never null).
  std::shared_ptr<const SigningKey> KeyForSigning();

  /// The key named `kid` if it still verifies (not retired), else null.
  std::shared_ptr<const SigningKey> Find(std::string_view kid) const;

  /// Every key that still verifies, newest first.
  std::vector<std::shared_ptr<const SigningKey>> VerifyingKeys() const;

  /// The JSON Web Key Set of the verifying keys (public parts only), newest first:
  /// {"keys":[{"kty":"EC","crv":"P-256","x":..,"y":..,"kid":..,"use":"sig","alg":"ES256"}]}
  std::string Jwks() const;

  /// Rotates when due and deletes retired key files. Idempotent; call it periodically
  /// (hourly is plenty): signing also rotates, but only deleting needs this.
  Result<> Maintain();

  const SigningKeyRingOptions& options() const { return options_; }

 private:
  SigningKeyRing(SigningKeyRingOptions options, const Clock& clock, spdlog::logger& logger);

  struct Entry {
    std::shared_ptr<const SigningKey> key;
    std::filesystem::path path;
  };

  // Callers hold maintain_mutex_.
  Result<> PrepareDirectory();
  Result<> Load();
  Result<> MaintainLocked();
  // Callers hold keys_mutex_. keys_ is sorted oldest first; whether keys_[i] is retired
  // depends on when keys_[i + 1] was made.
  bool Retired(std::size_t index, WallTime now) const;
  bool RotationDue(WallTime now) const;

  const SigningKeyRingOptions options_;
  const Clock& clock_;
  spdlog::logger& logger_;

  std::mutex maintain_mutex_;  // one writer of the folder at a time
  WallTime last_failed_rotation_{};
  bool rotation_failed_ = false;

  mutable std::shared_mutex keys_mutex_;
  std::vector<Entry> keys_;  // oldest first
};

}  // namespace sg::plugins::auth
