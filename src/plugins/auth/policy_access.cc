#include "plugins/auth/policy_access.h"

#include <algorithm>
#include <cctype>

#include "plugins/auth/evaluator.h"
#include "plugins/auth/wallet_sign_in.h"

namespace sg::plugins::auth {
namespace {

// Parsed policies kept; a bound, not a tuning knob (a server has few distinct policies).
constexpr std::size_t kMaxParsedPolicies = 4096;

bool IsPrivate(const ContentRecord& content) { return content.visibility == "private"; }

}  // namespace

std::string LowerAscii(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool RoleRules::IsAdmin(std::string_view address) const {
  const std::string lower = LowerAscii(address);
  return !lower.empty() && std::find(admins.begin(), admins.end(), lower) != admins.end();
}

PolicyAccessDecider::PolicyAccessDecider(std::shared_ptr<ChainReader> chains,
                                         std::shared_ptr<OwnershipCache> cache,
                                         std::shared_ptr<const PlaybackTokens> tokens,
                                         const Clock& clock)
    : chains_(std::move(chains)),
      cache_(std::move(cache)),
      tokens_(std::move(tokens)),
      clock_(clock) {}

Result<std::shared_ptr<const AccessPolicy>> PolicyAccessDecider::Parsed(
    const std::string& text) const {
  {
    std::lock_guard lock(parsed_mutex_);
    if (auto found = parsed_.find(text); found != parsed_.end()) {
      return found->second;
    }
  }
  // Stored policies were validated on write; chains may have been removed from the config
  // since, which evaluation treats as unknown (never as granted), so no chain check here.
  auto policy = ParsePolicy(text, {});
  if (!policy) {
    return MakeError(ErrorCode::kInternal, "stored access policy is invalid: {}",
                     policy.error().message);
  }
  auto shared = std::make_shared<const AccessPolicy>(std::move(*policy));
  std::lock_guard lock(parsed_mutex_);
  if (parsed_.size() >= kMaxParsedPolicies) {
    parsed_.clear();
  }
  parsed_.emplace(text, shared);
  return shared;
}

Result<Decision> PolicyAccessDecider::Evaluate(const AccessPolicy& policy,
                                               std::string_view address) {
  if (policy.is_public) {
    return Decision{.granted = true};
  }
  if (!chains_) {
    return MakeError(ErrorCode::kUnavailable,
                     "access depends on token ownership but no chain is configured (chains:)");
  }
  return auth::Evaluate(policy, address, *chains_, *cache_);
}

Result<> PolicyAccessDecider::MayPlay(const ContentRecord& content, const Principal& viewer) {
  if (IsPrivate(content) && !IsOwnerOrAdmin(viewer, content)) {
    // Private content answers exactly like absent content.
    return MakeError(ErrorCode::kNotFound, "content {} does not exist", content.id);
  }
  if (content.access_policy.empty() || IsOwnerOrAdmin(viewer, content)) {
    return {};
  }
  SG_ASSIGN_OR_RETURN(auto policy, Parsed(content.access_policy));
  if (policy->is_public) {
    return {};
  }
  if (viewer.anonymous()) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "content {} is for token holders: sign in with your wallet to watch it",
                     content.id);
  }
  std::string_view address = WalletAddressOf(viewer.id);
  if (address.empty()) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "content {} is for token holders: only a wallet can prove holding them",
                     content.id);
  }
  auto decision = Evaluate(*policy, address);
  if (decisions_ != nullptr) {
    decisions_->WithLabels({!decision           ? "unavailable"
                            : decision->granted ? "granted"
                                                : "denied"})
        .Inc();
  }
  if (!decision) {
    return MakeError(decision.error());
  }
  if (!decision->granted) {
    return MakeError(DenialError(*decision));
  }
  return {};
}

bool PolicyAccessDecider::RequiresPlaybackToken(const ContentRecord& content) const {
  if (IsPrivate(content)) {
    return true;
  }
  if (content.access_policy.empty()) {
    return false;
  }
  auto policy = Parsed(content.access_policy);
  return !policy || !(*policy)->is_public;  // an unreadable policy is treated as gated
}

Result<std::string> PolicyAccessDecider::MintPlaybackToken(const ContentRecord& content,
                                                           const Principal& viewer) {
  return tokens_->Mint(content.id, viewer.anonymous() ? "anonymous" : viewer.id, clock_.WallNow());
}

Result<std::string> PolicyAccessDecider::VerifyPlaybackToken(std::string_view token,
                                                             std::string_view content_id) {
  SG_ASSIGN_OR_RETURN(PlaybackClaims claims, tokens_->Verify(token, content_id, clock_.WallNow()));
  return std::move(claims.viewer);
}

BearerAuthenticator::BearerAuthenticator(std::shared_ptr<ApiKeyAuthenticator> api_key,
                                         std::shared_ptr<const JwtCodec> tokens,
                                         std::shared_ptr<const RoleRules> roles)
    : api_key_(std::move(api_key)), tokens_(std::move(tokens)), roles_(std::move(roles)) {}

Result<TokenClaims> BearerAuthenticator::VerifyCached(std::string_view token) {
  constexpr std::size_t kMaxRemembered = 10'000;
  const Expectations expected = tokens_->Expect(kAccessTokenType);
  {
    std::lock_guard lock(verified_mutex_);
    if (auto found = verified_.find(std::string(token)); found != verified_.end()) {
      // Only time can make a verified token invalid: the same check Verify makes.
      if (tokens_->clock().WallNow() < found->second.expires_at + expected.leeway) {
        return found->second;
      }
      verified_.erase(found);
    }
  }
  SG_ASSIGN_OR_RETURN(TokenClaims claims, tokens_->Verify(token, expected));
  std::lock_guard lock(verified_mutex_);
  if (verified_.size() >= kMaxRemembered) {
    verified_.clear();
  }
  verified_.emplace(std::string(token), claims);
  return claims;
}

void BearerAuthenticator::SetRoles(std::shared_ptr<const RoleRules> roles) {
  std::lock_guard lock(roles_mutex_);
  roles_ = std::move(roles);
}

Result<Principal> BearerAuthenticator::Authenticate(const HttpRequest& request) {
  auto header = request.Header("Authorization");
  if (!header) {
    return Principal{};
  }
  std::string_view value = *header;
  constexpr std::string_view kBearer = "Bearer ";
  const bool bearer =
      value.size() > kBearer.size() && LowerAscii(value.substr(0, kBearer.size())) == "bearer ";
  std::string_view credential = bearer ? value.substr(kBearer.size()) : std::string_view();
  if (std::count(credential.begin(), credential.end(), '.') != 2) {
    return api_key_->Authenticate(request);
  }
  SG_ASSIGN_OR_RETURN(TokenClaims claims, VerifyCached(credential));
  Principal principal{.id = claims.subject};
  if (auto listed = claims.lists.find("roles"); listed != claims.lists.end()) {
    principal.roles = listed->second;
  }
  std::shared_ptr<const RoleRules> roles;
  {
    std::lock_guard lock(roles_mutex_);
    roles = roles_;
  }
  // Admin is decided now from the config, never trusted from an older token.
  std::erase(principal.roles, std::string("admin"));
  if (roles->IsAdmin(WalletAddressOf(principal.id))) {
    principal.roles.push_back("admin");
  }
  return principal;
}

}  // namespace sg::plugins::auth
