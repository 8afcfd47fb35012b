#include "plugins/chains/chain_reader.h"

#include <fmt/format.h>

#include <algorithm>

#include "plugins/chains/abi.h"
#include "support/eth/eth_crypto.h"

namespace sg::plugins::chains {
namespace {

// How the answer of one eth_call becomes (part of) a query's answer.
enum class CallKind {
  kBalance,       // balanceOf(owner) -> balances[0]
  kOwnerOf,       // ownerOf(id) == owner -> balances[index] = 1 or 0
  kBalanceBatch,  // balanceOfBatch(owners, ids) -> balances
};

struct PlannedCall {
  std::size_t query = 0;
  CallKind kind = CallKind::kBalance;
  std::size_t index = 0;  // kOwnerOf: which token id
  Address owner{};
};

struct ChainWork {
  ChainClient* client = nullptr;
  std::vector<EthCall> calls;
  std::vector<PlannedCall> plan;
};

Error ContractError(const BalanceQuery& query, std::string_view function, std::string_view why) {
  return Error{kContractFailureCode, fmt::format("contract {} on chain {}: {} failed: {}",
                                                 query.contract, query.chain, function, why)};
}

}  // namespace

EvmChainReader::EvmChainReader(const ChainsConfig& config, std::shared_ptr<RpcTransport> transport,
                               const Clock& clock, Random& random,
                               std::shared_ptr<spdlog::logger> logger, MetricsRegistry& metrics) {
  for (const ChainConfig& chain : config.chains) {
    ChainClient::Options options;
    options.chain = chain.id;
    auto chain_id = ParseEip155ChainId(chain.id);
    options.chain_id = chain_id ? *chain_id : 0;
    options.urls = chain.rpc_urls;
    options.block_tag = chain.block_tag;
    options.post.timeout = chain.timeout;
    options.post.connect_timeout = chain.connect_timeout;
    options.post.max_response_bytes = static_cast<std::size_t>(chain.max_response_bytes.bytes);
    options.retries = static_cast<int>(chain.retries);
    options.retry_backoff = chain.retry_backoff;
    options.max_batch = static_cast<std::size_t>(chain.max_batch);
    options.breaker_failures = static_cast<int>(chain.breaker_failures);
    options.breaker_open_for = chain.breaker_open_for;
    clients_.emplace(chain.id, std::make_unique<ChainClient>(std::move(options), transport, clock,
                                                             random, logger, metrics));
  }
}

bool EvmChainReader::HasChain(std::string_view chain) const {
  return clients_.find(chain) != clients_.end();
}

std::vector<std::string> EvmChainReader::ChainIds() const {
  std::vector<std::string> ids;
  for (const auto& entry : clients_) {
    ids.emplace_back(entry.first);  // the map keeps them sorted
  }
  return ids;
}

Result<ChainClient*> EvmChainReader::ClientFor(std::string_view chain) const {
  auto it = clients_.find(chain);
  if (it == clients_.end()) {
    std::vector<std::string_view> known;
    for (const auto& entry : clients_) {
      known.push_back(entry.first);
    }
    return MakeError(
        ErrorCode::kInvalidArgument, "chain \"{}\" is not configured (configured: {})",
        chain.substr(0, 64),
        known.empty() ? std::string("none") : fmt::format("{}", fmt::join(known, ", ")));
  }
  return it->second.get();
}

Result<std::vector<BalanceAnswer>> EvmChainReader::Balances(
    const std::vector<BalanceQuery>& queries) {
  // Everything is checked before the first call: a malformed query costs no RPC.
  std::vector<ChainWork> work;  // in order of first appearance
  std::vector<BalanceAnswer> answers(queries.size());
  for (std::size_t q = 0; q < queries.size(); ++q) {
    const BalanceQuery& query = queries[q];
    SG_ASSIGN_OR_RETURN(ChainClient * client, ClientFor(query.chain));
    SG_ASSIGN_OR_RETURN(Address contract, ParseAddress(query.contract, "contract"));
    SG_ASSIGN_OR_RETURN(Address owner, ParseAddress(query.owner, "owner"));
    if (query.token_ids.size() > kMaxTokenIdsPerQuery) {
      return MakeError(ErrorCode::kInvalidArgument, "query {}: at most {} token ids, got {}", q,
                       kMaxTokenIdsPerQuery, query.token_ids.size());
    }
    auto found = std::find_if(work.begin(), work.end(),
                              [client](const ChainWork& w) { return w.client == client; });
    if (found == work.end()) {
      work.push_back(ChainWork{client, {}, {}});
      found = std::prev(work.end());
    }
    ChainWork& chain = *found;
    std::string to = FormatAddress(contract);
    switch (query.standard) {
      case TokenStandard::kErc20:
        if (!query.token_ids.empty()) {
          return MakeError(ErrorCode::kInvalidArgument, "query {}: erc20 takes no token ids", q);
        }
        [[fallthrough]];
      case TokenStandard::kErc721:
        if (query.token_ids.empty()) {
          chain.calls.push_back(EthCall{to, EncodeBalanceOf(owner)});
          chain.plan.push_back(PlannedCall{q, CallKind::kBalance, 0, owner});
          answers[q].balances.assign(1, Uint256{});
          break;
        }
        answers[q].balances.assign(query.token_ids.size(), Uint256{});
        for (std::size_t i = 0; i < query.token_ids.size(); ++i) {
          chain.calls.push_back(EthCall{to, EncodeOwnerOf(query.token_ids[i])});
          chain.plan.push_back(PlannedCall{q, CallKind::kOwnerOf, i, owner});
        }
        break;
      case TokenStandard::kErc1155: {
        if (query.token_ids.empty()) {
          return MakeError(ErrorCode::kInvalidArgument, "query {}: erc1155 needs token ids", q);
        }
        std::vector<Address> owners(query.token_ids.size(), owner);
        chain.calls.push_back(EthCall{to, EncodeBalanceOfBatch(owners, query.token_ids)});
        chain.plan.push_back(PlannedCall{q, CallKind::kBalanceBatch, 0, owner});
        answers[q].balances.assign(query.token_ids.size(), Uint256{});
        break;
      }
    }
  }

  for (ChainWork& chain : work) {
    SG_ASSIGN_OR_RETURN(std::vector<CallResult> results, chain.client->Call(chain.calls));
    for (std::size_t c = 0; c < chain.plan.size(); ++c) {
      const PlannedCall& planned = chain.plan[c];
      const CallResult& result = results[c];
      const BalanceQuery& query = queries[planned.query];
      std::vector<Uint256>& balances = answers[planned.query].balances;
      switch (planned.kind) {
        case CallKind::kBalance: {
          if (!result.data) {
            return MakeError(ContractError(query, "balanceOf", result.revert));
          }
          auto value = DecodeUint256(*result.data);
          if (!value) {
            return MakeError(ContractError(query, "balanceOf", value.error().message));
          }
          balances[0] = *value;
          break;
        }
        case CallKind::kOwnerOf: {
          // A revert is how ERC-721 says the token does not exist: nobody owns it.
          if (!result.data) {
            balances[planned.index] = Uint256::FromU64(0);
            break;
          }
          auto holder = DecodeAddress(*result.data);
          if (!holder) {
            return MakeError(ContractError(query, "ownerOf", holder.error().message));
          }
          balances[planned.index] = Uint256::FromU64(*holder == planned.owner ? 1 : 0);
          break;
        }
        case CallKind::kBalanceBatch: {
          if (!result.data) {
            return MakeError(ContractError(query, "balanceOfBatch", result.revert));
          }
          auto values = DecodeUint256Array(*result.data);
          if (!values) {
            return MakeError(ContractError(query, "balanceOfBatch", values.error().message));
          }
          if (values->size() != balances.size()) {
            return MakeError(ContractError(
                query, "balanceOfBatch",
                fmt::format("{} balances for {} ids", values->size(), balances.size())));
          }
          balances = std::move(*values);
          break;
        }
      }
    }
  }
  return answers;
}

Result<bool> EvmChainReader::IsValidSignature(std::string_view chain, std::string_view wallet,
                                              const std::array<std::uint8_t, 32>& hash,
                                              std::string_view signature) {
  SG_ASSIGN_OR_RETURN(ChainClient * client, ClientFor(chain));
  SG_ASSIGN_OR_RETURN(Address address, ParseAddress(wallet, "wallet"));
  if (signature.size() > 2 + 2 * kMaxSignatureBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "signature longer than {} bytes",
                     kMaxSignatureBytes);
  }
  auto bytes = eth::FromHex(signature);
  if (!bytes) {
    return MakeError(ErrorCode::kInvalidArgument, "signature: {}", bytes.error().message);
  }
  std::vector<EthCall> calls = {
      EthCall{FormatAddress(address), EncodeIsValidSignature(hash, *bytes)}};
  SG_ASSIGN_OR_RETURN(std::vector<CallResult> results, client->Call(calls));
  const CallResult& result = results.front();
  // A revert, an address without code ("0x") or any other answer: not valid.
  if (!result.data) {
    return false;
  }
  auto valid = DecodeIsValidSignature(*result.data);
  return valid && *valid;
}

Health EvmChainReader::CheckHealth() const {
  std::vector<std::string_view> down;
  for (const auto& [chain, client] : clients_) {
    if (client->AllBreakersOpen()) {
      down.push_back(chain);
    }
  }
  if (!down.empty()) {
    return {HealthStatus::kDegraded,
            fmt::format("every RPC URL is failing for {}", fmt::join(down, ", "))};
  }
  if (clients_.empty()) {
    return {HealthStatus::kOk, "no chains configured"};
  }
  return {HealthStatus::kOk, ""};
}

}  // namespace sg::plugins::chains
