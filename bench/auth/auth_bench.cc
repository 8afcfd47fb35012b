// bench/auth.sh runs this: in one process, operations per second of
//   1. a bare libsecp256k1 recovery loop (recover the public key, Keccak-256 it into an
//      address): the floor any EVM signature check pays;
//   2. StreamGate's SIWE verification (strict EIP-4361 parse, domain/URI/chain/time checks,
//      EIP-191 hash, recovery with low-s, EIP-55 comparison), everything but the single-use
//      nonce write;
//   3. the same including the nonce consumed in SQLite (what POST /auth/verify does);
//   4. playback token checks (HMAC-SHA256, per segment request);
//   5. access token (ES256 JWT) verifications (per API request of a signed-in wallet).
// Prints one line per measurement and the SIWE ratio against the bare loop (goal >= 0.8).

#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/api/clock.h"
#include "plugins/auth/jwt_codec.h"
#include "plugins/auth/jwt_keys.h"
#include "plugins/auth/playback_token.h"
#include "plugins/auth/session_store.h"
#include "plugins/auth/wallet_sign_in.h"
#include "support/eth/eth_crypto.h"
#include "support/eth/eth_test_util.h"
#include "support/eth/siwe_message.h"

namespace {

using namespace sg;
using namespace std::chrono_literals;
namespace et = sg::eth::testing;

// Only HasChain is asked on this path (EOA signatures never reach the chain).
class OneChain final : public ChainReader {
 public:
  bool HasChain(std::string_view chain) const override { return chain == "eip155:1"; }
  std::vector<std::string> ChainIds() const override { return {"eip155:1"}; }
  Result<std::vector<BalanceAnswer>> Balances(const std::vector<BalanceQuery>&) override {
    return MakeError(ErrorCode::kUnavailable, "not used by this benchmark");
  }
  Result<bool> IsValidSignature(std::string_view, std::string_view,
                                const std::array<std::uint8_t, 32>&, std::string_view) override {
    return false;
  }
};

// Runs `op` repeatedly for about `duration`; returns operations per second.
double Rate(const std::function<bool(int)>& op, std::chrono::milliseconds duration = 2s) {
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + duration;
  int count = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 64; ++i, ++count) {
      if (!op(count)) {
        std::fprintf(stderr, "operation %d failed\n", count);
        std::exit(1);
      }
    }
  }
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  return count / elapsed.count();
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path work = argc > 1 ? argv[1] : std::filesystem::temp_directory_path();
  SystemClock clock;
  auto logger =
      std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());

  const auto key =
      et::KeyFromHex("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
  auto sessions = plugins::auth::AuthSessionStore::Open({.path = work / "auth.sqlite3"}, clock);
  if (!sessions) {
    std::fprintf(stderr, "%s\n", sessions.error().ToString().c_str());
    return 1;
  }
  plugins::auth::WalletSignIn sign_in({.domains = {"streamgate.test"}},
                                      std::make_shared<OneChain>(), **sessions, clock);
  auto message_for = [&](const std::string& nonce) {
    eth::SiweMessage message;
    message.domain = "streamgate.test";
    message.address = et::AddressOfKey(key);
    message.statement = "Sign in to StreamGate";
    message.uri = "https://streamgate.test/";
    message.chain_id = 1;
    message.nonce = nonce;
    message.issued_at = clock.WallNow();
    std::string text = message.Format();
    return std::make_pair(text, et::PersonalSign(text, key));
  };
  auto [text, signature] = message_for("benchmarknonce00000001");
  const eth::Hash256 hash = eth::Eip191Hash(text);
  const auto parsed_signature = eth::ParseSignature(signature);

  // 1. The bare loop: parse the compact signature, recover, serialize, Keccak, compare.
  const secp256k1_context* context = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  const std::string expected = et::AddressOfKey(key);
  double bare = Rate([&](int) {
    std::array<std::uint8_t, 64> compact{};
    std::copy(parsed_signature->r.begin(), parsed_signature->r.end(), compact.begin());
    std::copy(parsed_signature->s.begin(), parsed_signature->s.end(), compact.begin() + 32);
    secp256k1_ecdsa_recoverable_signature raw;
    secp256k1_pubkey public_key;
    if (!secp256k1_ecdsa_recoverable_signature_parse_compact(context, &raw, compact.data(),
                                                             parsed_signature->recovery_id) ||
        !secp256k1_ecdsa_recover(context, &public_key, &raw, hash.data())) {
      return false;
    }
    std::array<std::uint8_t, 65> serialized{};
    std::size_t length = serialized.size();
    secp256k1_ec_pubkey_serialize(context, serialized.data(), &length, &public_key,
                                  SECP256K1_EC_UNCOMPRESSED);
    auto digest = eth::Keccak256(std::span<const std::uint8_t>(serialized).subspan(1));
    return digest[31] != 0 || digest[30] != 0 || !expected.empty();
  });

  // 2. SIWE verification without the nonce write.
  double siwe = Rate([&](int) {
    std::string nonce;
    auto identity = sign_in.CheckSignedMessage(text, signature, &nonce);
    return identity.has_value() && identity->address == expected;
  });

  // 3. With the nonce: each message needs its own nonce, signed beforehand (not timed).
  std::vector<std::pair<std::string, std::string>> signed_messages;
  for (int i = 0; i < 3000; ++i) {
    auto nonce = (*sessions)->IssueNonce();
    signed_messages.push_back(message_for(*nonce));
  }
  auto start = std::chrono::steady_clock::now();
  for (const auto& [m, s] : signed_messages) {
    if (!sign_in.Verify(m, s)) {
      std::fprintf(stderr, "verify with nonce failed\n");
      return 1;
    }
  }
  double with_nonce =
      signed_messages.size() /
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // 4. Playback tokens.
  plugins::auth::PlaybackKey::Bytes bytes{};
  bytes.fill(42);
  plugins::auth::PlaybackTokens tokens({plugins::auth::PlaybackKey(bytes), std::nullopt});
  auto token = tokens.Mint("abcdefghij0123456789", "eip155:1:" + expected, clock.WallNow());
  double playback = Rate([&](int) {
    return tokens.Verify(*token, "abcdefghij0123456789", clock.WallNow()).has_value();
  });

  // 5. Access tokens (ES256).
  auto ring = plugins::auth::SigningKeyRing::Open({.directory = work / "keys"}, clock, *logger);
  plugins::auth::JwtCodec codec(*ring, {.issuer = "streamgate", .audience = "streamgate"}, clock);
  auto jwt = codec.Issue({.subject = "eip155:1:" + expected, .type = "access"});
  double access =
      Rate([&](int) { return codec.Verify(jwt->token, codec.Expect("access")).has_value(); });

  std::printf("bare libsecp256k1 recover+keccak   %10.0f /s\n", bare);
  std::printf("SIWE verify (no nonce write)       %10.0f /s   ratio %.2f (goal >= 0.80)\n", siwe,
              siwe / bare);
  std::printf("SIWE verify + nonce (SQLite)       %10.0f /s   ratio %.2f\n", with_nonce,
              with_nonce / bare);
  std::printf("playback token checks              %10.0f /s\n", playback);
  std::printf("access token (ES256 JWT) verifies  %10.0f /s\n", access);
  return 0;
}
