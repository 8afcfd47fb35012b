#include "plugins/auth/jwt_keys.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cerrno>
#include <charconv>
#include <memory>
#include <optional>
#include <system_error>

#include "plugins/auth/base64url.h"
#include "plugins/auth/secret_file.h"

namespace sg::plugins::auth {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPrefix = "es256-";
constexpr std::string_view kSuffix = ".pem";
// A PEM P-256 key is about 250 bytes; anything much larger is not one of ours.
constexpr std::size_t kMaxKeyFileBytes = 16 * 1024;
constexpr std::size_t kCoordinateBytes = 32;
constexpr std::string_view kWhat = "signing key file";
// Appended to the chmod advice: a key others could read may be in their hands already.
constexpr std::string_view kIfExposed =
    " (if others may have read it, delete the key instead: its tokens stop verifying and a "
    "new key is made)";

std::int64_t ToUnixMs(WallTime time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

WallTime FromUnixMs(std::int64_t ms) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::milliseconds(ms)));
}

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct BnFree {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

// OpenSSL keeps errors in a per-thread queue; a failure here must not leak into the next,
// unrelated OpenSSL call of this thread (libjwt checks ERR_get_error in places).
void ClearOpenSslErrors() { ERR_clear_error(); }

// Refuses encrypted PEM instead of prompting on the terminal for a pass phrase.
int NoPassphrase(char*, int, int, void*) { return 0; }

Result<std::string> BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  if (size <= 0 || data == nullptr) {
    return MakeError(ErrorCode::kInternal, "cannot serialize an EC key to PEM");
  }
  return std::string(data, static_cast<std::size_t>(size));
}

Result<std::string> PublicPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) {
    ClearOpenSslErrors();
    return MakeError(ErrorCode::kInternal, "cannot serialize an EC public key to PEM");
  }
  return BioText(bio.get());
}

Result<std::string> PrivatePem(EVP_PKEY* key) {
  // The secure heap's BIO wipes its buffer when freed.
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    ClearOpenSslErrors();
    return MakeError(ErrorCode::kInternal, "cannot serialize an EC private key to PEM");
  }
  return BioText(bio.get());
}

Result<std::string> Coordinate(EVP_PKEY* key, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1 || raw == nullptr) {
    ClearOpenSslErrors();
    return MakeError(ErrorCode::kInvalidArgument, "EC key has no public {}", name);
  }
  BnPtr value(raw);
  std::array<unsigned char, kCoordinateBytes> bytes{};
  if (BN_bn2binpad(value.get(), bytes.data(), static_cast<int>(bytes.size())) !=
      static_cast<int>(bytes.size())) {
    return MakeError(ErrorCode::kInvalidArgument, "EC key coordinate {} is not 32 bytes", name);
  }
  return Base64UrlEncode(bytes);
}

Result<> CheckP256PrivateKey(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC") != 1) {
    return MakeError(ErrorCode::kInvalidArgument, "not an EC key (ES256 needs P-256)");
  }
  std::array<char, 64> group{};
  std::size_t length = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group.data(), group.size(),
                                     &length) != 1) {
    ClearOpenSslErrors();
    return MakeError(ErrorCode::kInvalidArgument, "EC key without a named curve");
  }
  const std::string_view name(group.data(), length);
  if (name != "prime256v1" && name != "P-256" && name != "secp256r1") {
    return MakeError(ErrorCode::kInvalidArgument, "EC key on curve {}, not P-256", name);
  }
  // Pairwise check: the public point matches the private scalar and lies on the curve.
  PkeyCtxPtr context(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!context || EVP_PKEY_pairwise_check(context.get()) != 1) {
    ClearOpenSslErrors();
    return MakeError(ErrorCode::kInvalidArgument, "EC key fails its consistency check");
  }
  return {};
}

/// What a SigningKey keeps of an EVP_PKEY.
struct KeyParts {
  std::string x;
  std::string y;
  std::string public_pem;
  std::string private_pem;
};

Result<KeyParts> Describe(EVP_PKEY* key) {
  KeyParts parts;
  SG_ASSIGN_OR_RETURN(parts.x, Coordinate(key, OSSL_PKEY_PARAM_EC_PUB_X));
  SG_ASSIGN_OR_RETURN(parts.y, Coordinate(key, OSSL_PKEY_PARAM_EC_PUB_Y));
  SG_ASSIGN_OR_RETURN(parts.public_pem, PublicPem(key));
  SG_ASSIGN_OR_RETURN(parts.private_pem, PrivatePem(key));
  return parts;
}

/// "es256-<ms>.pem" -> ms.
std::optional<std::int64_t> ParseKeyFileName(std::string_view name) {
  if (name.size() <= kPrefix.size() + kSuffix.size() || !name.starts_with(kPrefix) ||
      !name.ends_with(kSuffix)) {
    return std::nullopt;
  }
  const std::string_view digits =
      name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
  if (digits.size() > 18) {
    return std::nullopt;
  }
  std::int64_t ms = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), ms);
  if (error != std::errc() || end != digits.data() + digits.size() || ms < 0) {
    return std::nullopt;
  }
  return ms;
}

bool IsStaleTempFile(std::string_view name) {
  return name.starts_with(kPrefix) && name.find(kSecretTempMarker) != std::string_view::npos;
}

}  // namespace

// ---- SigningKey ------------------------------------------------------------------------

SigningKey::SigningKey(std::string kid, WallTime created_at, std::string x, std::string y,
                       std::string public_pem, std::string private_pem)
    : kid_(std::move(kid)),
      created_at_(created_at),
      x_(std::move(x)),
      y_(std::move(y)),
      public_pem_(std::move(public_pem)),
      private_pem_(std::move(private_pem)) {}

SigningKey::~SigningKey() { OPENSSL_cleanse(private_pem_.data(), private_pem_.size()); }

Result<std::shared_ptr<const SigningKey>> SigningKey::Generate(WallTime created_at) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) {
    ClearOpenSslErrors();
    return MakeError(ErrorCode::kInternal, "OpenSSL cannot generate a P-256 key");
  }
  SG_ASSIGN_OR_RETURN(KeyParts parts, Describe(key.get()));
  std::string kid = EcJwkThumbprint(parts.x, parts.y);
  return std::shared_ptr<const SigningKey>(
      new SigningKey(std::move(kid), created_at, std::move(parts.x), std::move(parts.y),
                     std::move(parts.public_pem), std::move(parts.private_pem)));
}

Result<std::shared_ptr<const SigningKey>> SigningKey::FromPrivatePem(std::string_view pem,
                                                                     WallTime created_at) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) {
    return MakeError(ErrorCode::kInternal, "cannot allocate a BIO");
  }
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, &NoPassphrase, nullptr));
  if (!key) {
    ClearOpenSslErrors();
    return MakeError(ErrorCode::kInvalidArgument,
                     "not an unencrypted PEM private key (PKCS#8 or SEC1)");
  }
  SG_RETURN_IF_ERROR(CheckP256PrivateKey(key.get()));
  SG_ASSIGN_OR_RETURN(KeyParts parts, Describe(key.get()));
  std::string kid = EcJwkThumbprint(parts.x, parts.y);
  return std::shared_ptr<const SigningKey>(
      new SigningKey(std::move(kid), created_at, std::move(parts.x), std::move(parts.y),
                     std::move(parts.public_pem), std::move(parts.private_pem)));
}

namespace {

boost::json::object JwkObject(const SigningKey& key) {
  boost::json::object jwk;
  jwk["kty"] = "EC";
  jwk["crv"] = "P-256";
  jwk["x"] = key.x();
  jwk["y"] = key.y();
  jwk["kid"] = key.kid();
  jwk["use"] = "sig";
  jwk["alg"] = "ES256";
  return jwk;
}

}  // namespace

std::string SigningKey::PublicJwk() const { return boost::json::serialize(JwkObject(*this)); }

std::string EcJwkThumbprint(std::string_view x, std::string_view y) {
  // RFC 7638 §3.2: the required members only, in lexicographic order, no whitespace. The
  // coordinates are base64url, so they need no JSON escaping.
  const std::string canonical =
      fmt::format(R"({{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}})", x, y);
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(canonical.data()), canonical.size(), digest.data());
  return Base64UrlEncode(digest);
}

// ---- SigningKeyRing --------------------------------------------------------------------

SigningKeyRing::SigningKeyRing(SigningKeyRingOptions options, const Clock& clock,
                               spdlog::logger& logger)
    : options_(std::move(options)), clock_(clock), logger_(logger) {}

Result<std::shared_ptr<SigningKeyRing>> SigningKeyRing::Open(SigningKeyRingOptions options,
                                                             const Clock& clock,
                                                             spdlog::logger& logger) {
  if (options.directory.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "signing key folder is not set");
  }
  if (options.rotation_period <= Duration::zero() ||
      options.max_token_lifetime <= Duration::zero() || options.retire_grace < Duration::zero()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "signing key rotation period and token lifetime must be positive");
  }
  std::shared_ptr<SigningKeyRing> ring(new SigningKeyRing(std::move(options), clock, logger));
  std::lock_guard lock(ring->maintain_mutex_);
  SG_RETURN_IF_ERROR(ring->PrepareDirectory());
  SG_RETURN_IF_ERROR(ring->Load());
  if (auto maintained = ring->MaintainLocked(); !maintained) {
    std::shared_lock keys_lock(ring->keys_mutex_);
    if (ring->keys_.empty()) {
      return MakeError(maintained.error());
    }
    // An overdue key still signs safely, and a retired one is refused by Find() anyway.
    ring->logger_.warn("{}", maintained.error().message);
  }
  return ring;
}

Result<> SigningKeyRing::PrepareDirectory() {
  const fs::path& directory = options_.directory;
  struct stat info {};
  if (::stat(directory.c_str(), &info) != 0) {
    if (errno != ENOENT) {
      return MakeError(ErrorCode::kUnavailable, "cannot stat signing key folder {}: {}",
                       directory.string(), ErrnoText(errno));
    }
    std::error_code error;
    fs::create_directories(directory, error);
    if (error) {
      return MakeError(ErrorCode::kUnavailable, "cannot create signing key folder {}: {}",
                       directory.string(), error.message());
    }
    if (::chmod(directory.c_str(), 0700) != 0) {
      return MakeError(ErrorCode::kUnavailable, "cannot chmod 700 signing key folder {}: {}",
                       directory.string(), ErrnoText(errno));
    }
    logger_.info("created signing key folder {}", directory.string());
    return {};
  }
  if (!S_ISDIR(info.st_mode)) {
    return MakeError(ErrorCode::kInvalidArgument, "signing key folder {} is not a folder",
                     directory.string());
  }
  if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "signing key folder {} is accessible by group or others (mode {:04o}); run "
                     "`chmod 700 {}` and start again",
                     directory.string(), info.st_mode & 07777, directory.string());
  }
  return {};
}

Result<> SigningKeyRing::Load() {
  std::vector<Entry> loaded;
  std::error_code error;
  fs::directory_iterator it(options_.directory, error);
  if (error) {
    return MakeError(ErrorCode::kUnavailable, "cannot list signing key folder {}: {}",
                     options_.directory.string(), error.message());
  }
  for (const fs::directory_entry& entry : it) {
    const std::string name = entry.path().filename().string();
    if (IsStaleTempFile(name)) {
      // A crash between create and rename leaves one; it never became a key.
      ::unlink(entry.path().c_str());
      continue;
    }
    auto ms = ParseKeyFileName(name);
    if (!ms) {
      continue;  // not ours: a README, a backup someone made...
    }
    SG_ASSIGN_OR_RETURN(std::optional<std::string> pem,
                        ReadSecretFile(entry.path(), kWhat, kMaxKeyFileBytes, kIfExposed));
    if (!pem) {
      // Listed a moment ago: someone deleted it meanwhile.
      return MakeError(ErrorCode::kUnavailable, "cannot open {} {}: {}", kWhat,
                       entry.path().string(), ErrnoText(ENOENT));
    }
    auto key = SigningKey::FromPrivatePem(*pem, FromUnixMs(*ms));
    OPENSSL_cleanse(pem->data(), pem->size());
    if (!key) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "signing key file {}: {}; move it away to have a new key made (tokens it "
                       "signed stop verifying)",
                       entry.path().string(), key.error().message);
    }
    loaded.push_back(Entry{std::move(*key), entry.path()});
  }
  std::sort(loaded.begin(), loaded.end(), [](const Entry& a, const Entry& b) {
    if (a.key->created_at() != b.key->created_at()) {
      return a.key->created_at() < b.key->created_at();
    }
    return a.key->kid() < b.key->kid();
  });
  // The same key under two names (a copied file): the first made counts.
  std::vector<Entry> unique;
  for (Entry& entry : loaded) {
    const bool seen = std::any_of(unique.begin(), unique.end(), [&](const Entry& kept) {
      return kept.key->kid() == entry.key->kid();
    });
    if (seen) {
      logger_.warn("signing key file {} repeats key {}; ignoring it", entry.path.string(),
                   entry.key->kid());
      continue;
    }
    unique.push_back(std::move(entry));
  }
  std::unique_lock lock(keys_mutex_);
  keys_ = std::move(unique);
  return {};
}

bool SigningKeyRing::RotationDue(WallTime now) const {
  return keys_.empty() || now - keys_.back().key->created_at() >= options_.rotation_period;
}

bool SigningKeyRing::Retired(std::size_t index, WallTime now) const {
  if (index + 1 >= keys_.size()) {
    return false;  // the newest key signs
  }
  // The last token this key signed was made no later than its successor's creation.
  const WallTime stopped_signing = keys_[index + 1].key->created_at();
  return now >= stopped_signing + options_.max_token_lifetime + options_.retire_grace;
}

Result<> SigningKeyRing::MaintainLocked() {
  const WallTime now = clock_.WallNow();
  bool due = false;
  {
    std::shared_lock lock(keys_mutex_);
    due = RotationDue(now);
  }
  if (due) {
    // Whole milliseconds, so that the time read back from the file name is the same.
    std::int64_t ms = ToUnixMs(now);
    fs::path path;
    std::error_code ignored;
    do {
      path = options_.directory / fmt::format("{}{}{}", kPrefix, ms, kSuffix);
      ++ms;
    } while (fs::exists(path, ignored));
    auto made = SigningKey::Generate(FromUnixMs(ms - 1));
    Result<> written =
        made ? WriteSecretFile(path, (*made)->private_pem(), kWhat, Placement::kReplace)
             : Result<>(MakeError(made.error()));
    if (!written) {
      rotation_failed_ = true;
      last_failed_rotation_ = now;
      return MakeError(written.error().code, "cannot make a new signing key: {}",
                       written.error().message);
    }
    rotation_failed_ = false;
    logger_.info("made a new ES256 signing key {} in {}", (*made)->kid(), path.string());
    std::unique_lock lock(keys_mutex_);
    keys_.push_back(Entry{std::move(*made), std::move(path)});
  }

  std::vector<Entry> retired;
  {
    std::shared_lock lock(keys_mutex_);
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      if (Retired(i, now)) {
        retired.push_back(keys_[i]);
      }
    }
  }
  Result<> outcome;
  for (const Entry& entry : retired) {
    if (::unlink(entry.path.c_str()) != 0 && errno != ENOENT) {
      // Find() already refuses it; only the file stays behind until the next attempt.
      outcome = MakeError(ErrorCode::kUnavailable, "cannot delete retired signing key {}: {}",
                          entry.path.string(), ErrnoText(errno));
      continue;
    }
    logger_.info("deleted retired signing key {} ({})", entry.key->kid(), entry.path.string());
    std::unique_lock lock(keys_mutex_);
    std::erase_if(keys_, [&](const Entry& kept) { return kept.key == entry.key; });
  }
  if (!retired.empty()) {
    SyncDirectory(options_.directory);
  }
  return outcome;
}

Result<> SigningKeyRing::Maintain() {
  std::lock_guard lock(maintain_mutex_);
  return MaintainLocked();
}

std::shared_ptr<const SigningKey> SigningKeyRing::KeyForSigning() {
  const WallTime now = clock_.WallNow();
  {
    std::shared_lock lock(keys_mutex_);
    if (!RotationDue(now)) {
      return keys_.back().key;
    }
  }
  {
    std::lock_guard lock(maintain_mutex_);
    const bool waiting =
        rotation_failed_ && now < last_failed_rotation_ + options_.retry_rotation_after;
    if (!waiting) {
      if (auto done = MaintainLocked(); !done) {
        logger_.warn("{}; signing with the current key meanwhile", done.error().message);
      }
    }
  }
  std::shared_lock lock(keys_mutex_);
  SG_CHECK(!keys_.empty(), "the signing key ring always holds a key after Open");
  return keys_.back().key;
}

std::shared_ptr<const SigningKey> SigningKeyRing::Find(std::string_view kid) const {
  const WallTime now = clock_.WallNow();
  std::shared_lock lock(keys_mutex_);
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i].key->kid() == kid) {
      return Retired(i, now) ? nullptr : keys_[i].key;
    }
  }
  return nullptr;
}

std::vector<std::shared_ptr<const SigningKey>> SigningKeyRing::VerifyingKeys() const {
  const WallTime now = clock_.WallNow();
  std::vector<std::shared_ptr<const SigningKey>> keys;
  std::shared_lock lock(keys_mutex_);
  for (std::size_t i = keys_.size(); i-- > 0;) {
    if (!Retired(i, now)) {
      keys.push_back(keys_[i].key);
    }
  }
  return keys;
}

std::string SigningKeyRing::Jwks() const {
  boost::json::array keys;
  for (const auto& key : VerifyingKeys()) {
    keys.push_back(JwkObject(*key));
  }
  boost::json::object set;
  set["keys"] = std::move(keys);
  return boost::json::serialize(set);
}

}  // namespace sg::plugins::auth
