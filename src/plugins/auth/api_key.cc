#include "plugins/auth/api_key.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <optional>

#include "core/api/random.h"
#include "plugins/auth/auth_config.h"
#include "plugins/auth/secret_file.h"

namespace sg::plugins::auth {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kGeneratedKeyBytes = 32;
// A key file is one line; anything much larger is not a key file.
constexpr std::size_t kMaxKeyFileBytes = 4096;
constexpr std::string_view kWhat = "API key file";

std::array<unsigned char, 32> Digest(std::string_view text) {
  std::array<unsigned char, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

std::string_view Trim(std::string_view text) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && space(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && space(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) {
    return false;
  }
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
    if (lower(text[i]) != lower(prefix[i])) {
      return false;
    }
  }
  return true;
}

/// The key in the text of a key file (one line; surrounding white space ignored).
Result<std::string> ParseKeyFile(const fs::path& path, std::string_view text) {
  std::string_view key = Trim(text);
  if (key.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "API key file {} is empty; delete it to have a new key generated",
                     path.string());
  }
  if (key.size() < kMinApiKeyLength) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "API key in {} is shorter than {} characters; delete the file to have a "
                     "new key generated",
                     path.string(), kMinApiKeyLength);
  }
  return std::string(key);
}

}  // namespace

Result<std::string> LoadOrCreateApiKey(const fs::path& path, spdlog::logger& logger) {
  SG_ASSIGN_OR_RETURN(std::optional<std::string> text,
                      ReadSecretFile(path, kWhat, kMaxKeyFileBytes));
  if (text) {
    auto key = ParseKeyFile(path, *text);
    OPENSSL_cleanse(text->data(), text->size());
    if (!key) {
      return MakeError(std::move(key).error());  // SG_RETURN_IF_ERROR would copy the key
    }
    logger.info("admin API key is in {}", path.string());
    return key;
  }
  std::string key = RandomHex(kGeneratedKeyBytes);
  std::string line = key + "\n";
  auto written = WriteSecretFile(path, line, kWhat, Placement::kReplace);
  OPENSSL_cleanse(line.data(), line.size());
  SG_RETURN_IF_ERROR(written);
  logger.info("generated a new admin API key; admin API key is in {}", path.string());
  return key;
}

ApiKeyAuthenticator::ApiKeyAuthenticator(std::string_view api_key) : key_digest_(Digest(api_key)) {}

Result<Principal> ApiKeyAuthenticator::Authenticate(const HttpRequest& request) {
  auto header = request.Header("Authorization");
  if (!header) {
    return Principal{};
  }
  static constexpr std::string_view kScheme = "Bearer";
  std::string_view value = Trim(*header);
  if (!StartsWithIgnoreCase(value, kScheme) ||
      (value.size() > kScheme.size() && value[kScheme.size()] != ' ' &&
       value[kScheme.size()] != '\t')) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "unsupported Authorization scheme; use \"Authorization: Bearer <API key>\"");
  }
  std::string_view token = Trim(value.substr(kScheme.size()));
  if (token.empty()) {
    return MakeError(ErrorCode::kUnauthenticated, "the Bearer credential is empty");
  }
  auto presented = Digest(token);
  if (CRYPTO_memcmp(presented.data(), key_digest_.data(), key_digest_.size()) != 0) {
    return MakeError(ErrorCode::kUnauthenticated, "invalid API key");
  }
  return Principal{.id = "admin", .roles = {"admin", "creator"}};
}

}  // namespace sg::plugins::auth
