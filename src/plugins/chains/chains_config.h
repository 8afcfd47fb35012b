#pragma once
/// Configuration of the chains plugin: its whole section is a list of chains.
///
/// ```yaml
/// chains:
///   - id: "eip155:1"
///     rpc_urls: ["https://rpc-a.example/v2/KEY", "https://rpc-b.example"]
///     block_tag: safe
/// ```

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/api/config.h"
#include "core/api/result.h"

namespace sg::plugins::chains {

struct ChainConfig {
  std::string id;
  std::vector<std::string> rpc_urls;
  std::string block_tag = "latest";
  ConfigDuration timeout{std::chrono::seconds(5)};
  ConfigDuration connect_timeout{std::chrono::seconds(2)};
  std::int64_t retries = 1;
  ConfigDuration retry_backoff{std::chrono::milliseconds(200)};
  std::int64_t max_batch = 100;
  std::int64_t breaker_failures = 5;
  ConfigDuration breaker_open_for{std::chrono::seconds(30)};
  ByteSize max_response_bytes{4 * 1024 * 1024};

  void Visit(ConfigVisitor& v);
};

struct ChainsConfig {
  std::vector<ChainConfig> chains;

  void Visit(ConfigVisitor& v) {
    v.List("", "EVM chains asked over JSON-RPC (eth_call) for token ownership", chains);
  }
  /// Ids are CAIP-2 `eip155:<decimal>` and unique; every chain has at least one URL, each
  /// an http(s) URL with a host. Messages name the element ("[1].rpc_urls[0]: ...") and
  /// never print a URL's credentials.
  Result<> Validate() const;
};

/// The decimal chain id of a CAIP-2 `eip155:<decimal>` id (1 .. 2^53, the range every EVM
/// tool agrees on). kInvalidArgument otherwise.
Result<std::uint64_t> ParseEip155ChainId(std::string_view caip2);

/// `scheme://host[:port]` of an http(s) URL: what messages and logs may show of it (no
/// userinfo, path, query or fragment: providers put API keys in any of them).
/// kInvalidArgument when `url` is not an http or https URL with a host.
Result<std::string> RedactedUrl(std::string_view url);

}  // namespace sg::plugins::chains
