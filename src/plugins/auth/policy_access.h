#pragma once
/// The AccessDecider with NFT policies and playback tokens, and the Authenticator that
/// accepts the admin API key and wallet access tokens.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/api/clock.h"
#include "core/api/metrics.h"
#include "core/api/services/access.h"
#include "core/api/services/chain.h"
#include "core/api/services/http.h"
#include "plugins/auth/api_key.h"
#include "plugins/auth/evaluator.h"
#include "plugins/auth/jwt_codec.h"
#include "plugins/auth/ownership_cache.h"
#include "plugins/auth/playback_token.h"
#include "plugins/auth/policy.h"

namespace sg::plugins::auth {

/// Who gets which role (config `auth.admins`, `auth.creators`...). Addresses lower-case.
struct RoleRules {
  std::vector<std::string> admins;
  std::string creators = "any";  ///< any | allowlist | policy
  std::vector<std::string> creator_allowlist;
  std::optional<AccessPolicy> creator_policy;

  bool IsAdmin(std::string_view address) const;
};

/// Lower-case copy of an address (or any ASCII text).
std::string LowerAscii(std::string_view text);

/// Policies of gated content decided on the chains (through the ownership cache), private
/// content for its owner and admins, public content for all; playback tokens for gated and
/// private content. Fails closed: an answer that cannot be known is 503, never access.
class PolicyAccessDecider final : public AccessDecider {
 public:
  /// `chains` may be null: gated content is then 503 (no chain to ask).
  PolicyAccessDecider(std::shared_ptr<ChainReader> chains, std::shared_ptr<OwnershipCache> cache,
                      std::shared_ptr<const PlaybackTokens> tokens, const Clock& clock);

  /// Counts gated decisions by outcome (granted, denied, unavailable) from now on.
  void CountDecisions(MetricFamily<Counter>& decisions) { decisions_ = &decisions; }

  Result<> MayPlay(const ContentRecord& content, const Principal& viewer) override;
  bool RequiresPlaybackToken(const ContentRecord& content) const override;
  Result<std::string> MintPlaybackToken(const ContentRecord& content,
                                        const Principal& viewer) override;
  Result<std::string> VerifyPlaybackToken(std::string_view token,
                                          std::string_view content_id) override;

  /// Evaluates `policy` for a wallet address (also used for the creator role).
  Result<Decision> Evaluate(const AccessPolicy& policy, std::string_view address);

 private:
  /// The parsed policy of a stored text (memoized: parsing on every request is waste).
  Result<std::shared_ptr<const AccessPolicy>> Parsed(const std::string& text) const;

  std::shared_ptr<ChainReader> chains_;
  std::shared_ptr<OwnershipCache> cache_;
  std::shared_ptr<const PlaybackTokens> tokens_;
  const Clock& clock_;
  MetricFamily<Counter>* decisions_ = nullptr;
  mutable std::mutex parsed_mutex_;
  mutable std::map<std::string, std::shared_ptr<const AccessPolicy>, std::less<>> parsed_;
};

/// `Authorization: Bearer <token>`: a JWT (three dot-separated parts) is a wallet's access
/// token, anything else is tried as the admin API key. Roles come from the token, plus
/// admin for addresses listed in `auth.admins` now (so removing an admin takes effect at
/// once, not when the token expires).
class BearerAuthenticator final : public Authenticator {
 public:
  BearerAuthenticator(std::shared_ptr<ApiKeyAuthenticator> api_key,
                      std::shared_ptr<const JwtCodec> tokens,
                      std::shared_ptr<const RoleRules> roles);
  Result<Principal> Authenticate(const HttpRequest& request) override;
  void SetRoles(std::shared_ptr<const RoleRules> roles);

 private:
  /// The claims of `token`, verified once and then remembered until the token expires:
  /// an ES256 verification costs ~0.3 ms (libjwt parses the key each time), a lookup of the
  /// exact same token string nothing. Bounded; cleared when full.
  Result<TokenClaims> VerifyCached(std::string_view token);

  std::shared_ptr<ApiKeyAuthenticator> api_key_;
  std::shared_ptr<const JwtCodec> tokens_;
  mutable std::mutex roles_mutex_;
  std::shared_ptr<const RoleRules> roles_;
  std::mutex verified_mutex_;
  std::unordered_map<std::string, TokenClaims> verified_;
};

}  // namespace sg::plugins::auth
