#include "plugins/chains/chains_config.h"

#include <fmt/format.h>
#include <boost/url/parse.hpp>

#include <charconv>
#include <set>

namespace sg::plugins::chains {

void ChainConfig::Visit(ConfigVisitor& v) {
  v.Field("id", id, {.doc = "CAIP-2 chain id, eip155:<decimal> (e.g. eip155:1)"});
  v.Field("rpc_urls", rpc_urls,
          {.doc = "JSON-RPC endpoints (http/https), tried in order on failure", .secret = true});
  v.Field("block_tag", block_tag,
          {.doc = "block eth_call reads at", .choices = {"latest", "safe", "finalized"}});
  v.Field(
      "timeout", timeout,
      {.doc = "limit of one JSON-RPC request, connection included", .min = 100, .max = 120'000});
  v.Field("connect_timeout", connect_timeout,
          {.doc = "limit of the TCP/TLS connection of one request", .min = 100, .max = 60'000});
  v.Field(
      "retries", retries,
      {.doc = "extra rounds over every URL after a round where all failed", .min = 0, .max = 10});
  v.Field("retry_backoff", retry_backoff,
          {.doc = "delay before the first retry round (doubles, with jitter)",
           .min = 0,
           .max = 60'000});
  v.Field("max_batch", max_batch,
          {.doc = "most eth_calls in one JSON-RPC batch request", .min = 1, .max = 1000});
  v.Field("breaker_failures", breaker_failures,
          {.doc = "consecutive failures that open a URL's circuit breaker", .min = 1, .max = 1000});
  v.Field("breaker_open_for", breaker_open_for,
          {.doc = "how long an open breaker skips its URL", .min = 100, .max = 3'600'000});
  v.Field("max_response_bytes", max_response_bytes,
          {.doc = "largest JSON-RPC response accepted", .min = 1024, .max = 256.0 * 1024 * 1024});
}

Result<std::uint64_t> ParseEip155ChainId(std::string_view caip2) {
  constexpr std::string_view kPrefix = "eip155:";
  constexpr std::uint64_t kMaxChainId = 1ULL << 53;
  if (caip2.substr(0, kPrefix.size()) != kPrefix) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "expected a CAIP-2 id such as eip155:1, got \"{}\"", caip2.substr(0, 64));
  }
  std::string_view digits = caip2.substr(kPrefix.size());
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  bool leading_zero = digits.size() > 1 && digits.front() == '0';
  if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() || leading_zero ||
      value == 0 || value > kMaxChainId) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "expected eip155:<decimal chain id from 1 to 2^53>, got \"{}\"",
                     caip2.substr(0, 64));
  }
  return value;
}

Result<std::string> RedactedUrl(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    return MakeError(ErrorCode::kInvalidArgument, "not a URL");
  }
  std::string scheme(parsed->scheme());
  for (char& c : scheme) {
    c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  if (scheme != "http" && scheme != "https") {
    return MakeError(ErrorCode::kInvalidArgument, "scheme must be http or https, got {}",
                     scheme.substr(0, 16));
  }
  if (parsed->encoded_host().empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "the URL has no host");
  }
  std::string shown = fmt::format("{}://{}", scheme, std::string_view(parsed->encoded_host()));
  if (parsed->has_port()) {
    shown += fmt::format(":{}", std::string_view(parsed->port()));
  }
  return shown;
}

Result<> ChainsConfig::Validate() const {
  std::set<std::string, std::less<>> seen;
  for (std::size_t i = 0; i < chains.size(); ++i) {
    const ChainConfig& chain = chains[i];
    if (chain.id.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "[{}].id: required (e.g. eip155:1)", i);
    }
    if (auto parsed = ParseEip155ChainId(chain.id); !parsed) {
      return MakeError(ErrorCode::kInvalidArgument, "[{}].id: {}", i, parsed.error().message);
    }
    if (!seen.insert(chain.id).second) {
      return MakeError(ErrorCode::kInvalidArgument, "[{}].id: chain {} is configured twice", i,
                       chain.id);
    }
    if (chain.rpc_urls.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "[{}].rpc_urls: chain {} needs at least one JSON-RPC URL", i, chain.id);
    }
    for (std::size_t u = 0; u < chain.rpc_urls.size(); ++u) {
      // The message never echoes the URL: it may carry an API key.
      if (auto shown = RedactedUrl(chain.rpc_urls[u]); !shown) {
        return MakeError(ErrorCode::kInvalidArgument, "[{}].rpc_urls[{}]: {}", i, u,
                         shown.error().message);
      }
    }
    if (chain.connect_timeout > chain.timeout) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "[{}].connect_timeout: must not exceed timeout ({} ms > {} ms)", i,
                       chain.connect_timeout.count(), chain.timeout.count());
    }
  }
  return {};
}

}  // namespace sg::plugins::chains
