#include "plugins/upload/hashing.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

namespace sg::plugins::upload {

struct Digest::State {
  EVP_MD_CTX* context = nullptr;
  ~State() { EVP_MD_CTX_free(context); }
};

Digest::Digest(std::unique_ptr<State> state) : state_(std::move(state)) {}
Digest::Digest(Digest&&) noexcept = default;
Digest& Digest::operator=(Digest&&) noexcept = default;
Digest::~Digest() = default;

Result<Digest> Digest::Create(std::string_view algorithm) {
  const EVP_MD* md = nullptr;
  if (algorithm == "sha256") {
    md = EVP_sha256();
  } else if (algorithm == "sha1") {
    md = EVP_sha1();
  } else {
    return MakeError(ErrorCode::kInvalidArgument, "unsupported digest {}", algorithm);
  }
  auto state = std::make_unique<State>();
  state->context = EVP_MD_CTX_new();
  SG_CHECK(state->context != nullptr, "EVP_MD_CTX_new failed (out of memory)");
  SG_CHECK(EVP_DigestInit_ex(state->context, md, nullptr) == 1, "EVP_DigestInit_ex failed");
  return Digest(std::move(state));
}

Digest Digest::Sha256() { return std::move(*Create("sha256")); }

void Digest::Update(std::span<const char> bytes) {
  if (!bytes.empty()) {
    SG_CHECK(EVP_DigestUpdate(state_->context, bytes.data(), bytes.size()) == 1,
             "EVP_DigestUpdate failed");
  }
}

std::string Digest::Finish() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  SG_CHECK(EVP_DigestFinal_ex(state_->context, out, &length) == 1, "EVP_DigestFinal_ex failed");
  return std::string(reinterpret_cast<const char*>(out), length);
}

Result<std::size_t> MeteredSource::Read(std::span<char> buffer) {
  if (bytes_ >= limit_ || inner_ended_) {
    return 0;
  }
  auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), limit_ - bytes_));
  auto got = inner_.Read(buffer.first(want));
  if (!got) {
    inner_error_ = got.error();
    return got;
  }
  if (*got == 0) {
    inner_ended_ = true;
    return 0;
  }
  for (auto* digest : digests_) {
    digest->Update(buffer.first(*got));
  }
  bytes_ += *got;
  return got;
}

Result<std::uint64_t> Consume(ByteSource& source, std::uint64_t limit,
                              std::vector<Digest*> digests) {
  std::vector<char> buffer(64 * 1024);
  std::uint64_t total = 0;
  while (total <= limit) {
    SG_ASSIGN_OR_RETURN(auto got, source.Read(buffer));
    if (got == 0) {
      break;
    }
    for (auto* digest : digests) {
      digest->Update(std::span<const char>(buffer.data(), got));
    }
    total += got;
  }
  return total;
}

Result<std::size_t> StringSource::Read(std::span<char> buffer) {
  std::size_t n = std::min(buffer.size(), data_.size() - offset_);
  std::memcpy(buffer.data(), data_.data() + offset_, n);
  offset_ += n;
  return n;
}

}  // namespace sg::plugins::upload
