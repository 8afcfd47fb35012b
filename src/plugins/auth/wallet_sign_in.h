#pragma once
/// Sign-In with Ethereum (EIP-4361): turns a signed message into a wallet identity, after
/// every check the standard asks for. Kept apart from HTTP so the rules are tested directly.
///
/// Order of checks (cheap and local first, the chain last, the nonce once all else holds so
/// that a refused attempt does not burn it): strict parse (400) → domain → URI → chain id →
/// times → signature (EOA recovery with low-s; otherwise EIP-1271 on the chain) → nonce
/// consumed atomically (a second use is 401).

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/clock.h"
#include "core/api/result.h"
#include "core/api/services/chain.h"

namespace sg::plugins::auth {

class AuthSessionStore;

/// The SIWE domains a site at `public_url` (server.public_url, by default derived from
/// gateway.listen) is reached by: its authority ("host[:port]"), plus the loopback twin
/// (127.0.0.1 <-> localhost) for a loopback host. Empty for a URL without http(s)://.
std::vector<std::string> DomainsFromPublicUrl(std::string_view public_url);

struct SignInRules {
  std::vector<std::string> domains;  ///< host[:port] accepted as the message's domain
  Duration clock_skew = std::chrono::seconds(60);
};

/// Who signed in.
struct WalletIdentity {
  std::string address;  ///< EIP-55
  std::uint64_t chain_id = 0;
  bool contract_wallet = false;  ///< proven by EIP-1271, not by recovery
  /// CAIP-10 account id: "eip155:<chain_id>:<address>", the token subject and principal id.
  std::string Subject() const;
};

class WalletSignIn {
 public:
  /// `chains` may be null (no chain configured: every sign-in is refused, naming why).
  WalletSignIn(SignInRules rules, std::shared_ptr<ChainReader> chains, AuthSessionStore& sessions,
               const Clock& clock);

  /// kInvalidArgument for a malformed message or signature; kUnauthenticated for a valid
  /// message that does not prove the wallet here and now (domain, URI, chain, times,
  /// signature, nonce); kUnavailable when a contract wallet's chain cannot be asked.
  Result<WalletIdentity> Verify(std::string_view message, std::string_view signature);

  /// Every check of Verify but the nonce (which only the caller can then consume): for
  /// benchmarks, and the reason Verify is cheap before its one database write. `nonce`
  /// receives the message's nonce.
  Result<WalletIdentity> CheckSignedMessage(std::string_view message, std::string_view signature,
                                            std::string* nonce);

  const SignInRules& rules() const noexcept { return rules_; }

 private:
  SignInRules rules_;
  std::shared_ptr<ChainReader> chains_;
  AuthSessionStore& sessions_;
  const Clock& clock_;
};

/// The address part of a CAIP-10 principal id ("eip155:1:0xAb..."), or "" when `id` is not
/// a wallet principal (the API key's "admin", anonymous).
std::string_view WalletAddressOf(std::string_view principal_id);

}  // namespace sg::plugins::auth
