#include "tests/support/evm_fixture.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

extern char** environ;

namespace sg::testing {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

std::string DefaultScript() {
  if (const char* from_env = std::getenv("SG_EVM_FIXTURE_SCRIPT");
      from_env != nullptr && *from_env != '\0') {
    return from_env;
  }
#ifdef SG_EVM_FIXTURE_SCRIPT
  return SG_EVM_FIXTURE_SCRIPT;
#else
  // This file is tests/support/evm_fixture.cc; the script is tests/chain/evm_fixture.mjs.
  return (std::filesystem::path(__FILE__).parent_path().parent_path() / "chain" / "evm_fixture.mjs")
      .string();
#endif
}

Error FixtureError(std::string message) {
  return Error{ErrorCode::kUnavailable, std::move(message)};
}

std::string StringField(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || !value->is_string()) {
    return "";
  }
  return std::string(value->get_string());
}

}  // namespace

json::value EvmAccount::ToJson() const {
  if (const int* index = std::get_if<int>(&value_)) {
    return json::value(*index);
  }
  return json::value(std::get<std::string>(value_));
}

EvmFixture::EvmFixture() : EvmFixture(Options{}) {}

EvmFixture::EvmFixture(Options options) : options_(std::move(options)) {
  if (options_.script.empty()) {
    options_.script = DefaultScript();
  }
  Start();
}

EvmFixture::~EvmFixture() {
  std::lock_guard lock(mutex_);
  if (pid_ > 0) {
    // quit, and closing stdin, each make the fixture close both chains and exit; SIGKILL
    // only if it does not within a few seconds.
    (void)WriteLine(R"({"cmd":"quit"})");
    if (stdin_fd_ >= 0) {
      close(stdin_fd_);
      stdin_fd_ = -1;
    }
    auto deadline = Clock::now() + std::chrono::seconds(5);
    bool exited = false;
    while (!exited && Clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited = true;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    if (!exited) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  if (stdin_fd_ >= 0) {
    close(stdin_fd_);
  }
  if (stdout_fd_ >= 0) {
    close(stdout_fd_);
  }
  if (!stderr_path_.empty()) {
    std::remove(stderr_path_.c_str());
  }
}

void EvmFixture::Start() {
  namespace fs = std::filesystem;
  fs::path script(options_.script);
  if (!fs::exists(script)) {
    error_ = "evm fixture script not found: " + script.string();
    return;
  }
  fs::path node_modules = script.parent_path().parent_path() / "node_modules";
  if (!fs::exists(node_modules / "ganache") || !fs::exists(node_modules / "solc")) {
    error_ = "ganache/solc missing under " + node_modules.string() +
             ": run `npm ci` in tests/ (scripts/install-deps does)";
    return;
  }

  // Every descriptor is close-on-exec: no other child (the streamgate binary under test)
  // may inherit the write end of the fixture's stdin, or the fixture would outlive us.
  int in_pipe[2];
  int out_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0) {
    error_ = std::string("pipe2: ") + std::strerror(errno);
    return;
  }
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    error_ = std::string("pipe2: ") + std::strerror(errno);
    close(in_pipe[0]);
    close(in_pipe[1]);
    return;
  }
  char stderr_template[] = "/tmp/sg-evm-fixture-err-XXXXXX";
  int err_fd = mkostemp(stderr_template, O_CLOEXEC);
  if (err_fd >= 0) {
    stderr_path_ = stderr_template;
  }

  std::vector<std::string> argv = {options_.node, "--no-warnings", options_.script};
  std::vector<char*> args;
  for (auto& arg : argv) {
    args.push_back(arg.data());
  }
  args.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  if (err_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, err_fd, STDERR_FILENO);
  }
  // The child must not inherit a blocked signal mask from a test thread.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  int rc = posix_spawnp(&pid_, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(in_pipe[0]);
  close(out_pipe[1]);
  if (err_fd >= 0) {
    close(err_fd);
  }
  stdin_fd_ = in_pipe[1];
  stdout_fd_ = out_pipe[0];
  if (rc != 0) {
    pid_ = -1;
    error_ = "cannot start " + options_.node + ": " + std::strerror(rc);
    return;
  }

  auto line = ReadLine(options_.start_timeout);
  if (!line) {
    error_ = "evm fixture did not start: " + line.error().message;
    return;
  }
  try {
    json::value parsed = json::parse(*line);
    auto parsed_ok = ParseDescription(parsed.as_object());
    if (!parsed_ok) {
      error_ = parsed_ok.error().message + StderrTail();
    }
  } catch (const std::exception& e) {
    error_ = std::string("evm fixture start-up line: ") + e.what() + StderrTail();
  }
}

Result<> EvmFixture::ParseDescription(const json::object& line) {
  if (const json::value* error = line.if_contains("error")) {
    return MakeError(FixtureError("evm fixture: " +
                                  std::string(error->is_string() ? error->get_string() : "error")));
  }
  // as_*() throw on a shape mismatch; Start() turns that into error().
  for (const json::value& item : line.at("chains").as_array()) {
    const json::object& object = item.as_object();
    EvmChain chain;
    chain.id = std::string(object.at("id").as_string());
    chain.chain_id = object.at("chain_id").to_number<std::uint64_t>();
    chain.rpc_url = std::string(object.at("rpc_url").as_string());
    auto colon = chain.rpc_url.rfind(':');
    chain.port = std::atoi(chain.rpc_url.c_str() + colon + 1);
    const json::object& contracts = object.at("contracts").as_object();
    chain.contracts.erc721 = std::string(contracts.at("erc721").as_string());
    chain.contracts.erc1155 = std::string(contracts.at("erc1155").as_string());
    chain.contracts.erc20 = std::string(contracts.at("erc20").as_string());
    chain.contracts.wallet1271 = std::string(contracts.at("wallet1271").as_string());
    chains_.push_back(std::move(chain));
  }
  for (const json::value& item : line.at("wallets").as_array()) {
    const json::object& object = item.as_object();
    wallets_.push_back(EvmWallet{
        .index = object.at("index").to_number<int>(),
        .address = std::string(object.at("address").as_string()),
        .private_key = std::string(object.at("private_key").as_string()),
    });
  }
  for (const json::value& item : line.at("holdings").as_array()) {
    const json::object& object = item.as_object();
    EvmHolding holding;
    holding.chain = std::string(object.at("chain").as_string());
    holding.standard = std::string(object.at("standard").as_string());
    holding.contract = std::string(object.at("contract").as_string());
    holding.holder = std::string(object.at("holder").as_string());
    if (const json::value& wallet = object.at("wallet"); !wallet.is_null()) {
      holding.wallet = wallet.to_number<int>();
    }
    holding.token_id = StringField(object, "token_id");
    holding.amount = std::string(object.at("amount").as_string());
    holdings_.push_back(std::move(holding));
  }
  wallet1271_owner_ = line.at("wallet1271_owner").to_number<int>();
  description_ = line;
  return {};
}

const EvmChain& EvmFixture::chain(std::string_view id) const {
  for (const EvmChain& candidate : chains_) {
    if (candidate.id == id) {
      return candidate;
    }
  }
  ::sg::CheckFailed(__FILE__, __LINE__, "known chain id",
                    "EvmFixture::chain: the fixture has eip155:1337 and eip155:31337");
}

const EvmWallet& EvmFixture::wallet(int index) const {
  SG_CHECK(index >= 0 && static_cast<std::size_t>(index) < wallets_.size(),
           "EvmFixture::wallet: index out of range");
  return wallets_[static_cast<std::size_t>(index)];
}

std::string EvmFixture::StderrTail() const {
  std::ifstream in(stderr_path_);
  std::stringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  if (all.empty()) {
    return "";
  }
  constexpr std::size_t kTail = 2000;
  return "\n--- evm fixture stderr ---\n" +
         (all.size() > kTail ? all.substr(all.size() - kTail) : all);
}

Result<std::string> EvmFixture::ReadLine(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    auto newline = pending_.find('\n');
    if (newline != std::string::npos) {
      std::string line = pending_.substr(0, newline);
      pending_.erase(0, newline + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return MakeError(FixtureError("no answer from the evm fixture within " +
                                    std::to_string(timeout.count()) + " ms" + StderrTail()));
    }
    pollfd poll_fd{.fd = stdout_fd_, .events = POLLIN, .revents = 0};
    int ready = poll(&poll_fd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready <= 0) {
      continue;  // the deadline check above reports the timeout
    }
    char buffer[65536];
    ssize_t n = read(stdout_fd_, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return MakeError(FixtureError("the evm fixture exited" + StderrTail()));
    }
    pending_.append(buffer, static_cast<std::size_t>(n));
  }
}

Result<> EvmFixture::WriteLine(const std::string& line) {
  if (stdin_fd_ < 0) {
    return MakeError(FixtureError("the evm fixture is not running"));
  }
  std::string data = line + "\n";
  // A dead child must give an error here, not SIGPIPE the test binary: block SIGPIPE on
  // this thread for the write and swallow the one it raises.
  sigset_t pipe_set;
  sigset_t previous;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &previous);
  std::size_t written = 0;
  int write_errno = 0;
  while (written < data.size()) {
    ssize_t n = write(stdin_fd_, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      write_errno = errno;
      break;
    }
    written += static_cast<std::size_t>(n);
  }
  if (write_errno == EPIPE) {
    timespec zero{};
    sigtimedwait(&pipe_set, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (write_errno != 0) {
    return MakeError(FixtureError(std::string("writing to the evm fixture: ") +
                                  std::strerror(write_errno) + StderrTail()));
  }
  return {};
}

Result<json::object> EvmFixture::Call(json::object command) {
  std::lock_guard lock(mutex_);
  if (!ok()) {
    return MakeError(FixtureError("the evm fixture did not start: " + error_));
  }
  std::string cmd = StringField(command, "cmd");
  SG_RETURN_IF_ERROR(WriteLine(json::serialize(command)));
  SG_ASSIGN_OR_RETURN(std::string line, ReadLine(options_.command_timeout));
  json::object answer;
  try {
    answer = json::parse(line).as_object();
  } catch (const std::exception& e) {
    return MakeError(
        FixtureError("evm fixture answered " + cmd + " with non-JSON (" + e.what() + "): " + line));
  }
  if (const json::value* error = answer.if_contains("error")) {
    return MakeError(ErrorCode::kInternal, "evm fixture {}: {}", cmd,
                     error->is_string() ? std::string(error->get_string()) : "error");
  }
  return answer;
}

Result<std::string> EvmFixture::Sign(int index, std::string_view message) {
  SG_ASSIGN_OR_RETURN(auto answer,
                      Call({{"cmd", "sign"}, {"wallet", index}, {"message", message}}));
  return StringField(answer, "signature");
}

Result<std::string> EvmFixture::SignHash(int index, std::string_view hash_hex) {
  SG_ASSIGN_OR_RETURN(auto answer,
                      Call({{"cmd", "sign_hash"}, {"wallet", index}, {"hash", hash_hex}}));
  return StringField(answer, "signature");
}

namespace {

json::object SiweCommand(std::string_view cmd, const SiweFields& fields) {
  json::object command{{"cmd", cmd},
                       {"domain", fields.domain},
                       {"uri", fields.uri},
                       {"version", fields.version},
                       {"chain_id", fields.chain_id},
                       {"nonce", fields.nonce}};
  if (fields.wallet) {
    command["wallet"] = *fields.wallet;
  } else if (!fields.contract_wallet.empty()) {
    command["contract_wallet"] = fields.contract_wallet;
  } else {
    command["address"] = fields.address;
    command["raw_address"] = fields.raw_address;
  }
  if (fields.statement) {
    command["statement"] = *fields.statement;
  }
  if (!fields.issued_at.empty()) {
    command["issued_at"] = fields.issued_at;
  }
  if (!fields.expiration_time.empty()) {
    command["expiration_time"] = fields.expiration_time;
  }
  if (!fields.not_before.empty()) {
    command["not_before"] = fields.not_before;
  }
  if (fields.request_id) {
    command["request_id"] = *fields.request_id;
  }
  if (!fields.resources.empty()) {
    json::array resources;
    for (const auto& resource : fields.resources) {
      resources.emplace_back(resource);
    }
    command["resources"] = std::move(resources);
  }
  if (!fields.scheme.empty()) {
    command["scheme"] = fields.scheme;
  }
  if (fields.signer) {
    command["signer"] = *fields.signer;
  }
  return command;
}

}  // namespace

Result<std::string> EvmFixture::SiweMessage(const SiweFields& fields) {
  SG_ASSIGN_OR_RETURN(auto answer, Call(SiweCommand("siwe_message", fields)));
  return StringField(answer, "message");
}

Result<SignedSiwe> EvmFixture::SignSiwe(const SiweFields& fields) {
  SG_ASSIGN_OR_RETURN(auto answer, Call(SiweCommand("siwe", fields)));
  return SignedSiwe{
      .message = StringField(answer, "message"),
      .address = StringField(answer, "address"),
      .signature = StringField(answer, "signature"),
  };
}

Result<bool> EvmFixture::IsValidSignature1271(std::string_view chain, std::string_view message,
                                              std::string_view signature) {
  SG_ASSIGN_OR_RETURN(auto answer, Call({{"cmd", "is_valid_signature"},
                                         {"chain", chain},
                                         {"message", message},
                                         {"signature", signature}}));
  const json::value* valid = answer.if_contains("valid");
  return valid != nullptr && valid->is_bool() && valid->get_bool();
}

Result<EvmTx> EvmFixture::CallTx(json::object command) {
  SG_ASSIGN_OR_RETURN(auto answer, Call(std::move(command)));
  EvmTx tx;
  tx.tx_hash = StringField(answer, "tx_hash");
  if (const json::value* block = answer.if_contains("block_number");
      block != nullptr && block->is_number()) {
    tx.block_number = block->to_number<std::uint64_t>();
  }
  return tx;
}

Result<EvmTx> EvmFixture::Mint721(std::string_view chain, const EvmAccount& to,
                                  std::string_view token_id) {
  return CallTx(
      {{"cmd", "mint721"}, {"chain", chain}, {"to", to.ToJson()}, {"token_id", token_id}});
}

Result<EvmTx> EvmFixture::Transfer721(std::string_view chain, int from, const EvmAccount& to,
                                      std::string_view token_id) {
  return CallTx({{"cmd", "transfer721"},
                 {"chain", chain},
                 {"from", from},
                 {"to", to.ToJson()},
                 {"token_id", token_id}});
}

Result<EvmTx> EvmFixture::Mint1155(std::string_view chain, const EvmAccount& to,
                                   std::string_view token_id, std::string_view amount) {
  return CallTx({{"cmd", "mint1155"},
                 {"chain", chain},
                 {"to", to.ToJson()},
                 {"token_id", token_id},
                 {"amount", amount}});
}

Result<EvmTx> EvmFixture::Transfer1155(std::string_view chain, int from, const EvmAccount& to,
                                       std::string_view token_id, std::string_view amount) {
  return CallTx({{"cmd", "transfer1155"},
                 {"chain", chain},
                 {"from", from},
                 {"to", to.ToJson()},
                 {"token_id", token_id},
                 {"amount", amount}});
}

Result<EvmTx> EvmFixture::Mint20(std::string_view chain, const EvmAccount& to,
                                 std::string_view amount) {
  return CallTx({{"cmd", "mint20"}, {"chain", chain}, {"to", to.ToJson()}, {"amount", amount}});
}

Result<EvmTx> EvmFixture::Transfer20(std::string_view chain, int from, const EvmAccount& to,
                                     std::string_view amount) {
  return CallTx({{"cmd", "transfer20"},
                 {"chain", chain},
                 {"from", from},
                 {"to", to.ToJson()},
                 {"amount", amount}});
}

Result<std::string> EvmFixture::Balance(std::string_view chain, std::string_view standard,
                                        const EvmAccount& owner, std::string_view token_id) {
  json::object command{
      {"cmd", "balance"}, {"chain", chain}, {"standard", standard}, {"owner", owner.ToJson()}};
  if (!token_id.empty()) {
    command["token_id"] = token_id;
  }
  SG_ASSIGN_OR_RETURN(auto answer, Call(std::move(command)));
  return StringField(answer, "balance");
}

Result<std::string> EvmFixture::OwnerOf721(std::string_view chain, std::string_view token_id) {
  SG_ASSIGN_OR_RETURN(auto answer,
                      Call({{"cmd", "owner_of"}, {"chain", chain}, {"token_id", token_id}}));
  return StringField(answer, "owner");
}

Result<std::uint64_t> EvmFixture::Mine(std::string_view chain, int blocks) {
  SG_ASSIGN_OR_RETURN(auto answer, Call({{"cmd", "mine"}, {"chain", chain}, {"blocks", blocks}}));
  const json::value* block = answer.if_contains("block_number");
  if (block == nullptr || !block->is_number()) {
    return MakeError(ErrorCode::kInternal, "evm fixture mine: no block_number");
  }
  return block->to_number<std::uint64_t>();
}

Result<> EvmFixture::StopChain(std::string_view chain, std::string_view mode) {
  SG_RETURN_IF_ERROR(Call({{"cmd", "stop_chain"}, {"chain", chain}, {"mode", mode}}));
  return {};
}

Result<> EvmFixture::StartChain(std::string_view chain) {
  SG_RETURN_IF_ERROR(Call({{"cmd", "start_chain"}, {"chain", chain}}));
  return {};
}

}  // namespace sg::testing
