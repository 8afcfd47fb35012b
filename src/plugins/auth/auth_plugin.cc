#include "plugins/auth/auth_plugin.h"

#include <fmt/ranges.h>
#include <boost/json.hpp>

#include <atomic>
#include <limits>
#include <memory>
#include <mutex>

#include "core/api/context.h"
#include "core/api/metrics.h"
#include "core/api/services/access.h"
#include "core/api/services/cache.h"
#include "core/api/services/chain.h"
#include "core/api/services/event_bus.h"
#include "core/api/services/http.h"
#include "core/api/services/metadata_store.h"
#include "plugins/auth/api_key.h"
#include "plugins/auth/auth_config.h"
#include "plugins/auth/auth_plugin_internal.h"
#include "plugins/auth/evaluator.h"
#include "plugins/auth/jwt_codec.h"
#include "plugins/auth/jwt_keys.h"
#include "plugins/auth/ownership_cache.h"
#include "plugins/auth/playback_token.h"
#include "plugins/auth/policy.h"
#include "plugins/auth/policy_access.h"
#include "plugins/auth/session_store.h"
#include "plugins/auth/wallet_sign_in.h"

namespace sg::plugins::auth {
namespace {

namespace json = boost::json;

constexpr std::string_view kContentUpdated = "streamgate.content.updated";
constexpr std::size_t kMaxSignInBody = 16 * 1024;
constexpr std::size_t kMaxPolicyBody = 64 * 1024;

// A JSON object body or a 400 naming what is wrong.
Result<json::object> ParseObject(std::string_view body) {
  boost::system::error_code error;
  json::value value = json::parse(body, error);
  if (error || !value.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "body must be a JSON object");
  }
  return std::move(value.as_object());
}

Result<std::string> StringField(const json::object& object, std::string_view name) {
  const json::value* value = object.if_contains(name);
  if (value == nullptr || !value->is_string() || value->as_string().empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "{} must be a non-empty string", name);
  }
  return std::string(value->as_string());
}

std::shared_ptr<const RoleRules> MakeRoleRules(const AuthConfig& config,
                                               std::optional<AccessPolicy> creator_policy) {
  auto rules = std::make_shared<RoleRules>();
  for (const auto& admin : config.admins) {
    rules->admins.push_back(LowerAscii(admin));
  }
  rules->creators = config.creators;
  for (const auto& creator : config.creator_allowlist) {
    rules->creator_allowlist.push_back(LowerAscii(creator));
  }
  rules->creator_policy = std::move(creator_policy);
  return rules;
}

class AuthPlugin final : public Plugin {
 public:
  const PluginInfo& Info() const override {
    static const PluginInfo info{
        .name = "auth",
        .version = "0.2.0",
        .description =
            "Sign-in (admin API key, wallets by SIWE with JWT), NFT access policies "
            "and playback tokens",
        // chains is optional (Find): without it wallet sign-in and gated content refuse.
        .dependencies = {"gateway", "metadata"},
        .enabled_by_default = true,
    };
    return info;
  }

  std::unique_ptr<PluginConfig> NewConfig() const override {
    return std::make_unique<TypedPluginConfig<AuthConfig>>();
  }

  Result<> Init(PluginContext& context) override {
    config_ = context.Config<AuthConfig>();
    SG_RETURN_IF_ERROR(config_.Validate());
    logger_ = context.logger();
    if (config_.domains.empty()) {
      // The site is where the server says it is: sign-in works on a non-default port or
      // behind server.public_url without a second setting to keep in step.
      config_.domains = DomainsFromPublicUrl(context.server().public_url);
      if (config_.domains.empty()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "auth.domains: empty and server.public_url ('{}') names no host to "
                         "derive it from; set one of them",
                         context.server().public_url);
      }
      logger_->info("wallet sign-in accepts the domains {} (from server.public_url)",
                    fmt::join(config_.domains, ", "));
    }
    clock_ = &context.clock();
    const auto& data_dir = context.server().data_dir;

    std::string key = config_.api_key;
    if (key.empty()) {
      std::filesystem::path path = config_.api_key_file.empty()
                                       ? data_dir / "api_key"
                                       : std::filesystem::path(config_.api_key_file);
      SG_ASSIGN_OR_RETURN(key, LoadOrCreateApiKey(path, *logger_));
    } else {
      logger_->info("admin API key is set in the config (auth.api_key); api_key_file is unused");
    }
    auto api_key = std::make_shared<ApiKeyAuthenticator>(key);

    chains_ = context.Find<ChainReader>();
    SG_ASSIGN_OR_RETURN(auto ring,
                        SigningKeyRing::Open({.directory = data_dir / "auth" / "keys",
                                              .rotation_period = config_.key_rotation,
                                              .max_token_lifetime = std::max<Duration>(
                                                  config_.access_token_ttl, std::chrono::hours(1))},
                                             *clock_, *logger_));
    jwt_ = std::make_shared<JwtCodec>(
        ring,
        JwtCodecOptions{
            .issuer = config_.issuer, .audience = config_.audience, .leeway = config_.clock_skew},
        *clock_);
    SG_ASSIGN_OR_RETURN(sessions_,
                        AuthSessionStore::Open({.path = data_dir / "auth.sqlite3",
                                                .nonce_ttl = config_.nonce_ttl,
                                                .refresh_ttl = config_.refresh_token_ttl},
                                               *clock_));
    SG_ASSIGN_OR_RETURN(auto playback_keys, LoadOrCreatePlaybackKeys(data_dir));
    auto playback = std::make_shared<const PlaybackTokens>(std::move(playback_keys),
                                                           config_.playback_token_ttl);
    ownership_ = std::make_shared<OwnershipCache>(
        *clock_, OwnershipCacheOptions{
                     .positive_ttl = config_.ownership_ttl,
                     .negative_ttl = config_.negative_ttl,
                     .max_entries = static_cast<std::size_t>(config_.ownership_cache_entries)});
    decider_ = std::make_shared<PolicyAccessDecider>(chains_, ownership_, playback, *clock_);
    decider_->CountDecisions(context.metrics().CounterFamily(
        "streamgate_access_decisions_total",
        "policy decisions of gated content by outcome: granted, denied, unavailable", {"outcome"}));

    std::optional<AccessPolicy> creator_policy;
    if (config_.creators == "policy") {
      auto parsed = ParsePolicy(config_.creator_policy, ChainKnown());
      if (!parsed) {
        return MakeError(ErrorCode::kInvalidArgument, "creator_policy: {}", parsed.error().message);
      }
      creator_policy = std::move(*parsed);
    }
    roles_ = MakeRoleRules(config_, std::move(creator_policy));
    authenticator_ = std::make_shared<BearerAuthenticator>(api_key, jwt_, roles_);
    sign_in_ = std::make_unique<WalletSignIn>(
        SignInRules{.domains = config_.domains, .clock_skew = config_.clock_skew}, chains_,
        *sessions_, *clock_);

    sign_ins_ = &context.metrics().CounterFamily(
        "streamgate_auth_sign_ins_total",
        "wallet sign-ins by outcome: ok, refused (401), invalid (400), unavailable (503)",
        {"outcome"});
    store_ = context.Find<MetadataStore>();
    cache_ = context.Find<Cache>();
    bus_ = context.Find<EventBus>();
    SG_RETURN_IF_ERROR(context.Provide<Authenticator>(authenticator_));
    SG_RETURN_IF_ERROR(context.Provide<AccessDecider>(decider_));
    SG_ASSIGN_OR_RETURN(auto router, context.Require<HttpRouter>());
    return AddRoutes(*router);
  }

  Result<> Start() override {
    MaybeMaintainKeys();
    if (!chains_) {
      logger_->warn("no chains configured: wallet sign-in and token-gated content are refused");
    }
    return {};
  }
  void Stop(Deadline) noexcept override {}
  Health CheckHealth() const override { return {HealthStatus::kOk, ""}; }

  // SIGHUP: admins, creators and the ownership TTLs apply to the next request.
  Result<> Reload(const PluginConfig& fresh) override {
    const AuthConfig& config = ConfigAs<AuthConfig>(fresh);
    std::optional<AccessPolicy> creator_policy;
    if (config.creators == "policy") {
      auto parsed = ParsePolicy(config.creator_policy, ChainKnown());
      if (!parsed) {
        return MakeError(ErrorCode::kInvalidArgument, "creator_policy: {}", parsed.error().message);
      }
      creator_policy = std::move(*parsed);
    }
    auto roles = MakeRoleRules(config, std::move(creator_policy));
    {
      std::lock_guard lock(roles_mutex_);
      roles_ = roles;
    }
    authenticator_->SetRoles(roles);
    ownership_->SetTtls(config.ownership_ttl, config.negative_ttl);
    logger_->info("reloaded: {} admins, creators {}, ownership TTLs {} ms / {} ms",
                  config.admins.size(), config.creators, config.ownership_ttl.count(),
                  config.negative_ttl.count());
    return {};
  }

 private:
  std::shared_ptr<const RoleRules> Roles() const {
    std::lock_guard lock(roles_mutex_);
    return roles_;
  }

  ChainKnownFn ChainKnown() const {
    return [chains = chains_](std::string_view chain) {
      return chains != nullptr && chains->HasChain(chain);
    };
  }

  Result<> AddRoutes(HttpRouter& router) {
    // Sign-in writes SQLite and may ask a chain: blocking, on the handler pool; the write
    // bucket (logins are mutations an attacker would repeat).
    RouteOptions read{.rate_class = "read", .blocking = true};
    RouteOptions write{.rate_class = "write", .blocking = true};
    write.max_body_bytes = kMaxSignInBody;
    RouteOptions policy_write = write;
    policy_write.max_body_bytes = kMaxPolicyBody;
    SG_RETURN_IF_ERROR(router.AddRoute(
        "GET", "/api/v1/auth/nonce", [this](const HttpRequest& r) { return Nonce(r); }, write));
    SG_RETURN_IF_ERROR(router.AddRoute(
        "GET", "/api/v1/chains", [this](const HttpRequest&) { return Chains(); },
        RouteOptions{.rate_class = "read", .blocking = false}));
    SG_RETURN_IF_ERROR(router.AddRoute(
        "POST", "/api/v1/auth/verify", [this](const HttpRequest& r) { return Verify(r); }, write));
    SG_RETURN_IF_ERROR(router.AddRoute(
        "POST", "/api/v1/auth/refresh", [this](const HttpRequest& r) { return Refresh(r); },
        write));
    SG_RETURN_IF_ERROR(router.AddRoute(
        "POST", "/api/v1/auth/logout", [this](const HttpRequest& r) { return Logout(r); }, write));
    SG_RETURN_IF_ERROR(router.AddRoute(
        "GET", "/api/v1/auth/me", [this](const HttpRequest& r) { return Me(r); }, read));
    SG_RETURN_IF_ERROR(router.AddRoute(
        "GET", "/.well-known/jwks.json", [this](const HttpRequest& r) { return Jwks(r); }, read));
    if (store_) {
      SG_RETURN_IF_ERROR(router.AddRoute(
          "GET", "/api/v1/content/{id}/policy",
          [this](const HttpRequest& r) { return GetPolicy(r); }, read));
      SG_RETURN_IF_ERROR(router.AddRoute(
          "PUT", "/api/v1/content/{id}/policy",
          [this](const HttpRequest& r) { return PutPolicy(r); }, policy_write));
    }
    return {};
  }

  // Retired signing keys are deleted and a due rotation made by Maintain; sign-ins are the
  // natural rhythm for it (no thread of its own), at most hourly.
  void MaybeMaintainKeys() {
    const auto now = clock_->Now().time_since_epoch().count();
    auto last = last_key_maintenance_.load();
    if (now - last <
            std::chrono::duration_cast<SteadyTime::duration>(std::chrono::hours(1)).count() ||
        !last_key_maintenance_.compare_exchange_strong(last, now)) {
      return;
    }
    if (auto maintained = jwt_->keys().Maintain(); !maintained) {
      logger_->warn("signing key maintenance: {}", maintained.error().ToString());
    }
  }

  Result<HttpResponse> Nonce(const HttpRequest&) {
    MaybeMaintainKeys();
    SG_ASSIGN_OR_RETURN(std::string nonce, sessions_->IssueNonce());
    json::object body{
        {"nonce", nonce},
        {"expires_in", std::chrono::duration_cast<std::chrono::seconds>(config_.nonce_ttl).count()},
        {"domains", json::value_from(config_.domains)},
        // The chains a sign-in message may name, so a client can ask its wallet to switch.
        {"chains", json::value_from(chains_ ? chains_->ChainIds() : std::vector<std::string>{})}};
    auto response = HttpResponse::Json(200, json::serialize(body));
    response.SetHeader("Cache-Control", "no-store");
    return response;
  }

  // The chains a policy may name and a wallet may sign in with, for clients such as the web
  // app's policy form. Ids only: RPC URLs carry API keys and never leave the server.
  Result<HttpResponse> Chains() {
    json::array chains;
    for (const std::string& id : chains_ ? chains_->ChainIds() : std::vector<std::string>{}) {
      chains.emplace_back(
          json::object{{"id", id}, {"chain_id", std::stoll(id.substr(id.find(':') + 1))}});
    }
    return HttpResponse::Json(200, json::serialize(json::object{{"chains", std::move(chains)}}));
  }

  std::vector<std::string> RolesOf(const WalletIdentity& identity) {
    std::vector<std::string> roles{"viewer"};
    const std::string lower = LowerAscii(identity.address);
    const auto rules = Roles();
    bool creator = rules->creators == "any";
    if (rules->creators == "allowlist") {
      creator = std::find(rules->creator_allowlist.begin(), rules->creator_allowlist.end(),
                          lower) != rules->creator_allowlist.end();
    } else if (rules->creators == "policy" && rules->creator_policy) {
      auto decision = decider_->Evaluate(*rules->creator_policy, identity.address);
      creator = decision && decision->granted;
      if (!decision) {
        // Fail closed, but say why: the wallet signs in as a viewer.
        logger_->warn("creator policy for {} could not be decided: {}", identity.address,
                      decision.error().ToString());
      }
    }
    if (creator) {
      roles.push_back("creator");
    }
    return roles;
  }

  Result<HttpResponse> TokensResponse(const std::string& subject,
                                      const std::vector<std::string>& roles,
                                      const RefreshSession& refresh) {
    SG_ASSIGN_OR_RETURN(IssuedToken access, jwt_->Issue({.subject = subject,
                                                         .type = std::string(kAccessTokenType),
                                                         .lifetime = config_.access_token_ttl,
                                                         .lists = {{"roles", roles}}}));
    std::vector<std::string> effective = roles;
    if (Roles()->IsAdmin(WalletAddressOf(subject))) {
      effective.push_back("admin");
    }
    json::object body{
        {"access_token", access.token},
        {"token_type", "Bearer"},
        {"expires_in",
         std::chrono::duration_cast<std::chrono::seconds>(config_.access_token_ttl).count()},
        {"refresh_token", refresh.token},
        {"subject", subject},
        {"address", std::string(WalletAddressOf(subject))},
        {"roles", json::value_from(effective)}};
    auto response = HttpResponse::Json(200, json::serialize(body));
    response.SetHeader("Cache-Control", "no-store");
    return response;
  }

  Result<HttpResponse> Verify(const HttpRequest& request) {
    SG_ASSIGN_OR_RETURN(auto body, ParseObject(request.body));
    SG_ASSIGN_OR_RETURN(std::string message, StringField(body, "message"));
    SG_ASSIGN_OR_RETURN(std::string signature, StringField(body, "signature"));
    auto identity = sign_in_->Verify(message, signature);
    if (!identity) {
      const ErrorCode code = identity.error().code;
      sign_ins_
          ->WithLabels({code == ErrorCode::kInvalidArgument ? "invalid"
                        : code == ErrorCode::kUnavailable   ? "unavailable"
                                                            : "refused"})
          .Inc();
      logger_->info("wallet sign-in refused: {}", identity.error().message);
      return MakeError(identity.error());
    }
    sign_ins_->WithLabels({"ok"}).Inc();
    const std::string subject = identity->Subject();
    std::vector<std::string> roles = RolesOf(*identity);
    SG_ASSIGN_OR_RETURN(RefreshSession refresh, sessions_->IssueRefresh(subject, roles));
    logger_->info("wallet {} signed in ({})", subject,
                  identity->contract_wallet ? "contract wallet, EIP-1271" : "EOA");
    return TokensResponse(subject, roles, refresh);
  }

  Result<HttpResponse> Refresh(const HttpRequest& request) {
    SG_ASSIGN_OR_RETURN(auto body, ParseObject(request.body));
    SG_ASSIGN_OR_RETURN(std::string token, StringField(body, "refresh_token"));
    SG_ASSIGN_OR_RETURN(RefreshSession next, sessions_->RotateRefresh(token));
    return TokensResponse(next.subject, next.roles, next);
  }

  Result<HttpResponse> Logout(const HttpRequest& request) {
    SG_ASSIGN_OR_RETURN(auto body, ParseObject(request.body));
    SG_ASSIGN_OR_RETURN(std::string token, StringField(body, "refresh_token"));
    SG_RETURN_IF_ERROR(sessions_->Revoke(token));
    HttpResponse response;
    response.status = 204;
    return response;
  }

  Result<HttpResponse> Me(const HttpRequest& request) {
    const Principal& principal = request.principal;
    if (principal.anonymous()) {
      return MakeError(ErrorCode::kUnauthenticated, "not signed in");
    }
    json::object body{{"id", principal.id},
                      {"address", std::string(WalletAddressOf(principal.id))},
                      {"roles", json::value_from(principal.roles)}};
    return HttpResponse::Json(200, json::serialize(body));
  }

  Result<HttpResponse> Jwks(const HttpRequest&) {
    auto response = HttpResponse::Json(200, jwt_->keys().Jwks());
    // Verifiers may cache it briefly; a rotation adds a key well before it signs alone.
    response.SetHeader("Cache-Control", "public, max-age=300");
    return response;
  }

  // The content behind {id} as the caller may see it (private content of others is 404).
  Result<ContentRecord> Visible(const HttpRequest& request) {
    std::string_view id = request.PathParam("id");
    if (!IsValidId(id)) {
      return MakeError(ErrorCode::kInvalidArgument, "invalid content id");
    }
    SG_ASSIGN_OR_RETURN(auto record, store_->GetContent(id));
    const Principal& caller = request.principal;
    if (record.visibility == "private" && !IsOwnerOrAdmin(caller, record)) {
      return MakeError(ErrorCode::kNotFound, "content {} does not exist", id);
    }
    return record;
  }

  // The canonical policy itself, the same shape a PUT takes; {"public":true} when none.
  static HttpResponse PolicyResponse(const ContentRecord& record) {
    return HttpResponse::Json(200, record.access_policy.empty() ? std::string(R"({"public":true})")
                                                                : record.access_policy);
  }

  Result<HttpResponse> GetPolicy(const HttpRequest& request) {
    SG_ASSIGN_OR_RETURN(auto record, Visible(request));
    return PolicyResponse(record);
  }

  Result<HttpResponse> PutPolicy(const HttpRequest& request) {
    const Principal& caller = request.principal;
    if (caller.anonymous()) {
      return MakeError(ErrorCode::kUnauthenticated, "sign in to change an access policy");
    }
    SG_ASSIGN_OR_RETURN(auto record, Visible(request));
    if (!IsOwnerOrAdmin(caller, record)) {
      return MakeError(ErrorCode::kPermissionDenied,
                       "only the owner or an admin may change the policy of content {}", record.id);
    }
    SG_ASSIGN_OR_RETURN(AccessPolicy policy, ParsePolicy(request.body, ChainKnown()));
    const std::string canonical = ToJson(policy);
    SG_ASSIGN_OR_RETURN(auto updated,
                        store_->UpdateContent(record.id, ContentPatch{.access_policy = canonical}));
    // Playback records and manifests are cached: drop them now (not when the event arrives)
    // so that the next manifest request is decided by the new policy.
    if (cache_) {
      if (auto dropped = cache_->InvalidatePrefix(ContentKeyPrefix(record.id)); !dropped) {
        logger_->warn("could not drop cached playback of {}: {}", record.id,
                      dropped.error().ToString());
      }
    }
    if (bus_) {
      json::object payload{{"content_id", record.id}};
      (void)bus_->Publish(
          BusMessage{.subject = std::string(kContentUpdated), .data = json::serialize(payload)});
    }
    logger_->info("access policy of {} set by {}", record.id, caller.id);
    return PolicyResponse(updated);
  }

  AuthConfig config_;
  std::shared_ptr<spdlog::logger> logger_;
  const Clock* clock_ = nullptr;
  /// Steady-clock ticks of the last key maintenance (min = never).
  std::atomic<SteadyTime::rep> last_key_maintenance_{std::numeric_limits<SteadyTime::rep>::min() /
                                                     2};
  std::shared_ptr<ChainReader> chains_;
  std::shared_ptr<JwtCodec> jwt_;
  std::unique_ptr<AuthSessionStore> sessions_;
  std::shared_ptr<OwnershipCache> ownership_;
  std::shared_ptr<PolicyAccessDecider> decider_;
  mutable std::mutex roles_mutex_;
  std::shared_ptr<const RoleRules> roles_;
  std::shared_ptr<BearerAuthenticator> authenticator_;
  std::unique_ptr<WalletSignIn> sign_in_;
  MetricFamily<Counter>* sign_ins_ = nullptr;
  std::shared_ptr<MetadataStore> store_;
  std::shared_ptr<Cache> cache_;
  std::shared_ptr<EventBus> bus_;
};

}  // namespace

std::unique_ptr<Plugin> MakeAuthPlugin() { return std::make_unique<AuthPlugin>(); }

}  // namespace sg::plugins::auth

namespace sg {

Result<> RegisterAuthPlugin(PluginRegistrar& registrar) {
  return registrar.Register([] { return plugins::auth::MakeAuthPlugin(); });
}

}  // namespace sg
