#pragma once
/// Two real local EVM chains for integration tests: runs `node tests/chain/evm_fixture.mjs`
/// (ganache, solc, OpenZeppelin and ethers from tests/node_modules) as a child, reads the
/// JSON line that describes the chains, contracts, wallets and holdings, and then drives it
/// with one JSON-line command per call (sign, mint, transfer, take an RPC down, ...).
/// tests/chain/README.md documents the protocol and the holdings.
///
///   EvmFixture evm;
///   ASSERT_TRUE(evm.ok()) << evm.error();
///   const EvmChain& chain = evm.chain("eip155:1337");
///   auto signature = evm.Sign(1, message);
///
/// Calls are serialised (one command in flight); every read has a deadline. The child exits
/// when its stdin closes, so even a test killed by SIGKILL leaves no chain running.

#include <sys/types.h>

#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/api/result.h"

namespace sg::testing {

struct EvmWallet {
  int index = 0;
  std::string address;      ///< EIP-55 checksummed
  std::string private_key;  ///< 0x + 64 hex; test keys only
};

struct EvmContracts {
  std::string erc721;
  std::string erc1155;
  std::string erc20;
  std::string wallet1271;  ///< the EIP-1271 contract wallet owned by wallet1271_owner()
};

struct EvmChain {
  std::string id;  ///< CAIP-2, "eip155:1337"
  std::uint64_t chain_id = 0;
  std::string rpc_url;  ///< "http://127.0.0.1:<port>"; stays the same across Stop/Start
  int port = 0;
  EvmContracts contracts;
};

/// One token position minted at start-up.
struct EvmHolding {
  std::string chain;     ///< "eip155:1337"
  std::string standard;  ///< erc721 | erc1155 | erc20
  std::string contract;
  std::string holder;         ///< address
  std::optional<int> wallet;  ///< wallet index; nullopt for the EIP-1271 contract wallet
  std::string token_id;       ///< "" for erc20
  std::string amount;         ///< decimal base units ("1" for erc721)
};

/// Who receives or is asked about tokens: a wallet index, an address, or the EIP-1271
/// contract wallet of the chain in question (EvmAccount::ContractWallet()).
class EvmAccount {
 public:
  EvmAccount(int wallet_index) : value_(wallet_index) {}             // NOLINT: implicit
  EvmAccount(std::string address) : value_(std::move(address)) {}    // NOLINT: implicit
  EvmAccount(const char* address) : value_(std::string(address)) {}  // NOLINT: implicit
  static EvmAccount ContractWallet() { return EvmAccount(std::string("wallet1271")); }
  boost::json::value ToJson() const;

 private:
  std::variant<int, std::string> value_;
};

/// EIP-4361 fields. Exactly one of `address`, `wallet` or `contract_wallet` names the
/// account; `address` is EIP-55 checksummed by the fixture unless raw_address.
struct SiweFields {
  std::string domain;
  std::string address;
  std::optional<int> wallet;
  std::string contract_wallet;  ///< chain ("eip155:1337") whose EIP-1271 wallet signs in
  bool raw_address = false;
  std::optional<std::string> statement;
  std::string uri;
  std::string version = "1";
  std::uint64_t chain_id = 0;
  std::string nonce;
  std::string issued_at;  ///< RFC 3339; "" = now
  std::string expiration_time;
  std::string not_before;
  std::optional<std::string> request_id;
  std::vector<std::string> resources;
  std::string scheme;  ///< "" = no scheme prefix
  /// SignSiwe only: who signs instead of the account's own key (a mismatching signature).
  std::optional<int> signer;
};

struct SignedSiwe {
  std::string message;
  std::string address;    ///< the account in the message
  std::string signature;  ///< 0x + 130 hex (r, s, v with v = 27/28)
};

/// What a transaction command returns.
struct EvmTx {
  std::string tx_hash;
  std::uint64_t block_number = 0;
};

class EvmFixture {
 public:
  struct Options {
    /// Start-up budget: compiling the contracts on a cold cache takes ~10 s.
    std::chrono::milliseconds start_timeout = std::chrono::seconds(60);
    /// Budget for one command.
    std::chrono::milliseconds command_timeout = std::chrono::seconds(30);
    /// "" = $SG_EVM_FIXTURE_SCRIPT, else tests/chain/evm_fixture.mjs of this source tree.
    std::string script;
    std::string node = "node";  ///< looked up in PATH
  };

  /// Starts the fixture and waits for its description; check ok().
  EvmFixture();
  explicit EvmFixture(Options options);
  /// Sends quit, closes stdin, waits a few seconds, then SIGKILL.
  ~EvmFixture();
  EvmFixture(const EvmFixture&) = delete;
  EvmFixture& operator=(const EvmFixture&) = delete;

  bool ok() const { return error_.empty(); }
  /// Why start-up failed, with the tail of the child's stderr.
  const std::string& error() const { return error_; }
  pid_t pid() const { return pid_; }

  const std::vector<EvmChain>& chains() const { return chains_; }
  /// By CAIP-2 id ("eip155:31337"); aborts the test binary on an unknown id (a test bug).
  const EvmChain& chain(std::string_view id) const;
  const std::vector<EvmWallet>& wallets() const { return wallets_; }
  const EvmWallet& wallet(int index) const;
  /// The wallet that owns every chain's EIP-1271 contract wallet.
  int wallet1271_owner() const { return wallet1271_owner_; }
  const std::vector<EvmHolding>& holdings() const { return holdings_; }
  /// The whole start-up line, for anything without a typed accessor.
  const boost::json::object& description() const { return description_; }

  /// Sends one command and returns its answer; a {"error": ...} answer becomes an error.
  Result<boost::json::object> Call(boost::json::object command);

  /// EIP-191 personal_sign of `message` by wallet `index`.
  Result<std::string> Sign(int index, std::string_view message);
  /// Raw secp256k1 signature of a 32-byte digest (0x + 64 hex), no prefix.
  Result<std::string> SignHash(int index, std::string_view hash_hex);
  Result<std::string> SiweMessage(const SiweFields& fields);
  /// The message and its signature: by `fields.wallet`, or for `contract_wallet` by the
  /// contract wallet's owner (what EIP-1271 isValidSignature accepts).
  Result<SignedSiwe> SignSiwe(const SiweFields& fields);
  /// Asks the chain's EIP-1271 wallet directly; true when it answers 0x1626ba7e.
  Result<bool> IsValidSignature1271(std::string_view chain, std::string_view message,
                                    std::string_view signature);

  Result<EvmTx> Mint721(std::string_view chain, const EvmAccount& to, std::string_view token_id);
  Result<EvmTx> Transfer721(std::string_view chain, int from, const EvmAccount& to,
                            std::string_view token_id);
  Result<EvmTx> Mint1155(std::string_view chain, const EvmAccount& to, std::string_view token_id,
                         std::string_view amount);
  Result<EvmTx> Transfer1155(std::string_view chain, int from, const EvmAccount& to,
                             std::string_view token_id, std::string_view amount);
  Result<EvmTx> Mint20(std::string_view chain, const EvmAccount& to, std::string_view amount);
  Result<EvmTx> Transfer20(std::string_view chain, int from, const EvmAccount& to,
                           std::string_view amount);
  /// Decimal balance: erc721 (count), erc1155 (of token_id), erc20 (base units).
  Result<std::string> Balance(std::string_view chain, std::string_view standard,
                              const EvmAccount& owner, std::string_view token_id = "");
  Result<std::string> OwnerOf721(std::string_view chain, std::string_view token_id);
  /// Mines `blocks` empty blocks; returns the new head number.
  Result<std::uint64_t> Mine(std::string_view chain, int blocks = 1);

  /// Takes the chain's rpc_url down; the chain keeps its state and the fixture can still
  /// move tokens. mode: "refuse" (connection refused), "hang" (accepts, never answers),
  /// "http_error" (HTTP 503).
  Result<> StopChain(std::string_view chain, std::string_view mode = "refuse");
  /// Serves rpc_url again on the same port.
  Result<> StartChain(std::string_view chain);

 private:
  void Start();
  Result<> ParseDescription(const boost::json::object& line);
  Result<std::string> ReadLine(std::chrono::milliseconds timeout);
  Result<> WriteLine(const std::string& line);
  std::string StderrTail() const;
  Result<EvmTx> CallTx(boost::json::object command);

  Options options_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::string stderr_path_;
  std::string pending_;  // bytes read past the last full line
  std::mutex mutex_;     // one command in flight
  std::string error_;

  boost::json::object description_;
  std::vector<EvmChain> chains_;
  std::vector<EvmWallet> wallets_;
  std::vector<EvmHolding> holdings_;
  int wallet1271_owner_ = -1;
};

}  // namespace sg::testing
