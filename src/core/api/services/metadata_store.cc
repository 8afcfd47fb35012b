#include "core/api/services/metadata_store.h"

#include <openssl/rand.h>

#include <array>

namespace sg {

bool IsValidId(std::string_view id) noexcept {
  if (id.size() < 16 || id.size() > 64) {
    return false;
  }
  for (char c : id) {
    bool digit = c >= '0' && c <= '9';
    bool lower = c >= 'a' && c <= 'z';
    if (!digit && !lower) {
      return false;
    }
  }
  return true;
}

std::string NewId() {
  // RFC 4648 base32 alphabet, lower-cased: case-insensitive file systems and URLs keep
  // ids distinct, and no character needs escaping anywhere.
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  static constexpr std::size_t kChars = 20;  // 20 * 5 = 100 bits
  std::array<unsigned char, 13> raw{};       // 104 bits; the last 4 are unused
  // A weak or failing CSPRNG would make ids guessable or colliding; that is fatal.
  SG_CHECK(RAND_bytes(raw.data(), static_cast<int>(raw.size())) == 1, "OpenSSL RAND_bytes failed");
  std::string id;
  id.reserve(kChars);
  std::uint32_t buffer = 0;
  int bits = 0;
  std::size_t next = 0;
  while (id.size() < kChars) {
    if (bits < 5) {
      buffer = (buffer << 8) | raw[next++];
      bits += 8;
    }
    id.push_back(kAlphabet[(buffer >> (bits - 5)) & 0x1f]);
    bits -= 5;
  }
  return id;
}

}  // namespace sg
