#include "plugins/upload/upload_protocol.h"

#include <time.h>

#include <algorithm>
#include <array>
#include <set>

namespace sg::plugins::upload {
namespace {

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Base64Value(char c) noexcept {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '+') {
    return 62;
  }
  if (c == '/') {
    return 63;
  }
  return -1;
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    auto at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) {
      return parts;
    }
    text.remove_prefix(at + 1);
  }
}

// RFC 9530 Repr-Digest is a structured-field dictionary of byte sequences: we only need the
// sha-256 member; other algorithms are ignored, as the RFC allows.
Result<std::optional<std::string>> ParseReprDigest(std::string_view header) {
  std::optional<std::string> found;
  for (auto member : Split(header, ',')) {
    member = TrimOws(member);
    auto eq = member.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "Repr-Digest: expected algorithm=:base64:, got \"{}\"", member);
    }
    auto algorithm = member.substr(0, eq);
    auto value = member.substr(eq + 1);
    if (value.size() < 2 || value.front() != ':' || value.back() != ':') {
      return MakeError(ErrorCode::kInvalidArgument,
                       "Repr-Digest: the {} value must be a byte sequence :base64:", algorithm);
    }
    if (algorithm != "sha-256") {
      continue;
    }
    auto digest = Base64Decode(value.substr(1, value.size() - 2));
    if (!digest || digest->size() != 32) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "Repr-Digest: sha-256 must be 32 bytes of base64");
    }
    found = HexEncode(*digest);
  }
  return found;
}

}  // namespace

std::uint64_t ChunkLayout::TotalChunks() const noexcept {
  if (chunk_size == 0) {
    return 0;
  }
  return size / chunk_size + (size % chunk_size == 0 ? 0 : 1);
}

std::uint64_t ChunkLayout::ChunkBytes(std::uint64_t index) const noexcept {
  if (index >= TotalChunks()) {
    return 0;
  }
  return std::min(chunk_size, size - index * chunk_size);
}

std::uint64_t ChunkLayout::ChunkAt(std::uint64_t offset) const noexcept {
  if (offset >= size || chunk_size == 0) {
    return TotalChunks();
  }
  return offset / chunk_size;
}

ChunkRanges ToRanges(const std::vector<std::uint32_t>& indices) {
  ChunkRanges ranges;
  for (auto index : indices) {
    if (!ranges.empty() && index <= ranges.back().second + 1) {
      ranges.back().second = std::max(ranges.back().second, index);
      continue;
    }
    ranges.emplace_back(index, index);
  }
  return ranges;
}

ChunkRanges MissingRanges(const std::vector<std::uint32_t>& indices, std::uint32_t total) {
  ChunkRanges missing;
  std::uint32_t next = 0;  // the first index not known to be present
  for (auto index : indices) {
    if (index >= total) {
      break;
    }
    if (index > next) {
      missing.emplace_back(next, index - 1);
    }
    next = std::max(next, index + 1);
  }
  if (next < total) {
    missing.emplace_back(next, total - 1);
  }
  return missing;
}

std::uint32_t ContiguousPrefix(const std::vector<std::uint32_t>& indices) {
  std::uint32_t next = 0;
  for (auto index : indices) {
    if (index == next) {
      ++next;
    } else if (index > next) {
      break;
    }
  }
  return next;
}

std::optional<std::uint64_t> ParseDecimal(std::string_view text) noexcept {
  if (text.empty() || text.size() > 19) {
    return std::nullopt;  // 19 digits always fit in uint64
  }
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

Result<std::string> NormalizeSha256Hex(std::string_view text, std::string_view what) {
  if (text.size() != 64) {
    return MakeError(ErrorCode::kInvalidArgument, "{}: expected 64 hex characters, got {}", what,
                     text.size());
  }
  std::string lower(text);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'F') {
      c = static_cast<char>(c - 'A' + 'a');
    }
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: not a hex SHA-256", what);
    }
  }
  return lower;
}

Result<std::optional<std::string>> ParseChunkChecksum(const HttpHeaders& headers) {
  std::optional<std::string> hex;
  if (auto header = FindHeader(headers, "Content-SHA256")) {
    SG_ASSIGN_OR_RETURN(auto normalized, NormalizeSha256Hex(TrimOws(*header), "Content-SHA256"));
    hex = std::move(normalized);
  }
  if (auto header = FindHeader(headers, "Repr-Digest")) {
    SG_ASSIGN_OR_RETURN(auto digest, ParseReprDigest(*header));
    if (digest && hex && *digest != *hex) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "Content-SHA256 and Repr-Digest name different SHA-256 values");
    }
    if (digest) {
      hex = std::move(digest);
    }
  }
  return hex;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    hex.push_back(kDigits[c >> 4]);
    hex.push_back(kDigits[c & 0xf]);
  }
  return hex;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t v = (static_cast<unsigned char>(bytes[i]) << 16) |
                      (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                      static_cast<unsigned char>(bytes[i + 2]);
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(kBase64Alphabet[(v >> 6) & 63]);
    out.push_back(kBase64Alphabet[v & 63]);
  }
  std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t v = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) {
      v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    }
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int pad = 0;
    std::array<int, 4> v{};
    for (int j = 0; j < 4; ++j) {
      char c = text[i + j];
      if (c == '=' && last && j >= 2) {
        ++pad;
        v[j] = 0;
        continue;
      }
      if (pad > 0) {
        return std::nullopt;  // data after padding
      }
      v[j] = Base64Value(c);
      if (v[j] < 0) {
        return std::nullopt;
      }
    }
    std::uint32_t bits = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out.push_back(static_cast<char>((bits >> 16) & 0xff));
    if (pad < 2) {
      out.push_back(static_cast<char>((bits >> 8) & 0xff));
    }
    if (pad < 1) {
      out.push_back(static_cast<char>(bits & 0xff));
    }
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> ParseUploadMetadata(
    std::string_view header) {
  std::vector<std::pair<std::string, std::string>> pairs;
  if (TrimOws(header).empty()) {
    return pairs;
  }
  std::set<std::string, std::less<>> seen;
  for (auto item : Split(header, ',')) {
    item = TrimOws(item);
    auto space = item.find(' ');
    auto key = item.substr(0, space);
    if (key.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "Upload-Metadata: empty key");
    }
    std::string value;
    if (space != std::string_view::npos) {
      auto encoded = item.substr(space + 1);
      auto decoded = Base64Decode(encoded);
      if (!decoded) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "Upload-Metadata: the value of {} is not base64", key);
      }
      value = std::move(*decoded);
    }
    if (!seen.emplace(key).second) {
      return MakeError(ErrorCode::kInvalidArgument, "Upload-Metadata: duplicate key {}", key);
    }
    pairs.emplace_back(std::string(key), std::move(value));
  }
  return pairs;
}

Result<TusChecksum> ParseUploadChecksum(std::string_view header) {
  header = TrimOws(header);
  auto space = header.find(' ');
  if (space == std::string_view::npos || space == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "Upload-Checksum: expected \"<algorithm> <base64 digest>\"");
  }
  TusChecksum checksum{std::string(header.substr(0, space)), {}};
  std::size_t expected_bytes = 0;
  if (checksum.algorithm == "sha1") {
    expected_bytes = 20;
  } else if (checksum.algorithm == "sha256") {
    expected_bytes = 32;
  } else {
    return MakeError(ErrorCode::kInvalidArgument,
                     "Upload-Checksum: unsupported algorithm {} (supported: {})",
                     checksum.algorithm, kTusChecksumAlgorithms);
  }
  auto digest = Base64Decode(TrimOws(header.substr(space + 1)));
  if (!digest || digest->size() != expected_bytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "Upload-Checksum: the {} digest must be {} bytes of base64",
                     checksum.algorithm, expected_bytes);
  }
  checksum.digest = std::move(*digest);
  return checksum;
}

}  // namespace sg::plugins::upload
