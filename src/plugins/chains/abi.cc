#include "plugins/chains/abi.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/api/hex.h"
#include "support/eth/eth_crypto.h"
namespace sg::plugins::chains {
namespace {

constexpr std::size_t kWordSize = 32;

void AppendWord(std::string& out, const std::uint8_t* data) {
  out += HexEncode(std::span<const std::uint8_t>(data, kWordSize));
}

void AppendUint(std::string& out, std::uint64_t value) {
  Uint256 word = Uint256::FromU64(value);
  AppendWord(out, word.bytes.data());
}

void AppendAddress(std::string& out, const Address& address) {
  Word word{};
  std::copy(address.begin(), address.end(), word.begin() + 12);
  AppendWord(out, word.data());
}

// Reads word `index` of `data` as a small unsigned number (offsets, lengths); fails when
// it does not fit in 32 bits, which no honest answer of ours needs.
Result<std::size_t> ReadSize(const std::vector<std::uint8_t>& data, std::size_t offset) {
  if (offset > data.size() || data.size() - offset < kWordSize) {
    return MakeError(ErrorCode::kInvalidArgument, "return data too short ({} bytes)", data.size());
  }
  for (std::size_t i = 0; i < kWordSize - 4; ++i) {
    if (data[offset + i] != 0) {
      return MakeError(ErrorCode::kInvalidArgument, "return data holds an oversized offset");
    }
  }
  std::size_t value = 0;
  for (std::size_t i = kWordSize - 4; i < kWordSize; ++i) {
    value = (value << 8) | data[offset + i];
  }
  return value;
}

Result<std::vector<std::uint8_t>> DecodeReturn(std::string_view result) {
  SG_ASSIGN_OR_RETURN(std::vector<std::uint8_t> data, eth::FromHex(result));
  if (data.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "returned no data (not a contract?)");
  }
  if (data.size() < kWordSize) {
    return MakeError(ErrorCode::kInvalidArgument, "return data too short ({} bytes)", data.size());
  }
  return data;
}

}  // namespace

Result<Address> ParseAddress(std::string_view text, std::string_view what) {
  if (text.size() != 42 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X')) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "{}: expected an address (0x and 40 hex digits), got \"{}\"", what,
                     text.substr(0, 64));
  }
  Address address{};
  for (std::size_t i = 0; i < 20; ++i) {
    int high = HexDigitValue(text[2 + 2 * i]);
    int low = HexDigitValue(text[3 + 2 * i]);
    if (high < 0 || low < 0) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "{}: expected an address (0x and 40 hex digits), got \"{}\"", what, text);
    }
    address[i] = static_cast<std::uint8_t>(high << 4 | low);
  }
  return address;
}

std::string FormatAddress(const Address& address) { return "0x" + HexEncode(address); }

std::string EncodeBalanceOf(const Address& owner) {
  std::string out = fmt::format("0x{}", kBalanceOfSelector);
  AppendAddress(out, owner);
  return out;
}

std::string EncodeOwnerOf(const Uint256& token_id) {
  std::string out = fmt::format("0x{}", kOwnerOfSelector);
  AppendWord(out, token_id.bytes.data());
  return out;
}

std::string EncodeBalanceOfBatch(const std::vector<Address>& owners,
                                 const std::vector<Uint256>& ids) {
  // Head: two offsets (relative to the start of the arguments); tail: each array as its
  // length followed by its items.
  std::size_t first = 2 * kWordSize;
  std::size_t second = first + kWordSize * (1 + owners.size());
  std::string out = fmt::format("0x{}", kBalanceOfBatchSelector);
  AppendUint(out, first);
  AppendUint(out, second);
  AppendUint(out, owners.size());
  for (const Address& owner : owners) {
    AppendAddress(out, owner);
  }
  AppendUint(out, ids.size());
  for (const Uint256& id : ids) {
    AppendWord(out, id.bytes.data());
  }
  return out;
}

std::string EncodeIsValidSignature(const std::array<std::uint8_t, 32>& hash,
                                   const std::vector<std::uint8_t>& signature) {
  std::string out = fmt::format("0x{}", kIsValidSignatureSelector);
  AppendWord(out, hash.data());
  AppendUint(out, 2 * kWordSize);  // offset of the bytes argument
  AppendUint(out, signature.size());
  std::vector<std::uint8_t> padded = signature;
  padded.resize((signature.size() + kWordSize - 1) / kWordSize * kWordSize, 0);
  out += HexEncode(padded);
  return out;
}

Result<Uint256> DecodeUint256(std::string_view result) {
  SG_ASSIGN_OR_RETURN(std::vector<std::uint8_t> data, DecodeReturn(result));
  Uint256 value;
  std::copy(data.begin(), data.begin() + kWordSize, value.bytes.begin());
  return value;
}

Result<Address> DecodeAddress(std::string_view result) {
  SG_ASSIGN_OR_RETURN(std::vector<std::uint8_t> data, DecodeReturn(result));
  if (!std::all_of(data.begin(), data.begin() + 12, [](std::uint8_t b) { return b == 0; })) {
    return MakeError(ErrorCode::kInvalidArgument, "return data is not an address");
  }
  Address address{};
  std::copy(data.begin() + 12, data.begin() + kWordSize, address.begin());
  return address;
}

Result<std::vector<Uint256>> DecodeUint256Array(std::string_view result) {
  SG_ASSIGN_OR_RETURN(std::vector<std::uint8_t> data, DecodeReturn(result));
  SG_ASSIGN_OR_RETURN(std::size_t offset, ReadSize(data, 0));
  SG_ASSIGN_OR_RETURN(std::size_t length, ReadSize(data, offset));
  std::size_t start = offset + kWordSize;
  if (length > (data.size() - start) / kWordSize) {
    return MakeError(ErrorCode::kInvalidArgument, "return data announces {} items but holds fewer",
                     length);
  }
  std::vector<Uint256> items(length);
  for (std::size_t i = 0; i < length; ++i) {
    auto begin = data.begin() + static_cast<std::ptrdiff_t>(start + i * kWordSize);
    std::copy(begin, begin + kWordSize, items[i].bytes.begin());
  }
  return items;
}

Result<bool> DecodeIsValidSignature(std::string_view result) {
  SG_ASSIGN_OR_RETURN(std::vector<std::uint8_t> data, DecodeReturn(result));
  return std::equal(kEip1271Magic.begin(), kEip1271Magic.end(), data.begin());
}

}  // namespace sg::plugins::chains
