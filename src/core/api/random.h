#pragma once
/// Randomness as a service, so that jitter and ids are reproducible in tests.

#include <cstdint>
#include <string>

namespace sg {

class Random {
 public:
  virtual ~Random() = default;
  /// Uniform in [0, 1). Thread-safe.
  virtual double NextUnit() = 0;
  /// Uniform 64 random bits. Thread-safe.
  virtual std::uint64_t NextU64() = 0;
};

/// Thread-safe generator seeded from the OS (not for secrets: use OpenSSL for those).
class SystemRandom final : public Random {
 public:
  double NextUnit() override;
  std::uint64_t NextU64() override;
};

/// `bytes` random bytes from the OS CSPRNG as lower-case hex (2 * bytes characters).
/// For secrets and for ids that must not be guessable (upload ids, keys).
std::string RandomHex(std::size_t bytes);

/// `bytes` random bytes as lower-case hex from the thread's engine (seeded from the OS):
/// for ids that must not collide but need not be secret (request, trace and span ids).
/// Made for every request, where RAND_bytes cost about 5 % of a small segment's CPU.
std::string UniqueHex(std::size_t bytes);

}  // namespace sg
