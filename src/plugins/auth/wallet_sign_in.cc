#include "plugins/auth/wallet_sign_in.h"

#include <boost/url/parse.hpp>

#include <algorithm>

#include "plugins/auth/session_store.h"
#include "support/eth/eth_crypto.h"
#include "support/eth/rfc3339.h"
#include "support/eth/siwe_message.h"

namespace sg::plugins::auth {
namespace {

bool SameText(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string WalletIdentity::Subject() const {
  return fmt::format("eip155:{}:{}", chain_id, address);
}

std::string_view WalletAddressOf(std::string_view principal_id) {
  if (!principal_id.starts_with("eip155:")) {
    return {};
  }
  auto colon = principal_id.rfind(':');
  std::string_view address = principal_id.substr(colon + 1);
  if (address.size() != 42 || !address.starts_with("0x")) {
    return {};
  }
  return address;
}

std::vector<std::string> DomainsFromPublicUrl(std::string_view public_url) {
  std::string_view rest = public_url;
  if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else {
    return {};
  }
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return {};
  }
  std::vector<std::string> domains{std::string(authority)};
  const std::size_t colon = authority.rfind(':');
  const bool has_port = colon != std::string_view::npos && authority.back() != ']';
  std::string_view host = has_port ? authority.substr(0, colon) : authority;
  std::string_view port = has_port ? authority.substr(colon) : std::string_view();
  if (host == "127.0.0.1") {
    domains.push_back(fmt::format("localhost{}", port));
  } else if (host == "localhost") {
    domains.push_back(fmt::format("127.0.0.1{}", port));
  }
  return domains;
}

WalletSignIn::WalletSignIn(SignInRules rules, std::shared_ptr<ChainReader> chains,
                           AuthSessionStore& sessions, const Clock& clock)
    : rules_(std::move(rules)), chains_(std::move(chains)), sessions_(sessions), clock_(clock) {}

Result<WalletIdentity> WalletSignIn::Verify(std::string_view message, std::string_view signature) {
  std::string nonce;
  SG_ASSIGN_OR_RETURN(WalletIdentity identity, CheckSignedMessage(message, signature, &nonce));
  SG_ASSIGN_OR_RETURN(bool fresh, sessions_.ConsumeNonce(nonce));
  if (!fresh) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "sign-in nonce is unknown, expired or already used: ask for a new one");
  }
  return identity;
}

Result<WalletIdentity> WalletSignIn::CheckSignedMessage(std::string_view message,
                                                        std::string_view signature,
                                                        std::string* nonce) {
  SG_ASSIGN_OR_RETURN(eth::SiweMessage siwe, eth::SiweMessage::Parse(message));

  // The site the wallet signed for must be this one: a message signed on another site
  // (phishing) is worthless here.
  const bool known_domain = std::any_of(rules_.domains.begin(), rules_.domains.end(),
                                        [&](const auto& d) { return SameText(d, siwe.domain); });
  if (!known_domain) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "sign-in message is for domain {}, not one this server accepts", siwe.domain);
  }
  auto uri = boost::urls::parse_uri(siwe.uri);
  if (!uri || (uri->scheme() != "https" && uri->scheme() != "http") ||
      !SameText(uri->encoded_host_and_port(), siwe.domain)) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "sign-in message URI must be an http(s) URI on its domain {}", siwe.domain);
  }
  const std::string chain = fmt::format("eip155:{}", siwe.chain_id);
  if (!chains_ || !chains_->HasChain(chain)) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "sign-in message is for chain {}, which this server does not use", chain);
  }

  const WallTime now = clock_.WallNow();
  if (siwe.issued_at > now + rules_.clock_skew) {
    return MakeError(ErrorCode::kUnauthenticated, "sign-in message is issued in the future");
  }
  if (siwe.expiration_time && *siwe.expiration_time <= now - rules_.clock_skew) {
    return MakeError(ErrorCode::kUnauthenticated, "sign-in message expired at {}",
                     eth::FormatRfc3339Exact(*siwe.expiration_time));
  }
  if (siwe.not_before && *siwe.not_before > now + rules_.clock_skew) {
    return MakeError(ErrorCode::kUnauthenticated, "sign-in message is not valid before {}",
                     eth::FormatRfc3339Exact(*siwe.not_before));
  }

  // The hash of the text exactly as signed (never a re-formatted copy).
  const eth::Hash256 hash = eth::Eip191Hash(message);
  WalletIdentity identity{.address = siwe.address, .chain_id = siwe.chain_id};
  // Bytes against bytes: the message's address was checked for EIP-55 when parsed.
  auto claimed = eth::ParseAddress(siwe.address);
  auto parsed_signature = eth::ParseSignature(signature);
  auto recovered = parsed_signature
                       ? eth::RecoverAddressBytes(hash, *parsed_signature)
                       : Result<eth::AddressBytes>(tl::unexpect, parsed_signature.error());
  if (!claimed || !recovered || *recovered != *claimed) {
    // Not an EOA signature of this address: a contract wallet (EIP-1271) may still vouch for
    // it. A signature that is not even hex cannot be one.
    if (!eth::FromHex(signature)) {
      return MakeError(ErrorCode::kInvalidArgument, "signature must be 0x-prefixed hex");
    }
    SG_ASSIGN_OR_RETURN(bool valid,
                        chains_->IsValidSignature(chain, siwe.address, hash, signature));
    if (!valid) {
      return MakeError(ErrorCode::kUnauthenticated,
                       "signature does not prove address {} (neither recovered nor accepted by "
                       "a contract wallet)",
                       siwe.address);
    }
    identity.contract_wallet = true;
  }
  *nonce = std::move(siwe.nonce);
  return identity;
}

}  // namespace sg::plugins::auth
