#include "plugins/auth/jwt_codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <spdlog/sinks/null_sink.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <functional>

#include "core/testing/fake_clock.h"
#include "core/testing/temp_dir.h"
#include "plugins/auth/base64url.h"

namespace sg::plugins::auth {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using namespace std::chrono_literals;

constexpr std::string_view kIssuer = "https://video.example.org";
constexpr std::string_view kAudience = "streamgate";
constexpr std::string_view kSubject = "eip155:1:0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B";

// ---- Forging helpers: what an attacker (or a buggy peer) could send --------------------

std::string Es256Sign(std::string_view signing_input, const SigningKey& key) {
  BIO* bio = BIO_new_mem_buf(key.private_pem().data(), static_cast<int>(key.private_pem().size()));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t der_size = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, pkey);
  EVP_DigestSign(ctx, nullptr, &der_size,
                 reinterpret_cast<const unsigned char*>(signing_input.data()),
                 signing_input.size());
  std::vector<unsigned char> der(der_size);
  EVP_DigestSign(ctx, der.data(), &der_size,
                 reinterpret_cast<const unsigned char*>(signing_input.data()),
                 signing_input.size());
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  const unsigned char* cursor = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der_size));
  std::array<unsigned char, 64> raw{};
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw.data(), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw.data() + 32, 32);
  ECDSA_SIG_free(sig);
  return Base64UrlEncode(raw);
}

std::string Hmac(std::string_view digest, std::string_view signing_input, std::string_view secret) {
  std::array<unsigned char, 64> mac{};
  std::size_t size = 0;
  EVP_Q_mac(nullptr, "HMAC", nullptr, std::string(digest).c_str(), nullptr, secret.data(),
            secret.size(), reinterpret_cast<const unsigned char*>(signing_input.data()),
            signing_input.size(), mac.data(), mac.size(), &size);
  return Base64UrlEncode(std::span<const unsigned char>(mac.data(), size));
}

/// header.payload, base64url'd from JSON text.
std::string SigningInput(const json::object& header, const json::object& payload) {
  return Base64UrlEncode(json::serialize(header)) + "." + Base64UrlEncode(json::serialize(payload));
}

std::string Payload(std::string_view token) {
  const auto first = token.find('.');
  const auto second = token.find('.', first + 1);
  return *Base64UrlDecode(token.substr(first + 1, second - first - 1));
}

class JwtCodecTest : public ::testing::Test {
 protected:
  JwtCodecTest() {
    auto ring = SigningKeyRing::Open({.directory = dir_.path() / "keys",
                                      .rotation_period = 30 * 24h,
                                      .max_token_lifetime = 1h,
                                      .retire_grace = 5min},
                                     clock_, logger_);
    SG_CHECK(ring.has_value(), "test key ring");
    ring_ = *ring;
    codec_ = std::make_unique<JwtCodec>(
        ring_, JwtCodecOptions{.issuer = std::string(kIssuer), .audience = std::string(kAudience)},
        clock_);
    key_ = ring_->KeyForSigning();
  }

  IssuedToken IssueAccess(Duration lifetime = 15min) {
    auto issued = codec_->Issue({.subject = std::string(kSubject),
                                 .type = std::string(kAccessTokenType),
                                 .lifetime = lifetime,
                                 .strings = {{"cid", "content-1"}},
                                 .lists = {{"roles", {"viewer", "creator"}}}});
    SG_CHECK(issued.has_value(), "issue");
    return *issued;
  }

  /// Claims a correct token carries, for forging variants.
  json::object GoodClaims() const {
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(clock_.WallNow().time_since_epoch())
            .count();
    return json::object{{"iss", kIssuer},
                        {"aud", kAudience},
                        {"sub", kSubject},
                        {"iat", now},
                        {"nbf", now},
                        {"exp", now + 900},
                        {"jti", "00112233445566778899aabbccddeeff"},
                        {"typ", "access"}};
  }
  json::object GoodHeader() const {
    return json::object{{"alg", "ES256"}, {"typ", "JWT"}, {"kid", key_->kid()}};
  }
  std::string Forge(const json::object& header, const json::object& claims) const {
    const std::string input = SigningInput(header, claims);
    return input + "." + Es256Sign(input, *key_);
  }

  Result<TokenClaims> VerifyAccess(std::string_view token) const {
    return codec_->Verify(token, codec_->Expect(kAccessTokenType));
  }

  testing::TempDir dir_{"sg-jwt-codec"};
  testing::FakeClock clock_;
  spdlog::logger logger_{"test", std::make_shared<spdlog::sinks::null_sink_mt>()};
  std::shared_ptr<SigningKeyRing> ring_;
  std::unique_ptr<JwtCodec> codec_;
  std::shared_ptr<const SigningKey> key_;
};

// ---- Positive ----------------------------------------------------------------------------

TEST_F(JwtCodecTest, AnIssuedTokenVerifiesWithAllItsClaims) {
  const IssuedToken issued = IssueAccess();

  auto claims = VerifyAccess(issued.token);

  ASSERT_TRUE(claims) << claims.error().ToString();
  EXPECT_EQ(claims->issuer, kIssuer);
  EXPECT_EQ(claims->audience, kAudience);
  EXPECT_EQ(claims->subject, kSubject);
  EXPECT_EQ(claims->type, "access");
  EXPECT_EQ(claims->key_id, key_->kid());
  EXPECT_EQ(claims->id, issued.claims.id);
  EXPECT_THAT(claims->id, MatchesRegex("[0-9a-f]{32}"));
  EXPECT_EQ(claims->issued_at, clock_.WallNow());
  EXPECT_EQ(claims->not_before, clock_.WallNow());
  EXPECT_EQ(claims->expires_at, clock_.WallNow() + 15min);
  EXPECT_EQ(claims->strings, (std::map<std::string, std::string>{{"cid", "content-1"}}));
  EXPECT_EQ(claims->lists.at("roles"), (std::vector<std::string>{"viewer", "creator"}));
}

TEST_F(JwtCodecTest, TheHeaderIsExactlyAlgKidTyp) {
  const IssuedToken issued = IssueAccess();
  const std::string header = *Base64UrlDecode(issued.token.substr(0, issued.token.find('.')));

  EXPECT_EQ(json::parse(header),
            json::parse(fmt::format(R"({{"alg":"ES256","typ":"JWT","kid":"{}"}})", key_->kid())));
}

TEST_F(JwtCodecTest, ThePayloadHoldsTheRegisteredClaimsAndTheExtraOnes) {
  const IssuedToken issued = IssueAccess(15min);
  const json::object payload = json::parse(Payload(issued.token)).as_object();
  const std::int64_t now = 1767225600;  // the fake clock: 2026-01-01T00:00:00Z

  EXPECT_EQ(payload, (json::object{{"iss", kIssuer},
                                   {"aud", kAudience},
                                   {"sub", kSubject},
                                   {"iat", now},
                                   {"nbf", now},
                                   {"exp", now + 900},
                                   {"jti", issued.claims.id},
                                   {"typ", "access"},
                                   {"cid", "content-1"},
                                   {"roles", json::array{"viewer", "creator"}}}));
}

TEST_F(JwtCodecTest, EveryTokenHasItsOwnJti) {
  EXPECT_NE(IssueAccess().claims.id, IssueAccess().claims.id);
}

TEST_F(JwtCodecTest, APlaybackTokenCarriesItsTypeAndAudience) {
  auto issued = codec_->Issue({.subject = std::string(kSubject),
                               .type = std::string(kPlaybackTokenType),
                               .lifetime = 10min,
                               .audience = "streamgate-playback"});
  ASSERT_TRUE(issued);
  Expectations expect = codec_->Expect(kPlaybackTokenType);
  expect.audience = "streamgate-playback";

  EXPECT_TRUE(codec_->Verify(issued->token, expect));
  EXPECT_FALSE(VerifyAccess(issued->token)) << "a playback token is no access token";
}

TEST_F(JwtCodecTest, TheLeewayToleratesSmallClockSkewAtBothEnds) {
  const IssuedToken issued = IssueAccess(15min);
  Expectations expect = codec_->Expect(kAccessTokenType);
  expect.leeway = 60s;

  expect.now = clock_.WallNow() - 59s;  // a verifier slightly behind
  EXPECT_TRUE(codec_->Verify(issued.token, expect));
  expect.now = clock_.WallNow() + 15min + 59s;  // slightly ahead, just after exp
  EXPECT_TRUE(codec_->Verify(issued.token, expect));
  expect.now = clock_.WallNow() + 15min + 60s;  // exp <= now - leeway
  auto expired = codec_->Verify(issued.token, expect);
  ASSERT_FALSE(expired);
  EXPECT_THAT(expired.error().message, HasSubstr("expired"));
}

TEST_F(JwtCodecTest, AnAudienceArrayNamingUsIsAccepted) {
  json::object claims = GoodClaims();
  claims["aud"] = json::array{"other", kAudience};
  EXPECT_TRUE(VerifyAccess(Forge(GoodHeader(), claims)));
}

TEST_F(JwtCodecTest, IssueRefusesBadRequests) {
  auto too_long = codec_->Issue({.subject = "s", .type = "access", .lifetime = 2h});
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(too_long.error().message, HasSubstr("between 1 s and 3600 s"));
  EXPECT_FALSE(codec_->Issue({.subject = "s", .type = "access", .lifetime = 0s}));
  EXPECT_FALSE(codec_->Issue({.subject = "", .type = "access"}));
  EXPECT_FALSE(codec_->Issue({.subject = "s", .type = ""}));
  auto reserved = codec_->Issue({.subject = "s", .type = "access", .strings = {{"exp", "1"}}});
  ASSERT_FALSE(reserved);
  EXPECT_THAT(reserved.error().message, HasSubstr("\"exp\""));
  EXPECT_FALSE(codec_->Issue({.subject = "s", .type = "access", .lists = {{"sub", {"x"}}}}));
}

// ---- Rotation ----------------------------------------------------------------------------

TEST_F(JwtCodecTest, ATokenOfThePreviousKeyVerifiesUntilItExpiresThenItsKeyIsUnknown) {
  clock_.Advance(30 * 24h - 10min);
  const IssuedToken old_token = IssueAccess(15min);  // by the first key, 10 min before rotation
  clock_.Advance(10min);
  const IssuedToken new_token = IssueAccess(15min);  // rotates
  ASSERT_NE(new_token.claims.key_id, old_token.claims.key_id);

  EXPECT_TRUE(VerifyAccess(old_token.token)) << "the previous key still verifies";
  EXPECT_TRUE(VerifyAccess(new_token.token));

  // Retired max_token_lifetime (1 h) + grace (5 min) after the rotation.
  clock_.Advance(1h + 5min);
  ASSERT_TRUE(ring_->Maintain());
  auto pruned = VerifyAccess(old_token.token);
  ASSERT_FALSE(pruned);
  EXPECT_EQ(pruned.error().code, ErrorCode::kUnauthenticated);
  EXPECT_THAT(pruned.error().message, HasSubstr("unknown kid"));
}

// ---- The key-confusion attack, as an attacker with a stock library would mount it ------

TEST_F(JwtCodecTest, AnHs256TokenMacedWithThePublicKeyPemIsRefused) {
  const std::string& pem = key_->public_pem();
  jwt_t* raw = nullptr;
  ASSERT_EQ(jwt_new(&raw), 0);
  std::unique_ptr<jwt_t, decltype(&jwt_free)> forged(raw, &jwt_free);
  ASSERT_EQ(jwt_add_grants_json(forged.get(), json::serialize(GoodClaims()).c_str()), 0);
  ASSERT_EQ(jwt_add_header(forged.get(), "kid", key_->kid().c_str()), 0);
  ASSERT_EQ(
      jwt_set_alg(forged.get(), JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(pem.data()),
                  static_cast<int>(pem.size())),
      0);
  char* encoded = jwt_encode_str(forged.get());
  ASSERT_NE(encoded, nullptr);
  const std::string token = encoded;
  std::free(encoded);

  // libjwt 1.10 alone accepts it: this is why the codec pins the algorithm first.
  jwt_t* accepted = nullptr;
  EXPECT_EQ(jwt_decode(&accepted, token.c_str(), reinterpret_cast<const unsigned char*>(pem.data()),
                       static_cast<int>(pem.size())),
            0);
  jwt_free(accepted);

  auto verified = VerifyAccess(token);
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, ErrorCode::kUnauthenticated);
  EXPECT_THAT(verified.error().message, HasSubstr("alg \"HS256\" is not accepted; only ES256"));
}

// ---- The RFC 8725 negative table ---------------------------------------------------------

struct Forgery {
  std::string name;
  std::function<std::string(const JwtCodecTest&)> make;
  std::string reason;  // a substring of the error message
};

class JwtNegativeTableTest : public JwtCodecTest {
 public:
  // Exposed to the table's lambdas.
  using JwtCodecTest::Forge;
  using JwtCodecTest::GoodClaims;
  using JwtCodecTest::GoodHeader;
  const SigningKey& key() const { return *key_; }
  const testing::FakeClock& clock() const { return clock_; }
  std::string Issued() { return IssueAccess().token; }
};

json::object With(json::object object, std::string_view name, json::value value) {
  object[name] = std::move(value);
  return object;
}
json::object Without(json::object object, std::string_view name) {
  object.erase(name);
  return object;
}

std::string Unsigned(const json::object& header, const json::object& claims) {
  return SigningInput(header, claims) + ".";
}
std::string MacedWithPem(std::string_view alg, std::string_view digest, const JwtCodecTest& t) {
  const auto& self = static_cast<const JwtNegativeTableTest&>(t);
  const std::string input =
      SigningInput(With(self.GoodHeader(), "alg", json::string(alg)), self.GoodClaims());
  return input + "." + Hmac(digest, input, self.key().public_pem());
}
std::string WithAlgAndEs256Signature(std::string_view alg, const JwtCodecTest& t) {
  const auto& self = static_cast<const JwtNegativeTableTest&>(t);
  return self.Forge(With(self.GoodHeader(), "alg", json::string(alg)), self.GoodClaims());
}
const JwtNegativeTableTest& Self(const JwtCodecTest& t) {
  return static_cast<const JwtNegativeTableTest&>(t);
}
std::int64_t NowSeconds(const JwtCodecTest& t) {
  return std::chrono::duration_cast<std::chrono::seconds>(
             Self(t).clock().WallNow().time_since_epoch())
      .count();
}

std::vector<Forgery> Forgeries() {
  std::vector<Forgery> table;
  auto add = [&](std::string name, std::function<std::string(const JwtCodecTest&)> make,
                 std::string reason) {
    table.push_back({std::move(name), std::move(make), std::move(reason)});
  };
  // RFC 8725 §2.1 / §3.1: "none" in any case, and algorithms other than the pinned one.
  for (std::string alg : {"none", "None", "NONE", "nOnE"}) {
    add(
        "alg_" + alg + "_unsigned",
        [alg](const JwtCodecTest& t) {
          return Unsigned(With(Self(t).GoodHeader(), "alg", json::string(alg)),
                          Self(t).GoodClaims());
        },
        "(an unsigned token) is refused");
    add(
        "alg_" + alg + "_with_signature",
        [alg](const JwtCodecTest& t) { return WithAlgAndEs256Signature(alg, t); },
        "(an unsigned token) is refused");
  }
  // §2.1 key confusion: HMAC keyed with the public key PEM, in several spellings.
  add(
      "hs256_maced_with_public_pem",
      [](const JwtCodecTest& t) { return MacedWithPem("HS256", "SHA256", t); },
      "alg \"HS256\" is not accepted");
  add(
      "hs256_lower_case_maced_with_public_pem",
      [](const JwtCodecTest& t) { return MacedWithPem("hs256", "SHA256", t); },
      "alg \"hs256\" is not accepted");
  add(
      "hs384_maced_with_public_pem",
      [](const JwtCodecTest& t) { return MacedWithPem("HS384", "SHA384", t); },
      "alg \"HS384\" is not accepted");
  add(
      "hs512_maced_with_public_pem_64_bytes_like_es256",
      [](const JwtCodecTest& t) { return MacedWithPem("HS512", "SHA512", t); },
      "alg \"HS512\" is not accepted");
  add(
      "duplicate_alg_es256_then_hs512",
      [](const JwtCodecTest& t) {
        const std::string header =
            fmt::format(R"({{"alg":"ES256","kid":"{}","alg":"HS512"}})", Self(t).key().kid());
        const std::string input =
            Base64UrlEncode(header) + "." + Base64UrlEncode(json::serialize(Self(t).GoodClaims()));
        return input + "." + Hmac("SHA512", input, Self(t).key().public_pem());
      },
      "is not accepted");
  for (std::string alg : {"RS256", "PS256", "ES384", "ES512", "EdDSA", "es256", "ES256 "}) {
    add(
        "alg_" + alg, [alg](const JwtCodecTest& t) { return WithAlgAndEs256Signature(alg, t); },
        "is not accepted; only ES256");
  }
  add(
      "no_alg",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Without(Self(t).GoodHeader(), "alg"), Self(t).GoodClaims());
      },
      "header has no alg");
  add(
      "alg_not_a_string",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(With(Self(t).GoodHeader(), "alg", 256), Self(t).GoodClaims());
      },
      "header has no alg");
  // §3.10 kid: required, must name a key we hold.
  add(
      "no_kid",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Without(Self(t).GoodHeader(), "kid"), Self(t).GoodClaims());
      },
      "header has no kid");
  add(
      "empty_kid",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(With(Self(t).GoodHeader(), "kid", ""), Self(t).GoodClaims());
      },
      "header has no kid");
  add(
      "unknown_kid_signed_by_a_foreign_key",
      [](const JwtCodecTest& t) {
        auto foreign = SigningKey::Generate(WallTime{});
        const std::string input =
            SigningInput(With(Self(t).GoodHeader(), "kid", json::string((*foreign)->kid())),
                         Self(t).GoodClaims());
        return input + "." + Es256Sign(input, **foreign);
      },
      "unknown kid");
  add(
      "our_kid_signed_by_a_foreign_key",
      [](const JwtCodecTest& t) {
        auto foreign = SigningKey::Generate(WallTime{});
        const std::string input = SigningInput(Self(t).GoodHeader(), Self(t).GoodClaims());
        return input + "." + Es256Sign(input, **foreign);
      },
      "bad signature");
  // Header parameters that would make a verifier fetch or trust keys, or that we do not do.
  for (std::string parameter : {"jwk", "jku", "x5u", "x5c", "crit", "enc", "zip", "cty"}) {
    add(
        "header_" + parameter,
        [parameter](const JwtCodecTest& t) {
          return Self(t).Forge(With(Self(t).GoodHeader(), parameter, "x"), Self(t).GoodClaims());
        },
        "header parameter \"" + parameter + "\" is not accepted");
  }
  add(
      "header_typ_not_jwt",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(With(Self(t).GoodHeader(), "typ", "at+jwt"), Self(t).GoodClaims());
      },
      "header typ is not \"JWT\"");
  // Signature integrity.
  add(
      "tampered_payload",
      [](const JwtCodecTest& t) {
        const std::string good = Self(t).Forge(Self(t).GoodHeader(), Self(t).GoodClaims());
        const std::string evil = Base64UrlEncode(json::serialize(With(
            Self(t).GoodClaims(), "sub", "eip155:1:0x0000000000000000000000000000000000000bad")));
        const auto first = good.find('.');
        const auto second = good.find('.', first + 1);
        return good.substr(0, first + 1) + evil + good.substr(second);
      },
      "bad signature");
  add(
      "signature_of_another_token",
      [](const JwtCodecTest& t) {
        const std::string a = Self(t).Forge(Self(t).GoodHeader(), Self(t).GoodClaims());
        const std::string b =
            Self(t).Forge(Self(t).GoodHeader(), With(Self(t).GoodClaims(), "typ", "admin"));
        return a.substr(0, a.rfind('.')) + b.substr(b.rfind('.'));
      },
      "bad signature");
  add(
      "truncated_signature",
      [](const JwtCodecTest& t) {
        const std::string good = Self(t).Forge(Self(t).GoodHeader(), Self(t).GoodClaims());
        return good.substr(0, good.size() - 4);
      },
      "64-byte ES256 signature");
  add(
      "empty_signature",
      [](const JwtCodecTest& t) { return Unsigned(Self(t).GoodHeader(), Self(t).GoodClaims()); },
      "64-byte ES256 signature");
  add(
      "padded_signature",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Self(t).GoodHeader(), Self(t).GoodClaims()) + "==";
      },
      "64-byte ES256 signature");
  // Claims (RFC 8725 §3.8 iss, §3.9 aud, §3.11 explicit typing; RFC 7519 exp / nbf).
  add(
      "wrong_issuer",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Self(t).GoodHeader(),
                             With(Self(t).GoodClaims(), "iss", "https://evil.example"));
      },
      "issuer \"https://evil.example\" is not");
  add(
      "no_issuer",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Self(t).GoodHeader(), Without(Self(t).GoodClaims(), "iss"));
      },
      "no iss claim");
  add(
      "wrong_audience",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Self(t).GoodHeader(),
                             With(Self(t).GoodClaims(), "aud", "another-service"));
      },
      "not meant for audience");
  add(
      "audience_array_without_us",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Self(t).GoodHeader(),
                             With(Self(t).GoodClaims(), "aud", json::array{"a", "b"}));
      },
      "not meant for audience");
  add(
      "no_audience",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Self(t).GoodHeader(), Without(Self(t).GoodClaims(), "aud"));
      },
      "not meant for audience");
  add(
      "wrong_type_playback_as_access",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Self(t).GoodHeader(), With(Self(t).GoodClaims(), "typ", "playback"));
      },
      "token type \"playback\" is not \"access\"");
  add(
      "no_type",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Self(t).GoodHeader(), Without(Self(t).GoodClaims(), "typ"));
      },
      "no typ claim");
  add(
      "expired",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Self(t).GoodHeader(),
                             With(Self(t).GoodClaims(), "exp", NowSeconds(t) - 3600));
      },
      "token expired at");
  add(
      "expired_exactly_at_the_leeway",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Self(t).GoodHeader(),
                             With(Self(t).GoodClaims(), "exp", NowSeconds(t) - 60));
      },
      "token expired at");
  add(
      "no_exp",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Self(t).GoodHeader(), Without(Self(t).GoodClaims(), "exp"));
      },
      "token has no exp claim");
  add(
      "exp_as_string",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Self(t).GoodHeader(), With(Self(t).GoodClaims(), "exp", "9999999999"));
      },
      "claim exp is not a whole number");
  add(
      "exp_fractional",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(
            Self(t).GoodHeader(),
            With(Self(t).GoodClaims(), "exp", static_cast<double>(NowSeconds(t)) + 900.5));
      },
      "claim exp is not a whole number");
  add(
      "exp_beyond_year_2262",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Self(t).GoodHeader(),
                             With(Self(t).GoodClaims(), "exp", std::int64_t{100'000'000'000}));
      },
      "claim exp is not a whole number");
  add(
      "exp_beyond_64_bits",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Self(t).GoodHeader(), With(Self(t).GoodClaims(), "exp",
                                                        std::uint64_t{18446744073709551615u}));
      },
      "invalid token");  // libjwt's JSON parser cannot read it: refused as unverifiable
  add(
      "future_nbf",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Self(t).GoodHeader(),
                             With(Self(t).GoodClaims(), "nbf", NowSeconds(t) + 3600));
      },
      "token is not valid before");
  add(
      "future_iat",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Self(t).GoodHeader(),
                             With(Self(t).GoodClaims(), "iat", NowSeconds(t) + 3600));
      },
      "issued in the future");
  add(
      "no_iat",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Self(t).GoodHeader(), Without(Self(t).GoodClaims(), "iat"));
      },
      "no iat claim");
  add(
      "no_sub",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Self(t).GoodHeader(), Without(Self(t).GoodClaims(), "sub"));
      },
      "no sub claim");
  add(
      "sub_not_a_string",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Self(t).GoodHeader(), With(Self(t).GoodClaims(), "sub", 42));
      },
      "claim sub is not a non-empty string");
  add(
      "no_jti",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Self(t).GoodHeader(), Without(Self(t).GoodClaims(), "jti"));
      },
      "no jti claim");
  // Serialization forms and size.
  add(
      "longer_than_8_kib",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Self(t).GoodHeader(),
                             With(Self(t).GoodClaims(), "pad", json::string(7000, 'x')));
      },
      "longer than 8192 bytes");
  add(
      "jwe_five_parts",
      [](const JwtCodecTest&) { return std::string("eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"); },
      "encrypted tokens (JWE) are not accepted");
  add(
      "json_serialization",
      [](const JwtCodecTest& t) {
        const std::string compact = Self(t).Forge(Self(t).GoodHeader(), Self(t).GoodClaims());
        const auto first = compact.find('.');
        const auto second = compact.find('.', first + 1);
        return json::serialize(
            json::object{{"payload", compact.substr(first + 1, second - first - 1)},
                         {"protected", compact.substr(0, first)},
                         {"signature", compact.substr(second + 1)}});
      },
      "JSON serialization is not accepted");
  add(
      "two_parts",
      [](const JwtCodecTest& t) {
        const std::string good = Self(t).Forge(Self(t).GoodHeader(), Self(t).GoodClaims());
        return good.substr(0, good.rfind('.'));
      },
      "not a compact JWS");
  add(
      "four_parts",
      [](const JwtCodecTest& t) {
        return Self(t).Forge(Self(t).GoodHeader(), Self(t).GoodClaims()) + ".x";
      },
      "not a compact JWS");
  add(
      "empty", [](const JwtCodecTest&) { return std::string(); }, "empty token");
  add(
      "header_not_base64url", [](const JwtCodecTest&) { return std::string("eyJ+bGci.a.b"); },
      "header is not base64url");
  add(
      "header_not_json",
      [](const JwtCodecTest& t) {
        const std::string good = Self(t).Forge(Self(t).GoodHeader(), Self(t).GoodClaims());
        return Base64UrlEncode(std::string_view("alg=ES256")) + good.substr(good.find('.'));
      },
      "header is not a JSON object");
  add(
      "payload_not_json",
      [](const JwtCodecTest& t) {
        const std::string input = Base64UrlEncode(json::serialize(Self(t).GoodHeader())) + "." +
                                  Base64UrlEncode(std::string_view("[1,2]"));
        return input + "." + Es256Sign(input, Self(t).key());
      },
      "payload is not a JSON object");
  return table;
}

TEST_F(JwtNegativeTableTest, EveryForgeryIsRefusedWithItsReason) {
  // The table's own control: the unforged token passes, so each row fails for its reason.
  ASSERT_TRUE(VerifyAccess(Forge(GoodHeader(), GoodClaims())))
      << VerifyAccess(Forge(GoodHeader(), GoodClaims())).error().ToString();

  for (const Forgery& forgery : Forgeries()) {
    SCOPED_TRACE(forgery.name);
    const std::string token = forgery.make(*this);
    auto verified = VerifyAccess(token);
    ASSERT_FALSE(verified) << "accepted: " << forgery.name;
    EXPECT_EQ(verified.error().code, ErrorCode::kUnauthenticated);
    EXPECT_THAT(verified.error().message, HasSubstr(forgery.reason));
    if (!token.empty() && token.size() > 20) {
      EXPECT_THAT(verified.error().message, ::testing::Not(HasSubstr(token)))
          << "the token never appears in a message";
    }
  }
}

TEST_F(JwtNegativeTableTest, AnIssuedTokenWithOneFlippedCharacterAnywhereNeverVerifies) {
  const std::string token = Issued();
  for (std::size_t i = 0; i < token.size(); ++i) {
    std::string altered = token;
    altered[i] = altered[i] == 'A' ? 'B' : 'A';
    if (altered == token) {
      continue;
    }
    EXPECT_FALSE(VerifyAccess(altered)) << "position " << i;
  }
}

}  // namespace
}  // namespace sg::plugins::auth
