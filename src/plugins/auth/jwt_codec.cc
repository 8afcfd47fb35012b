#include "plugins/auth/jwt_codec.h"

#include <jwt.h>
#include <openssl/err.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cstdlib>
#include <limits>

#include "core/api/random.h"
#include "plugins/auth/base64url.h"

namespace sg::plugins::auth {
namespace {

namespace json = boost::json;

constexpr std::string_view kAlg = "ES256";
constexpr std::size_t kEs256SignatureBytes = 64;
constexpr std::size_t kJtiBytes = 16;
// NumericDate values beyond this (year 2262) overflow the nanosecond clock; none of ours
// comes near it.
constexpr std::int64_t kMaxNumericDate = 9'000'000'000;

constexpr std::array<std::string_view, 8> kRegisteredClaims = {"iss", "aud", "sub", "exp",
                                                               "nbf", "iat", "jti", "typ"};
// The header parameters we write; any other (jwk, jku, x5u, x5c, crit, enc, zip, b64...)
// asks the verifier to do something we never do, so the token is not one of ours.
constexpr std::array<std::string_view, 3> kHeaderParameters = {"alg", "kid", "typ"};

struct JwtFree {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtFree>;

tl::unexpected<Error> Unauthenticated(std::string message) {
  return tl::unexpected<Error>(Error{ErrorCode::kUnauthenticated, "invalid token: " + message});
}

/// Attacker-controlled text made safe to put in a message and a log line.
std::string Printable(std::string_view text) {
  constexpr std::size_t kMax = 48;
  std::string out;
  for (char c : text.substr(0, kMax)) {
    out.push_back(c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? c : '?');
  }
  if (text.size() > kMax) {
    out += "...";
  }
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
           return lower(x) == lower(y);
         });
}

std::optional<json::object> ParseObject(std::string_view text) {
  json::error_code error;
  json::value value = json::parse(text, error);
  if (error || !value.is_object()) {
    return std::nullopt;
  }
  return std::move(value.as_object());
}

std::int64_t ToSeconds(WallTime time) {
  return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
}

WallTime FromSeconds(std::int64_t seconds) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::seconds(seconds)));
}

/// A NumericDate claim: nullopt when absent, an error when not a sane integer.
Result<std::optional<WallTime>> NumericDate(const json::object& claims, std::string_view name) {
  const json::value* value = claims.if_contains(name);
  if (value == nullptr) {
    return std::optional<WallTime>();
  }
  std::int64_t seconds = -1;
  if (value->is_int64()) {
    seconds = value->as_int64();
  } else if (value->is_uint64() &&
             value->as_uint64() <= static_cast<std::uint64_t>(kMaxNumericDate)) {
    seconds = static_cast<std::int64_t>(value->as_uint64());
  }
  if (seconds < 0 || seconds > kMaxNumericDate) {
    return Unauthenticated(
        fmt::format("claim {} is not a whole number of seconds since 1970", name));
  }
  return std::optional<WallTime>(FromSeconds(seconds));
}

/// A required string claim; kUnauthenticated when absent, empty or not a string.
Result<std::string> RequiredString(const json::object& claims, std::string_view name) {
  const json::value* value = claims.if_contains(name);
  if (value == nullptr) {
    return Unauthenticated(fmt::format("token has no {} claim", name));
  }
  if (!value->is_string() || value->as_string().empty()) {
    return Unauthenticated(fmt::format("claim {} is not a non-empty string", name));
  }
  return std::string(value->as_string());
}

bool IsRegistered(std::string_view name) {
  return std::find(kRegisteredClaims.begin(), kRegisteredClaims.end(), name) !=
         kRegisteredClaims.end();
}

/// Checks the header and returns the key it names. Pinning happens here, before any
/// signature check: the algorithm must be exactly ES256.
Result<std::shared_ptr<const SigningKey>> CheckHeader(std::string_view encoded,
                                                      const SigningKeyRing& keys) {
  auto text = Base64UrlDecode(encoded);
  if (!text) {
    return Unauthenticated("header is not base64url");
  }
  auto header = ParseObject(*text);
  if (!header) {
    return Unauthenticated("header is not a JSON object");
  }
  const json::value* alg = header->if_contains("alg");
  if (alg == nullptr || !alg->is_string()) {
    return Unauthenticated("header has no alg");
  }
  const std::string_view alg_name = alg->as_string();
  if (EqualsIgnoreCase(alg_name, "none")) {
    return Unauthenticated(
        fmt::format("alg \"{}\" (an unsigned token) is refused", Printable(alg_name)));
  }
  if (alg_name != kAlg) {
    return Unauthenticated(
        fmt::format("alg \"{}\" is not accepted; only ES256", Printable(alg_name)));
  }
  for (const auto& member : *header) {
    if (std::find(kHeaderParameters.begin(), kHeaderParameters.end(), member.key()) ==
        kHeaderParameters.end()) {
      return Unauthenticated(
          fmt::format("header parameter \"{}\" is not accepted", Printable(member.key())));
    }
  }
  if (const json::value* typ = header->if_contains("typ"); typ != nullptr) {
    // Media type names compare case-insensitively (RFC 7515 §4.1.9).
    if (!typ->is_string() || !EqualsIgnoreCase(typ->as_string(), "JWT")) {
      return Unauthenticated("header typ is not \"JWT\"");
    }
  }
  const json::value* kid = header->if_contains("kid");
  if (kid == nullptr || !kid->is_string() || kid->as_string().empty()) {
    return Unauthenticated("header has no kid");
  }
  auto key = keys.Find(kid->as_string());
  if (!key) {
    return Unauthenticated(
        fmt::format("unknown kid \"{}\" (not a signing key of this server, or one retired since)",
                    Printable(kid->as_string())));
  }
  return key;
}

/// Lets libjwt check the ES256 signature with the key's public PEM. The header is already
/// pinned; what libjwt parsed is compared again so that a second reading (duplicate
/// members, other JSON parsing rules) can never select another algorithm or key.
Result<> CheckSignature(std::string_view token, const SigningKey& key) {
  const std::string terminated(token);
  jwt_t* raw = nullptr;
  const int failed = jwt_decode(&raw, terminated.c_str(),
                                reinterpret_cast<const unsigned char*>(key.public_pem().data()),
                                static_cast<int>(key.public_pem().size()));
  JwtPtr decoded(raw);
  ERR_clear_error();  // a failed verification leaves OpenSSL errors on this thread
  if (failed != 0 || !decoded) {
    return Unauthenticated("bad signature");
  }
  const char* kid = jwt_get_header(decoded.get(), "kid");
  if (jwt_get_alg(decoded.get()) != JWT_ALG_ES256 || kid == nullptr || key.kid() != kid) {
    return Unauthenticated("header is ambiguous (duplicate members?)");
  }
  return {};
}

}  // namespace

JwtCodec::JwtCodec(std::shared_ptr<SigningKeyRing> keys, JwtCodecOptions options,
                   const Clock& clock)
    : keys_(std::move(keys)), options_(std::move(options)), clock_(clock) {
  SG_CHECK(keys_ != nullptr, "JwtCodec needs a key ring");
  SG_CHECK(!options_.issuer.empty() && !options_.audience.empty(),
           "JwtCodec needs an issuer and an audience (validate the config first)");
}

Expectations JwtCodec::Expect(std::string_view type) const {
  return Expectations{.issuer = options_.issuer,
                      .audience = options_.audience,
                      .type = std::string(type),
                      .now = std::nullopt,
                      .leeway = options_.leeway};
}

Result<IssuedToken> JwtCodec::Issue(const TokenRequest& request) const {
  if (request.subject.empty() || request.type.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "a token needs a subject and a type");
  }
  const auto lifetime = std::chrono::duration_cast<std::chrono::seconds>(request.lifetime);
  if (lifetime < std::chrono::seconds(1) || lifetime > keys_->options().max_token_lifetime) {
    // Longer tokens could outlive the key that signed them (see SigningKeyRingOptions).
    return MakeError(
        ErrorCode::kInvalidArgument, "token lifetime must be between 1 s and {} s, got {} s",
        std::chrono::duration_cast<std::chrono::seconds>(keys_->options().max_token_lifetime)
            .count(),
        lifetime.count());
  }
  for (const auto& [name, value] : request.strings) {
    if (name.empty() || IsRegistered(name) || request.lists.contains(name)) {
      return MakeError(ErrorCode::kInvalidArgument, "claim name \"{}\" is reserved or repeated",
                       name);
    }
  }
  for (const auto& [name, values] : request.lists) {
    if (name.empty() || IsRegistered(name)) {
      return MakeError(ErrorCode::kInvalidArgument, "claim name \"{}\" is reserved", name);
    }
  }

  const std::shared_ptr<const SigningKey> key = keys_->KeyForSigning();
  IssuedToken issued;
  TokenClaims& claims = issued.claims;
  claims.issuer = options_.issuer;
  claims.audience = request.audience.empty() ? options_.audience : request.audience;
  claims.subject = request.subject;
  claims.type = request.type;
  claims.id = RandomHex(kJtiBytes);
  claims.key_id = key->kid();
  const std::int64_t now = ToSeconds(clock_.WallNow());
  claims.issued_at = FromSeconds(now);
  claims.not_before = claims.issued_at;
  claims.expires_at = FromSeconds(now + lifetime.count());
  claims.strings = request.strings;
  claims.lists = request.lists;

  json::object body;
  body["iss"] = claims.issuer;
  body["aud"] = claims.audience;
  body["sub"] = claims.subject;
  body["iat"] = now;
  body["nbf"] = now;
  body["exp"] = now + lifetime.count();
  body["jti"] = claims.id;
  body["typ"] = claims.type;
  for (const auto& [name, value] : request.strings) {
    body[name] = value;
  }
  for (const auto& [name, values] : request.lists) {
    json::array array;
    for (const auto& value : values) {
      array.emplace_back(value);
    }
    body[name] = std::move(array);
  }

  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0 || raw == nullptr) {
    return MakeError(ErrorCode::kInternal, "libjwt cannot allocate a token");
  }
  JwtPtr jwt(raw);
  const std::string body_text = json::serialize(body);
  const std::string& pem = key->private_pem();
  if (jwt_add_grants_json(jwt.get(), body_text.c_str()) != 0 ||
      jwt_add_header(jwt.get(), "kid", key->kid().c_str()) != 0 ||
      jwt_set_alg(jwt.get(), JWT_ALG_ES256, reinterpret_cast<const unsigned char*>(pem.data()),
                  static_cast<int>(pem.size())) != 0) {
    return MakeError(ErrorCode::kInternal, "libjwt cannot build a token");
  }
  char* encoded = jwt_encode_str(jwt.get());
  ERR_clear_error();
  if (encoded == nullptr) {
    return MakeError(ErrorCode::kInternal, "libjwt cannot sign a token with key {}", key->kid());
  }
  issued.token = encoded;
  std::free(encoded);
  return issued;
}

Result<TokenClaims> JwtCodec::Verify(std::string_view token, const Expectations& expected) const {
  // 1. Shape, before any decoding: compact JWS only, bounded size.
  if (token.empty()) {
    return Unauthenticated("empty token");
  }
  if (token.size() > kMaxTokenBytes) {
    return Unauthenticated(fmt::format("token is longer than {} bytes", kMaxTokenBytes));
  }
  if (token.front() == '{') {
    return Unauthenticated("JSON serialization is not accepted; only the compact form");
  }
  const auto dots = std::count(token.begin(), token.end(), '.');
  if (dots == 4) {
    return Unauthenticated("encrypted tokens (JWE) are not accepted");
  }
  if (dots != 2) {
    return Unauthenticated("not a compact JWS (three base64url parts separated by dots)");
  }
  const std::size_t first = token.find('.');
  const std::size_t second = token.find('.', first + 1);
  const std::string_view header = token.substr(0, first);
  const std::string_view payload = token.substr(first + 1, second - first - 1);
  const std::string_view signature = token.substr(second + 1);

  // 2. The header pins ES256 and names a key we have.
  SG_ASSIGN_OR_RETURN(auto key, CheckHeader(header, *keys_));

  // 3. The signature, by libjwt.
  auto signature_bytes = Base64UrlDecode(signature);
  if (!signature_bytes || signature_bytes->size() != kEs256SignatureBytes) {
    return Unauthenticated("signature is not a base64url 64-byte ES256 signature");
  }
  auto payload_text = Base64UrlDecode(payload);
  if (!payload_text) {
    return Unauthenticated("payload is not base64url");
  }
  auto claims = ParseObject(*payload_text);
  if (!claims) {
    return Unauthenticated("payload is not a JSON object");
  }
  SG_RETURN_IF_ERROR(CheckSignature(token, *key));

  // 4. The claims.
  TokenClaims out;
  out.key_id = key->kid();
  const WallTime now = expected.now.value_or(clock_.WallNow());
  SG_ASSIGN_OR_RETURN(auto exp, NumericDate(*claims, "exp"));
  SG_ASSIGN_OR_RETURN(auto nbf, NumericDate(*claims, "nbf"));
  SG_ASSIGN_OR_RETURN(auto iat, NumericDate(*claims, "iat"));
  if (!exp) {
    return Unauthenticated("token has no exp claim");
  }
  if (*exp + expected.leeway <= now) {
    return Unauthenticated(fmt::format("token expired at {}", FormatRfc3339(*exp)));
  }
  if (nbf && *nbf > now + expected.leeway) {
    return Unauthenticated(fmt::format("token is not valid before {}", FormatRfc3339(*nbf)));
  }
  if (!iat) {
    return Unauthenticated("token has no iat claim");
  }
  if (*iat > now + expected.leeway) {
    return Unauthenticated(fmt::format("token was issued in the future ({})", FormatRfc3339(*iat)));
  }
  out.expires_at = *exp;
  out.issued_at = *iat;
  out.not_before = nbf.value_or(*iat);

  SG_ASSIGN_OR_RETURN(out.issuer, RequiredString(*claims, "iss"));
  if (out.issuer != expected.issuer) {
    return Unauthenticated(fmt::format("issuer \"{}\" is not \"{}\"", Printable(out.issuer),
                                       Printable(expected.issuer)));
  }
  const json::value* aud = claims->if_contains("aud");
  bool audience_ok = false;
  if (aud != nullptr && aud->is_string()) {
    audience_ok = aud->as_string() == expected.audience;
  } else if (aud != nullptr && aud->is_array()) {
    for (const json::value& item : aud->as_array()) {
      audience_ok = audience_ok || (item.is_string() && item.as_string() == expected.audience);
    }
  }
  if (!audience_ok) {
    return Unauthenticated(
        fmt::format("token is not meant for audience \"{}\"", Printable(expected.audience)));
  }
  out.audience = expected.audience;
  SG_ASSIGN_OR_RETURN(out.type, RequiredString(*claims, "typ"));
  if (out.type != expected.type) {
    return Unauthenticated(fmt::format("token type \"{}\" is not \"{}\"", Printable(out.type),
                                       Printable(expected.type)));
  }
  SG_ASSIGN_OR_RETURN(out.subject, RequiredString(*claims, "sub"));
  SG_ASSIGN_OR_RETURN(out.id, RequiredString(*claims, "jti"));

  for (const auto& member : *claims) {
    const std::string_view name = member.key();
    if (IsRegistered(name)) {
      continue;
    }
    if (member.value().is_string()) {
      out.strings.emplace(std::string(name), std::string(member.value().as_string()));
    } else if (member.value().is_array()) {
      std::vector<std::string> values;
      bool all_strings = true;
      for (const json::value& item : member.value().as_array()) {
        all_strings = all_strings && item.is_string();
        if (all_strings) {
          values.emplace_back(item.as_string());
        }
      }
      if (all_strings) {
        out.lists.emplace(std::string(name), std::move(values));
      }
    }
  }
  return out;
}

}  // namespace sg::plugins::auth
