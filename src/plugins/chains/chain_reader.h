#pragma once
/// The ChainReader service (core/api/services/chain.h) over one ChainClient per chain:
/// validates queries, turns them into eth_calls (ABI by hand), sends each chain's calls
/// as JSON-RPC batches and decodes the answers.

#include <spdlog/logger.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/api/clock.h"
#include "core/api/metrics.h"
#include "core/api/plugin.h"
#include "core/api/random.h"
#include "core/api/services/chain.h"
#include "plugins/chains/chain_client.h"
#include "plugins/chains/chains_config.h"
#include "plugins/chains/rpc_transport.h"

namespace sg::plugins::chains {

/// Most token ids in one query (one ERC-1155 balanceOfBatch, or that many ownerOf calls).
inline constexpr std::size_t kMaxTokenIdsPerQuery = 1000;
/// Longest EIP-1271 signature accepted (a multisig's concatenated signatures fit).
inline constexpr std::size_t kMaxSignatureBytes = 8 * 1024;

class EvmChainReader final : public ChainReader {
 public:
  /// `config` must be valid (ChainsConfig::Validate); `clock`, `random` and `metrics`
  /// must outlive the reader.
  EvmChainReader(const ChainsConfig& config, std::shared_ptr<RpcTransport> transport,
                 const Clock& clock, Random& random, std::shared_ptr<spdlog::logger> logger,
                 MetricsRegistry& metrics);

  bool HasChain(std::string_view chain) const override;
  std::vector<std::string> ChainIds() const override;
  Result<std::vector<BalanceAnswer>> Balances(const std::vector<BalanceQuery>& queries) override;
  /// `signature` is 0x-prefixed hex (as SIWE carries it), at most kMaxSignatureBytes.
  Result<bool> IsValidSignature(std::string_view chain, std::string_view wallet,
                                const std::array<std::uint8_t, 32>& hash,
                                std::string_view signature) override;

  /// kDegraded naming the chains whose every URL has an open breaker.
  Health CheckHealth() const;

 private:
  Result<ChainClient*> ClientFor(std::string_view chain) const;

  std::map<std::string, std::unique_ptr<ChainClient>, std::less<>> clients_;
};

}  // namespace sg::plugins::chains
