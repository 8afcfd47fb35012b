#pragma once
/// Pure pieces of the upload protocols (no I/O): chunk arithmetic, chunk range sets,
/// checksum headers of the chunked API and tus header parsing. Everything here is
/// table-tested in upload_protocol_test.cc.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/api/clock.h"
#include "core/api/result.h"
#include "core/api/services/http.h"

namespace sg::plugins::upload {

/// How a file of `size` bytes is cut into chunks of `chunk_size` (the last may be shorter).
struct ChunkLayout {
  std::uint64_t size = 0;
  std::uint64_t chunk_size = 0;

  std::uint64_t TotalChunks() const noexcept;
  /// Bytes of chunk `index` (0 when out of range).
  std::uint64_t ChunkBytes(std::uint64_t index) const noexcept;
  std::uint64_t ChunkOffset(std::uint64_t index) const noexcept { return index * chunk_size; }
  /// The chunk holding byte `offset` (TotalChunks() when offset >= size).
  std::uint64_t ChunkAt(std::uint64_t offset) const noexcept;
};

/// Inclusive index ranges, e.g. {{0,3},{7,7}}.
using ChunkRanges = std::vector<std::pair<std::uint32_t, std::uint32_t>>;

/// `indices` sorted ascending (duplicates allowed) -> ranges of consecutive indices.
ChunkRanges ToRanges(const std::vector<std::uint32_t>& indices);
/// The complement of `indices` (sorted) within [0, total).
ChunkRanges MissingRanges(const std::vector<std::uint32_t>& indices, std::uint32_t total);
/// How many chunks 0, 1, 2, ... are present without a gap (`indices` sorted).
std::uint32_t ContiguousPrefix(const std::vector<std::uint32_t>& indices);

/// Parses a non-negative decimal integer (no sign, no spaces, no leading '+').
std::optional<std::uint64_t> ParseDecimal(std::string_view text) noexcept;

/// Lower-case hex of the SHA-256 the client declared for a chunk, from `Content-SHA256:
/// <hex>` and/or `Repr-Digest: sha-256=:<base64>:` (RFC 9530; other algorithms in it are
/// ignored). nullopt when neither is present. kInvalidArgument when malformed or when the
/// two disagree.
Result<std::optional<std::string>> ParseChunkChecksum(const HttpHeaders& headers);

/// A 64-character hex SHA-256 (any case) -> lower case; kInvalidArgument otherwise.
Result<std::string> NormalizeSha256Hex(std::string_view text, std::string_view what);

std::string HexEncode(std::string_view bytes);
std::string Base64Encode(std::string_view bytes);
/// Strict RFC 4648 base64 (padding required, no whitespace); nullopt when malformed.
std::optional<std::string> Base64Decode(std::string_view text);

/// tus `Upload-Metadata`: comma-separated "key base64value" or "key" pairs. Keys must be
/// non-empty, unique and free of spaces and commas. kInvalidArgument names the bad pair.
Result<std::vector<std::pair<std::string, std::string>>> ParseUploadMetadata(
    std::string_view header);

/// tus `Upload-Checksum: <algorithm> <base64 digest>`.
struct TusChecksum {
  std::string algorithm;  ///< "sha1" or "sha256"
  std::string digest;     ///< raw bytes
};
/// kInvalidArgument for a malformed header or an unsupported algorithm (tus: 400).
Result<TusChecksum> ParseUploadChecksum(std::string_view header);
/// The algorithms of `Tus-Checksum-Algorithm`.
inline constexpr std::string_view kTusChecksumAlgorithms = "sha1,sha256";

}  // namespace sg::plugins::upload
