#pragma once
/// Streaming digests (OpenSSL EVP) and the ByteSource wrappers that let chunk bodies pass
/// from the request to the ObjectStore while being hashed and measured, never buffered.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/api/byte_source.h"
#include "core/api/result.h"

namespace sg::plugins::upload {

/// An incremental digest: "sha1" or "sha256".
class Digest {
 public:
  /// kInvalidArgument for an unknown algorithm.
  static Result<Digest> Create(std::string_view algorithm);
  static Digest Sha256();
  Digest(Digest&&) noexcept;
  Digest& operator=(Digest&&) noexcept;
  ~Digest();

  void Update(std::span<const char> bytes);
  /// The raw digest; the object must not be updated afterwards.
  std::string Finish();

 private:
  struct State;
  explicit Digest(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

/// Passes at most `limit` bytes of `inner` through, feeding every byte to each digest.
/// Reports the end (0) at the limit without reading further. Remembers whether `inner`
/// ended before the limit.
class MeteredSource final : public ByteSource {
 public:
  MeteredSource(ByteSource& inner, std::uint64_t limit, std::vector<Digest*> digests)
      : inner_(inner), limit_(limit), digests_(std::move(digests)) {}
  Result<std::size_t> Read(std::span<char> buffer) override;

  std::uint64_t bytes() const noexcept { return bytes_; }
  bool inner_ended() const noexcept { return inner_ended_; }
  /// The inner source's error, if reading failed (a disconnect, an idle timeout).
  const std::optional<Error>& inner_error() const noexcept { return inner_error_; }

 private:
  ByteSource& inner_;
  std::uint64_t limit_;
  std::vector<Digest*> digests_;
  std::uint64_t bytes_ = 0;
  bool inner_ended_ = false;
  std::optional<Error> inner_error_;
};

/// Reads `source` to its end (or `limit` + 1 bytes) into the digests; returns the bytes
/// read. Memory is one bounded buffer.
Result<std::uint64_t> Consume(ByteSource& source, std::uint64_t limit,
                              std::vector<Digest*> digests);

/// A ByteSource over a string (tests, small bodies).
class StringSource final : public ByteSource {
 public:
  explicit StringSource(std::string data) : data_(std::move(data)) {}
  Result<std::size_t> Read(std::span<char> buffer) override;

 private:
  std::string data_;
  std::size_t offset_ = 0;
};

}  // namespace sg::plugins::upload
