#pragma once
/// A ChainReader for tests: balances set per (chain, standard, contract, owner, token id),
/// counts calls, and can be told that a chain is down.

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "core/api/services/chain.h"

namespace sg::plugins::auth::testing {

class FakeChainReader final : public ChainReader {
 public:
  explicit FakeChainReader(std::set<std::string> chains = {"eip155:1", "eip155:137"})
      : chains_(std::move(chains)) {}

  /// balanceOf(owner) of a contract without ids (erc721 count, erc20 amount).
  void SetBalance(std::string chain, TokenStandard standard, std::string contract,
                  std::string owner, Uint256 balance) {
    std::lock_guard lock(mutex_);
    balances_[{chain, standard, Lower(contract), Lower(owner), std::nullopt}] = balance;
  }
  /// erc1155 balanceOf(owner, id), or erc721 ownerOf(id) == owner when `balance` is 1.
  void SetIdBalance(std::string chain, TokenStandard standard, std::string contract,
                    std::string owner, Uint256 id, Uint256 balance) {
    std::lock_guard lock(mutex_);
    balances_[{chain, standard, Lower(contract), Lower(owner), id}] = balance;
  }
  /// Every call touching `chain` fails with kUnavailable until set back to false.
  void SetDown(const std::string& chain, bool down) {
    std::lock_guard lock(mutex_);
    if (down) {
      down_.insert(chain);
    } else {
      down_.erase(chain);
    }
  }

  bool HasChain(std::string_view chain) const override {
    return chains_.count(std::string(chain)) > 0;
  }
  std::vector<std::string> ChainIds() const override { return {chains_.begin(), chains_.end()}; }

  Result<std::vector<BalanceAnswer>> Balances(const std::vector<BalanceQuery>& queries) override {
    std::lock_guard lock(mutex_);
    ++calls_;
    last_batch_ = queries;
    for (const BalanceQuery& query : queries) {
      if (!HasChain(query.chain)) {
        return MakeError(ErrorCode::kInvalidArgument, "{} is not a configured chain", query.chain);
      }
      if (down_.count(query.chain) > 0) {
        return MakeError(ErrorCode::kUnavailable, "{}: all RPC URLs failed (connection refused)",
                         query.chain);
      }
    }
    std::vector<BalanceAnswer> answers;
    for (const BalanceQuery& query : queries) {
      ++queries_;
      BalanceAnswer answer;
      if (query.token_ids.empty()) {
        answer.balances.push_back(Lookup(query, std::nullopt));
      } else {
        for (const Uint256& id : query.token_ids) {
          answer.balances.push_back(Lookup(query, id));
        }
      }
      answers.push_back(std::move(answer));
    }
    return answers;
  }

  /// EIP-1271: `wallet` on `chain` vouches for every signature (a contract wallet whose
  /// owner signed); any other address vouches for none.
  void AcceptContractSignatures(std::string chain, std::string wallet) {
    std::lock_guard lock(mutex_);
    contract_wallets_.insert({std::move(chain), Lower(std::move(wallet))});
  }

  Result<bool> IsValidSignature(std::string_view chain, std::string_view wallet,
                                const std::array<std::uint8_t, 32>&, std::string_view) override {
    std::lock_guard lock(mutex_);
    if (down_.count(std::string(chain)) > 0) {
      return MakeError(ErrorCode::kUnavailable, "{}: all RPC URLs failed (connection refused)",
                       chain);
    }
    return contract_wallets_.count({std::string(chain), Lower(std::string(wallet))}) > 0;
  }

  int calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  int queries() const {
    std::lock_guard lock(mutex_);
    return queries_;
  }
  std::vector<BalanceQuery> last_batch() const {
    std::lock_guard lock(mutex_);
    return last_batch_;
  }

 private:
  using Key =
      std::tuple<std::string, TokenStandard, std::string, std::string, std::optional<Uint256>>;

  static std::string Lower(std::string text) {
    for (char& c : text) {
      if (c >= 'A' && c <= 'Z') {
        c = static_cast<char>(c - 'A' + 'a');
      }
    }
    return text;
  }

  Uint256 Lookup(const BalanceQuery& query, const std::optional<Uint256>& id) const {
    auto found = balances_.find(
        {query.chain, query.standard, Lower(query.contract), Lower(query.owner), id});
    return found == balances_.end() ? Uint256{} : found->second;
  }

  std::set<std::string> chains_;
  mutable std::mutex mutex_;
  std::map<Key, Uint256> balances_;
  std::set<std::string> down_;
  std::set<std::pair<std::string, std::string>> contract_wallets_;
  int calls_ = 0;
  int queries_ = 0;
  std::vector<BalanceQuery> last_batch_;
};

}  // namespace sg::plugins::auth::testing
