#include "plugins/metadata/search_query.h"

#include <algorithm>
#include <charconv>
#include <vector>

namespace sg::plugins::metadata {
namespace {

constexpr std::string_view kCursorVersion = "c1";
constexpr std::string_view kBase64Url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// The unicode61 tokenizer keeps letters and digits (any non-ASCII code point may be one);
// a word made only of ASCII punctuation yields no token, and an empty phrase is useless.
bool HasTokenCharacter(std::string_view word) {
  return std::any_of(word.begin(), word.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x80 || (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z');
  });
}

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : bytes) {
    buffer = (buffer << 8) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 6) {
      out.push_back(kBase64Url[(buffer >> (bits - 6)) & 0x3f]);
      bits -= 6;
    }
  }
  if (bits > 0) {
    out.push_back(kBase64Url[(buffer << (6 - bits)) & 0x3f]);
  }
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    auto pos = kBase64Url.find(c);
    if (pos == std::string_view::npos) {
      return std::nullopt;
    }
    buffer = (buffer << 6) | static_cast<std::uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      out.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  // Leftover bits must be zero padding of fewer than 8 bits; a length of 1 mod 4 is
  // never produced by the encoder.
  if (bits >= 6 || (buffer & ((1u << bits) - 1)) != 0) {
    return std::nullopt;
  }
  return out;
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    auto end = text.find(separator, start);
    if (end == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

template <class T>
bool ParseNumber(std::string_view text, T& value, int base = 10) {
  if (text.empty()) {
    return false;
  }
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  return ec == std::errc() && end == text.data() + text.size();
}

bool ParseDouble(std::string_view text, double& value) {
  if (text.empty()) {
    return false;
  }
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string MakeFtsMatch(std::string_view text) {
  std::string match;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && IsSpace(text[i])) {
      ++i;
    }
    std::size_t start = i;
    while (i < text.size() && !IsSpace(text[i])) {
      ++i;
    }
    std::string_view word = text.substr(start, i - start);
    if (word.empty() || !HasTokenCharacter(word)) {
      continue;
    }
    if (!match.empty()) {
      match.push_back(' ');
    }
    match.push_back('"');
    for (char c : word) {
      if (c == '"') {
        match.push_back('"');
      }
      match.push_back(c);
    }
    match.push_back('"');
  }
  return match;
}

std::uint64_t QueryFingerprint(const ContentQuery& query) {
  // FNV-1a: a consistency check against mixing up cursors, not a security boundary (a
  // forged cursor only selects a different page of what the caller may see anyway).
  std::uint64_t hash = 14695981039346656037ull;
  auto mix = [&hash](std::string_view part) {
    for (char c : part) {
      hash ^= static_cast<unsigned char>(c);
      hash *= 1099511628211ull;
    }
    hash ^= 0xff;  // separator that cannot occur in UTF-8 text
    hash *= 1099511628211ull;
  };
  mix(MakeFtsMatch(query.text));
  mix(query.tag);
  mix(query.status);
  mix(query.owner);
  std::vector<std::string> visibilities = query.visibilities;
  std::sort(visibilities.begin(), visibilities.end());
  for (const auto& v : visibilities) {
    mix(v);
  }
  return hash;
}

std::string EncodeCursor(const SearchCursor& cursor) {
  char fingerprint[17];
  auto fp_end =
      std::to_chars(fingerprint, fingerprint + sizeof(fingerprint), cursor.fingerprint, 16);
  std::string record(kCursorVersion);
  record += '|';
  record.append(fingerprint, fp_end.ptr);
  record += '|';
  record += std::to_string(cursor.created_at_ms);
  record += '|';
  record += cursor.id;
  record += '|';
  if (cursor.score) {
    char score[64];
    // Shortest round-trip form: the next page compares bm25 for equality with it.
    auto end = std::to_chars(score, score + sizeof(score), *cursor.score);
    record.append(score, end.ptr);
  }
  return Base64UrlEncode(record);
}

Result<SearchCursor> DecodeCursor(std::string_view text) {
  auto bad = [] { return MakeError(ErrorCode::kInvalidArgument, "invalid cursor"); };
  if (text.size() > 512) {
    return bad();
  }
  auto record = Base64UrlDecode(text);
  if (!record) {
    return bad();
  }
  auto parts = Split(*record, '|');
  if (parts.size() != 5 || parts[0] != kCursorVersion) {
    return bad();
  }
  SearchCursor cursor;
  if (!ParseNumber(parts[1], cursor.fingerprint, 16) ||
      !ParseNumber(parts[2], cursor.created_at_ms) || !IsValidId(parts[3])) {
    return bad();
  }
  cursor.id = std::string(parts[3]);
  if (!parts[4].empty()) {
    double score = 0;
    if (!ParseDouble(parts[4], score)) {
      return bad();
    }
    cursor.score = score;
  }
  return cursor;
}

}  // namespace sg::plugins::metadata
