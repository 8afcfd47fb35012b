#include "plugins/chains/chain_client.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <map>

#include "core/api/retry.h"
#include "core/api/services/chain.h"
#include "plugins/chains/chains_config.h"

namespace sg::plugins::chains {
namespace {

namespace json = boost::json;

// Node messages are quoted in errors and logs: enough to recognise them, never a dump.
constexpr std::size_t kMaxQuoted = 200;

std::string Truncate(std::string_view text) {
  if (text.size() <= kMaxQuoted) {
    return std::string(text);
  }
  return fmt::format("{}...", text.substr(0, kMaxQuoted));
}

std::string Lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

// Whether a per-call JSON-RPC error is the contract's doing (a revert: ask no other URL,
// it would say the same) rather than the node's (rate limit, unsupported block tag,
// internal error: try the next URL). Nodes disagree on codes: geth says 3 "execution
// reverted", ganache -32000 "VM Exception while processing transaction: revert ...",
// others "VM execution error".
bool IsRevert(const json::object& error) {
  if (const json::value* code = error.if_contains("code");
      code != nullptr && code->is_int64() && code->as_int64() == 3) {
    return true;
  }
  const json::value* message = error.if_contains("message");
  if (message == nullptr || !message->is_string()) {
    return false;
  }
  std::string text = Lower(std::string_view(message->as_string()));
  for (std::string_view marker :
       {"revert", "vm exception", "vm execution error", "invalid opcode", "execution error"}) {
    if (text.find(marker) != std::string::npos) {
      return true;
    }
  }
  return false;
}

std::string DescribeError(const json::value& error) {
  if (!error.is_object()) {
    return "malformed error";
  }
  const json::object& object = error.as_object();
  std::string code = "?";
  if (const json::value* value = object.if_contains("code");
      value != nullptr && value->is_int64()) {
    code = std::to_string(value->as_int64());
  }
  std::string message;
  if (const json::value* value = object.if_contains("message");
      value != nullptr && value->is_string()) {
    message = Truncate(std::string_view(value->as_string()));
  }
  return fmt::format("error {}: {}", code, message);
}

std::optional<std::int64_t> IdOf(const json::object& response) {
  const json::value* id = response.if_contains("id");
  if (id == nullptr) {
    return std::nullopt;
  }
  if (id->is_int64()) {
    return id->as_int64();
  }
  if (id->is_uint64() && id->as_uint64() < (1ULL << 62)) {
    return static_cast<std::int64_t>(id->as_uint64());
  }
  return std::nullopt;
}

}  // namespace

struct ChainClient::Endpoint {
  std::string url;
  std::string shown;  // "https://host:port (url 2)": never the path, query or credentials
  std::unique_ptr<CircuitBreaker> breaker;
  std::atomic<bool> chain_verified{false};
};

ChainClient::ChainClient(Options options, std::shared_ptr<RpcTransport> transport,
                         const Clock& clock, Random& random, std::shared_ptr<spdlog::logger> logger,
                         MetricsRegistry& metrics)
    : options_(std::move(options)),
      transport_(std::move(transport)),
      clock_(clock),
      random_(random),
      logger_(std::move(logger)),
      requests_(metrics.CounterFamily("streamgate_chain_rpc_requests_total",
                                      "JSON-RPC requests to chain nodes by chain and outcome",
                                      {"chain", "outcome"})),
      latency_(metrics
                   .HistogramFamily("streamgate_chain_rpc_request_duration_seconds",
                                    "duration of JSON-RPC requests to chain nodes", {"chain"},
                                    DefaultLatencyBuckets())
                   .WithLabels({options_.chain})),
      open_breakers_(metrics
                         .GaugeFamily("streamgate_chain_rpc_open_breakers",
                                      "RPC URLs of a chain whose circuit breaker is open",
                                      {"chain"})
                         .WithLabels({options_.chain})) {
  if (options_.max_batch == 0) {
    options_.max_batch = 1;
  }
  for (std::size_t i = 0; i < options_.urls.size(); ++i) {
    auto endpoint = std::make_unique<Endpoint>();
    endpoint->url = options_.urls[i];
    auto shown = RedactedUrl(endpoint->url);
    endpoint->shown =
        fmt::format("{} (url {})", shown ? *shown : std::string("<invalid url>"), i + 1);
    CircuitBreaker::Options breaker;
    breaker.failure_threshold = options_.breaker_failures;
    breaker.open_for = options_.breaker_open_for;
    Gauge* gauge = &open_breakers_;
    breaker.on_transition = [gauge](CircuitBreaker::State from, CircuitBreaker::State to) {
      if (to == CircuitBreaker::State::kOpen) {
        gauge->Inc();
      }
      if (from == CircuitBreaker::State::kOpen) {
        gauge->Dec();
      }
    };
    endpoint->breaker = std::make_unique<CircuitBreaker>(breaker, clock_);
    endpoints_.push_back(std::move(endpoint));
  }
}

ChainClient::~ChainClient() = default;

bool ChainClient::AllBreakersOpen() const {
  return std::all_of(endpoints_.begin(), endpoints_.end(), [](const auto& endpoint) {
    return endpoint->breaker->state() == CircuitBreaker::State::kOpen;
  });
}

void ChainClient::Count(std::string_view outcome) {
  requests_.WithLabels({std::string_view(options_.chain), outcome}).Inc();
}

void ChainClient::RememberFailure(const std::string& reason) {
  std::lock_guard lock(last_failure_mutex_);
  last_failure_ = reason;
}

std::string ChainClient::LastFailure() const {
  std::lock_guard lock(last_failure_mutex_);
  return last_failure_.empty() ? std::string("none recorded") : last_failure_;
}

Result<std::vector<CallResult>> ChainClient::Call(const std::vector<EthCall>& calls) {
  std::vector<CallResult> results;
  results.reserve(calls.size());
  for (std::size_t begin = 0; begin < calls.size(); begin += options_.max_batch) {
    std::size_t end = std::min(calls.size(), begin + options_.max_batch);
    SG_ASSIGN_OR_RETURN(std::vector<CallResult> batch, CallBatch(calls, begin, end));
    for (CallResult& result : batch) {
      results.push_back(std::move(result));
    }
  }
  return results;
}

Result<std::vector<CallResult>> ChainClient::CallBatch(const std::vector<EthCall>& calls,
                                                       std::size_t begin, std::size_t end) {
  BackoffPolicy policy{
      .initial = options_.retry_backoff,
      .max = std::max<Duration>(options_.retry_backoff * 8, std::chrono::milliseconds(1)),
      .max_attempts = 1 + std::max(0, options_.retries)};
  bool all_open = false;
  return Retry(
      policy, clock_, random_, [&](int) { return OneRound(calls, begin, end, all_open); },
      // Rounds where every breaker was open asked nobody: waiting cannot change that now.
      [&all_open](const Error& error) {
        return !all_open && error.code == ErrorCode::kUnavailable;
      });
}

Result<std::vector<CallResult>> ChainClient::OneRound(const std::vector<EthCall>& calls,
                                                      std::size_t begin, std::size_t end,
                                                      bool& all_open) {
  bool asked = false;
  for (auto& endpoint : endpoints_) {
    if (!endpoint->breaker->Allow()) {
      continue;
    }
    asked = true;
    SteadyTime started = clock_.Now();
    Result<std::vector<CallResult>> answer = Ask(*endpoint, calls, begin, end);
    latency_.Observe(std::chrono::duration<double>(clock_.Now() - started).count());
    if (answer) {
      endpoint->breaker->RecordSuccess();
      Count("ok");
      return answer;
    }
    endpoint->breaker->RecordFailure();
    Count("failed");
    RememberFailure(answer.error().message);
    logger_->warn("chain {}: {}; trying the next URL", options_.chain, answer.error().message);
  }
  all_open = !asked;
  if (!asked) {
    Count("circuit_open");
    return MakeError(ErrorCode::kUnavailable,
                     "chain {} cannot be asked: every RPC URL is failing (circuit open); last "
                     "failure: {}",
                     options_.chain, LastFailure());
  }
  return MakeError(ErrorCode::kUnavailable, "chain {}: no RPC URL answered; last failure: {}",
                   options_.chain, LastFailure());
}

Result<> ChainClient::VerifyChainId(Endpoint& endpoint) {
  if (endpoint.chain_verified.load()) {
    return {};
  }
  std::string body = R"({"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]})";
  SG_ASSIGN_OR_RETURN(std::string text,
                      transport_->Post(endpoint.url, endpoint.shown, body, options_.post));
  boost::system::error_code parse_error;
  json::value parsed = json::parse(text, parse_error);
  const json::value* result = nullptr;
  if (!parse_error && parsed.is_object()) {
    result = parsed.as_object().if_contains("result");
  }
  if (result == nullptr || !result->is_string()) {
    return MakeError(ErrorCode::kUnavailable, "{}: eth_chainId gave no chain id ({})",
                     endpoint.shown,
                     !parse_error && parsed.is_object() && parsed.as_object().contains("error")
                         ? DescribeError(parsed.as_object().at("error"))
                         : std::string("not a JSON-RPC answer"));
  }
  auto id = Uint256::FromHex(std::string_view(result->as_string()));
  if (!id) {
    return MakeError(ErrorCode::kUnavailable, "{}: eth_chainId answered a malformed id",
                     endpoint.shown);
  }
  if (*id != Uint256::FromU64(options_.chain_id)) {
    Count("wrong_chain");
    logger_->error(
        "chain {}: {} serves chain id {}, not {}: misconfigured URL, not used until it "
        "answers with the right id",
        options_.chain, endpoint.shown, id->ToDecimal(), options_.chain_id);
    return MakeError(ErrorCode::kUnavailable, "{}: serves chain id {}, expected {}", endpoint.shown,
                     id->ToDecimal(), options_.chain_id);
  }
  endpoint.chain_verified.store(true);
  return {};
}

Result<std::vector<CallResult>> ChainClient::Ask(Endpoint& endpoint,
                                                 const std::vector<EthCall>& calls,
                                                 std::size_t begin, std::size_t end) {
  SG_RETURN_IF_ERROR(VerifyChainId(endpoint));

  json::array batch;
  batch.reserve(end - begin);
  for (std::size_t i = begin; i < end; ++i) {
    json::object call{{"to", calls[i].to}, {"data", calls[i].data}};
    batch.push_back(json::object{{"jsonrpc", "2.0"},
                                 {"id", static_cast<std::int64_t>(i - begin + 1)},
                                 {"method", "eth_call"},
                                 {"params", json::array{call, json::string(options_.block_tag)}}});
  }
  SG_ASSIGN_OR_RETURN(std::string text, transport_->Post(endpoint.url, endpoint.shown,
                                                         json::serialize(batch), options_.post));

  boost::system::error_code parse_error;
  json::value parsed = json::parse(text, parse_error);
  if (parse_error) {
    return MakeError(ErrorCode::kUnavailable, "{}: answer is not JSON", endpoint.shown);
  }
  if (parsed.is_object()) {
    // A single object answering a batch: the node refused the whole batch.
    const json::value* error = parsed.as_object().if_contains("error");
    return MakeError(ErrorCode::kUnavailable, "{}: batch refused ({})", endpoint.shown,
                     error != nullptr ? DescribeError(*error) : std::string("not an array"));
  }
  if (!parsed.is_array()) {
    return MakeError(ErrorCode::kUnavailable, "{}: answer is not a JSON-RPC batch", endpoint.shown);
  }
  std::size_t count = end - begin;
  std::vector<std::optional<CallResult>> slots(count);
  for (const json::value& item : parsed.as_array()) {
    if (!item.is_object()) {
      return MakeError(ErrorCode::kUnavailable, "{}: malformed batch item", endpoint.shown);
    }
    const json::object& response = item.as_object();
    std::optional<std::int64_t> id = IdOf(response);
    if (!id || *id < 1 || static_cast<std::size_t>(*id) > count ||
        slots[static_cast<std::size_t>(*id - 1)]) {
      return MakeError(ErrorCode::kUnavailable, "{}: batch answer with an unknown or repeated id",
                       endpoint.shown);
    }
    CallResult result;
    if (const json::value* data = response.if_contains("result");
        data != nullptr && data->is_string()) {
      result.data = std::string(data->as_string());
    } else if (const json::value* error = response.if_contains("error");
               error != nullptr && error->is_object() && IsRevert(error->as_object())) {
      result.revert = DescribeError(*error);
    } else if (error != nullptr) {
      // The node could not run the call (rate limit, unknown block tag): another may.
      return MakeError(ErrorCode::kUnavailable, "{}: eth_call failed ({})", endpoint.shown,
                       DescribeError(*error));
    } else {
      return MakeError(ErrorCode::kUnavailable, "{}: batch item without result or error",
                       endpoint.shown);
    }
    slots[static_cast<std::size_t>(*id - 1)] = std::move(result);
  }
  std::vector<CallResult> results;
  results.reserve(count);
  for (auto& slot : slots) {
    if (!slot) {
      return MakeError(ErrorCode::kUnavailable, "{}: batch answer is missing items",
                       endpoint.shown);
    }
    results.push_back(std::move(*slot));
  }
  return results;
}

}  // namespace sg::plugins::chains
