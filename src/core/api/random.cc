#include "core/api/random.h"

#include <openssl/rand.h>

#include <random>
#include <vector>

#include "core/api/result.h"

namespace sg {
namespace {

// One engine per thread: no lock on the hot path, and each is seeded independently from
// the OS so threads never share a sequence.
std::mt19937_64& ThreadEngine() {
  thread_local std::mt19937_64 engine = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  return engine;
}

}  // namespace

double SystemRandom::NextUnit() {
  // The top 53 bits fill a double's mantissa exactly, so the result is uniform in [0, 1).
  return static_cast<double>(ThreadEngine()() >> 11) * 0x1.0p-53;
}

std::uint64_t SystemRandom::NextU64() { return ThreadEngine()(); }

namespace {
constexpr char kDigits[] = "0123456789abcdef";
}  // namespace

std::string UniqueHex(std::size_t bytes) {
  std::string hex;
  hex.reserve(bytes * 2);
  std::uint64_t word = 0;
  for (std::size_t i = 0; i < bytes; ++i) {
    if (i % 8 == 0) {
      word = ThreadEngine()();
    }
    auto byte = static_cast<unsigned char>(word >> (8 * (i % 8)));
    hex.push_back(kDigits[byte >> 4]);
    hex.push_back(kDigits[byte & 0x0f]);
  }
  return hex;
}

std::string RandomHex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (bytes > 0) {
    // RAND_bytes only fails when the OS entropy source is broken; ids made from anything
    // weaker could collide or be guessed, so this is fatal rather than an error.
    SG_CHECK(RAND_bytes(raw.data(), static_cast<int>(raw.size())) == 1,
             "OpenSSL RAND_bytes failed");
  }
  std::string hex;
  hex.reserve(bytes * 2);
  for (unsigned char byte : raw) {
    hex.push_back(kDigits[byte >> 4]);
    hex.push_back(kDigits[byte & 0x0f]);
  }
  return hex;
}

}  // namespace sg
