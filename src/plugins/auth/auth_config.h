#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/api/config.h"

namespace sg::plugins::auth {

/// Shortest API key accepted from the config: shorter keys are guessable.
inline constexpr std::size_t kMinApiKeyLength = 16;

struct AuthConfig {
  /// The admin API key; empty = read (or create) `api_key_file`.
  std::string api_key;
  /// Where the admin API key lives; empty = "<server.data_dir>/api_key".
  std::string api_key_file;

  // ---- Sign-In with Ethereum
  /// SIWE `domain`s accepted (host[:port] of the site the wallet signed for). A message for
  /// any other domain is refused: it was signed for another site (phishing).
  /// Empty = derived from server.public_url at start (DomainsFromPublicUrl).
  std::vector<std::string> domains;
  /// Wallet addresses with the admin role (any case).
  std::vector<std::string> admins;
  /// Who may upload: any signed-in wallet, the `creator_allowlist`, or holders of
  /// `creator_policy` (an access policy, JSON).
  std::string creators = "any";
  std::vector<std::string> creator_allowlist;
  std::string creator_policy;
  /// Issuer and audience of the tokens this server issues and accepts.
  std::string issuer = "streamgate";
  std::string audience = "streamgate";
  ConfigDuration nonce_ttl{std::chrono::minutes(5)};
  ConfigDuration access_token_ttl{std::chrono::minutes(15)};
  ConfigDuration refresh_token_ttl{std::chrono::hours(24 * 30)};
  /// Tolerated clock difference for issued-at / expiration / not-before and token times.
  ConfigDuration clock_skew{std::chrono::seconds(60)};
  /// A new signing key is made this often; old ones verify until their tokens expire.
  ConfigDuration key_rotation{std::chrono::hours(24 * 30)};

  // ---- Access policies
  /// Freshness of a cached ownership answer that grants: a transfer ends access within it.
  ConfigDuration ownership_ttl{std::chrono::seconds(60)};
  /// Freshness of a cached answer that denies: a purchase starts access within it.
  ConfigDuration negative_ttl{std::chrono::seconds(10)};
  std::int64_t ownership_cache_entries = 100'000;
  /// Lifetime of a playback token (minted per manifest request).
  ConfigDuration playback_token_ttl{std::chrono::minutes(10)};

  void Visit(ConfigVisitor& v) {
    v.Field("api_key", api_key,
            {.doc = "admin API key (Authorization: Bearer <key>); empty = use api_key_file",
             .secret = true});
    v.Field("api_key_file", api_key_file,
            {.doc = "file holding the admin API key, created (mode 0600) when missing; "
                    "empty = <data_dir>/api_key"});
    v.Field("domains", domains,
            {.doc = "SIWE domains (host[:port]) a sign-in message may name; others are 401. "
                    "Empty = the host:port of server.public_url (which follows gateway.listen), "
                    "with localhost and 127.0.0.1 both accepted for a loopback address"});
    v.Field("admins", admins, {.doc = "wallet addresses with the admin role", .reloadable = true});
    v.Field(
        "creators", creators,
        {.doc = "who may upload: any (signed-in wallet) | allowlist | policy", .reloadable = true});
    v.Field(
        "creator_allowlist", creator_allowlist,
        {.doc = "wallet addresses that may upload when creators = allowlist", .reloadable = true});
    v.Field("creator_policy", creator_policy,
            {.doc = "access policy (JSON) a wallet must satisfy to upload when creators = policy"});
    v.Field("issuer", issuer, {.doc = "iss of issued tokens, required on presented ones"});
    v.Field("audience", audience, {.doc = "aud of issued tokens, required on presented ones"});
    v.Field("nonce_ttl", nonce_ttl,
            {.doc = "lifetime of a sign-in nonce (single use)",
             .min = 10 * 1000.0,
             .max = 3600 * 1000.0});
    v.Field("access_token_ttl", access_token_ttl,
            {.doc = "lifetime of an access token (JWT, ES256)",
             .min = 60 * 1000.0,
             .max = 24 * 3600 * 1000.0});
    v.Field("refresh_token_ttl", refresh_token_ttl,
            {.doc = "lifetime of a refresh token (rotated on every use)",
             .min = 60 * 1000.0,
             .max = 365 * 24 * 3600 * 1000.0});
    v.Field("clock_skew", clock_skew,
            {.doc = "tolerated clock difference on message and token times",
             .min = 0,
             .max = 600 * 1000.0});
    v.Field("key_rotation", key_rotation,
            {.doc = "how often a new token signing key is made",
             .min = 3600 * 1000.0,
             .max = 365 * 24 * 3600 * 1000.0});
    v.Field("ownership_ttl", ownership_ttl,
            {.doc = "freshness of a cached ownership answer that grants (a transfer ends "
                    "access within this)",
             .reloadable = true,
             .min = 0,
             .max = 24 * 3600 * 1000.0});
    v.Field("negative_ttl", negative_ttl,
            {.doc = "freshness of a cached ownership answer that denies (a purchase starts "
                    "access within this)",
             .reloadable = true,
             .min = 0,
             .max = 3600 * 1000.0});
    v.Field("ownership_cache_entries", ownership_cache_entries,
            {.doc = "upper bound on cached ownership answers", .min = 16, .max = 10'000'000});
    v.Field("playback_token_ttl", playback_token_ttl,
            {.doc = "lifetime of a playback token minted on a manifest request",
             .min = 10 * 1000.0,
             .max = 24 * 3600 * 1000.0});
  }

  Result<> Validate() const {
    if (!api_key.empty() && api_key.size() < kMinApiKeyLength) {
      // The length is fine to say; the key itself never appears in a message.
      return MakeError(ErrorCode::kInvalidArgument, "api_key: must be at least {} characters",
                       kMinApiKeyLength);
    }
    for (char c : api_key) {
      if (c <= ' ' || c == 0x7f) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "api_key: must not contain spaces or control characters");
      }
    }
    for (const auto& domain : domains) {
      if (domain.empty() || domain.find_first_of(" /\t") != std::string::npos) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "domains: '{}' is not a host[:port] (no scheme, no path)", domain);
      }
    }
    if (creators != "any" && creators != "allowlist" && creators != "policy") {
      return MakeError(ErrorCode::kInvalidArgument,
                       "creators: must be any, allowlist or policy, got '{}'", creators);
    }
    if (creators == "policy" && creator_policy.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "creator_policy: required when creators = policy");
    }
    if (issuer.empty() || audience.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "issuer and audience must not be empty");
    }
    // A denial outliving a grant would make newly bought access slower than revoked access.
    if (negative_ttl > ownership_ttl) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "negative_ttl: must not exceed ownership_ttl ({} ms), got {} ms",
                       ownership_ttl.count(), negative_ttl.count());
    }
    return {};
  }
};

}  // namespace sg::plugins::auth
