#pragma once
/// The JSON-RPC client of one chain: eth_call batches over the chain's URLs in order, each
/// URL behind its own circuit breaker and checked once with eth_chainId before it is
/// trusted, with retry rounds and backoff when every URL failed.

#include <spdlog/logger.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/api/circuit_breaker.h"
#include "core/api/clock.h"
#include "core/api/metrics.h"
#include "core/api/random.h"
#include "core/api/result.h"
#include "plugins/chains/rpc_transport.h"

namespace sg::plugins::chains {

/// chain.h promises kFailedPrecondition for a contract that reverts or has no code, but
/// ErrorCode has no such member (yet); this is the one place that chooses the stand-in.
inline constexpr ErrorCode kContractFailureCode = ErrorCode::kInvalidArgument;

/// One eth_call: `to` and `data` are 0x-hex.
struct EthCall {
  std::string to;
  std::string data;
};

/// The answer to one eth_call: the return data ("0x..."), or the revert the node reported.
struct CallResult {
  std::optional<std::string> data;
  std::string revert;  ///< set when `data` is empty: the node's message (truncated)
};

class ChainClient {
 public:
  struct Options {
    std::string chain;  ///< CAIP-2, "eip155:1"
    std::uint64_t chain_id = 0;
    std::vector<std::string> urls;
    std::string block_tag = "latest";
    PostOptions post;
    int retries = 1;  ///< extra rounds over the URLs after a round where all failed
    Duration retry_backoff = std::chrono::milliseconds(200);
    std::size_t max_batch = 100;
    int breaker_failures = 5;
    Duration breaker_open_for = std::chrono::seconds(30);
  };

  /// `clock`, `random` and `metrics` must outlive the client. URLs must be valid
  /// (ChainsConfig::Validate).
  ChainClient(Options options, std::shared_ptr<RpcTransport> transport, const Clock& clock,
              Random& random, std::shared_ptr<spdlog::logger> logger, MetricsRegistry& metrics);
  ~ChainClient();
  ChainClient(const ChainClient&) = delete;
  ChainClient& operator=(const ChainClient&) = delete;

  /// eth_call of every call at the configured block tag, in JSON-RPC batches of at most
  /// `max_batch`; results in call order. Reverts are per-item results, not errors.
  /// kUnavailable naming the chain and the last failure when no URL answered a batch
  /// (after the retry rounds; at once when every breaker is open). Thread-safe.
  Result<std::vector<CallResult>> Call(const std::vector<EthCall>& calls);

  /// Whether every URL's breaker is open (the chain cannot be asked now).
  bool AllBreakersOpen() const;
  const std::string& chain() const { return options_.chain; }

 private:
  struct Endpoint;

  Result<std::vector<CallResult>> CallBatch(const std::vector<EthCall>& calls, std::size_t begin,
                                            std::size_t end);
  // One round over the URLs; sets `all_open` when no breaker let a call through.
  Result<std::vector<CallResult>> OneRound(const std::vector<EthCall>& calls, std::size_t begin,
                                           std::size_t end, bool& all_open);
  Result<std::vector<CallResult>> Ask(Endpoint& endpoint, const std::vector<EthCall>& calls,
                                      std::size_t begin, std::size_t end);
  Result<> VerifyChainId(Endpoint& endpoint);
  void Count(std::string_view outcome);
  void RememberFailure(const std::string& reason);
  std::string LastFailure() const;

  Options options_;
  std::shared_ptr<RpcTransport> transport_;
  const Clock& clock_;
  Random& random_;
  std::shared_ptr<spdlog::logger> logger_;
  MetricFamily<Counter>& requests_;
  Histogram& latency_;
  Gauge& open_breakers_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  mutable std::mutex last_failure_mutex_;
  std::string last_failure_;
};

}  // namespace sg::plugins::chains
