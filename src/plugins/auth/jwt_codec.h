#pragma once
/// Issues and verifies StreamGate's JWTs: compact JWS, ES256 only, with a `kid` naming a key
/// of the SigningKeyRing (libjwt 1.10 signs and checks the signature).
///
/// Verification follows RFC 8725 (JWT BCP): the header is decoded here first and the
/// algorithm pinned to ES256 before libjwt sees the token, because libjwt 1.10 verifies with
/// whatever algorithm the token names: given our public key PEM it would accept an HS256
/// token MACed with that PEM as the secret (key confusion), and "none" in any letter case
/// maps to its unsigned algorithm. Only our own header parameters (alg, kid, typ) are
/// accepted; jwk/jku/x5u/crit/enc and friends are refused, never followed.
///
/// Thread-safe: the codec is immutable and the key ring is thread-safe.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/clock.h"
#include "core/api/result.h"
#include "plugins/auth/jwt_keys.h"

namespace sg::plugins::auth {

/// Values of the "typ" claim: what a token may be used for.
inline constexpr std::string_view kAccessTokenType = "access";
inline constexpr std::string_view kPlaybackTokenType = "playback";

/// What to put in a new token.
struct TokenRequest {
  /// "sub": a CAIP-10 account for wallets, "eip155:<chain id>:<0x address>". Not empty.
  std::string subject;
  /// "typ" claim, e.g. kAccessTokenType. Not empty.
  std::string type;
  /// exp - iat; positive, whole seconds, at most the key ring's max_token_lifetime.
  Duration lifetime = std::chrono::minutes(15);
  /// "aud"; empty = the codec's audience.
  std::string audience;
  /// Further string claims (e.g. {"cid": content id}). Registered names are refused.
  std::map<std::string, std::string> strings;
  /// Further claims that are arrays of strings (e.g. {"roles": {"creator"}}).
  std::map<std::string, std::vector<std::string>> lists;
};

/// The claims of an issued or verified token.
struct TokenClaims {
  std::string issuer;     ///< iss
  std::string audience;   ///< aud (the expected one, when the token lists several)
  std::string subject;    ///< sub
  std::string type;       ///< typ
  std::string id;         ///< jti: 32 lower-case hex characters (128 random bits)
  std::string key_id;     ///< kid of the header
  WallTime issued_at{};   ///< iat
  WallTime not_before{};  ///< nbf (= iat when the token has none)
  WallTime expires_at{};  ///< exp
  /// Other claims whose value is a string / an array of strings; others are dropped.
  std::map<std::string, std::string> strings;
  std::map<std::string, std::vector<std::string>> lists;
};

struct IssuedToken {
  std::string token;  ///< compact JWS; a credential: never log it
  TokenClaims claims;
};

/// What a verified token must say. Every field is checked.
struct Expectations {
  std::string issuer;
  std::string audience;
  std::string type;
  /// Verification time; nullopt = the codec's clock.
  std::optional<WallTime> now;
  /// Clock skew tolerated on exp, nbf and iat.
  Duration leeway = std::chrono::seconds(60);
};

struct JwtCodecOptions {
  /// "iss" of issued tokens, e.g. "https://video.example.org". Not empty.
  std::string issuer;
  /// Default "aud" of issued tokens, e.g. "streamgate". Not empty.
  std::string audience;
  /// Leeway put into Expect().
  Duration leeway = std::chrono::seconds(60);
};

class JwtCodec {
 public:
  /// Compact tokens longer than this are refused unread.
  static constexpr std::size_t kMaxTokenBytes = 8 * 1024;

  /// SG_CHECKs that issuer and audience are set (validate the config before).
  JwtCodec(std::shared_ptr<SigningKeyRing> keys, JwtCodecOptions options, const Clock& clock);

  /// Signs a token with the ring's current key: header {"alg":"ES256","kid":..,"typ":"JWT"},
  /// claims iss, aud, sub, iat, nbf (= iat), exp, jti, typ and the extra ones.
  /// kInvalidArgument for an empty subject or type, a lifetime out of range or an extra
  /// claim named like a registered one; kInternal when libjwt fails.
  Result<IssuedToken> Issue(const TokenRequest& request) const;

  /// The claims of `token` if it is a compact ES256 JWS signed by a verifying key of the
  /// ring and its iss, aud, typ, exp (required), nbf and iat hold; otherwise
  /// kUnauthenticated with the precise reason (never the token itself).
  Result<TokenClaims> Verify(std::string_view token, const Expectations& expected) const;

  /// Expectations with this codec's issuer, audience and leeway, and `type`.
  Expectations Expect(std::string_view type) const;

  const JwtCodecOptions& options() const { return options_; }
  SigningKeyRing& keys() const { return *keys_; }
  const Clock& clock() const { return clock_; }

 private:
  std::shared_ptr<SigningKeyRing> keys_;
  JwtCodecOptions options_;
  const Clock& clock_;
};

}  // namespace sg::plugins::auth
