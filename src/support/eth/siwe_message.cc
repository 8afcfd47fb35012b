#include "support/eth/siwe_message.h"

#include <boost/url/authority_view.hpp>
#include <boost/url/parse.hpp>

#include <array>
#include <charconv>
#include <cstddef>
#include <exception>

#include "support/eth/eth_crypto.h"
#include "support/eth/rfc3339.h"

namespace sg::eth {
namespace {

constexpr std::string_view kHeaderSuffix = " wants you to sign in with your Ethereum account:";
constexpr std::string_view kResourcesLine = "Resources:";
constexpr std::size_t kMinNonceLength = 8;
// Client text quoted in an error is cut here: enough to recognise it, not a log flood.
constexpr std::size_t kMaxQuoted = 64;

// The "Name: value" fields after the statement, in the one order the ABNF allows.
enum Field : int {
  kUri,
  kVersion,
  kChainId,
  kNonce,
  kIssuedAt,
  kExpirationTime,
  kNotBefore,
  kRequestId,
  kResources,
  kFieldCount,
};
constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "URI",        "Version",    "Chain ID", "Nonce", "Issued At", "Expiration Time",
    "Not Before", "Request ID", "Resources"};

bool IsAlpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) noexcept { return c >= '0' && c <= '9'; }
bool IsHexDigit(char c) noexcept {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
// RFC 3986 §2.3.
bool IsUnreserved(char c) noexcept {
  return IsAlpha(c) || IsDigit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
// RFC 3986 §2.2.
bool IsSubDelim(char c) noexcept {
  return std::string_view("!$&'()*+,;=").find(c) != std::string_view::npos;
}
bool IsGenDelim(char c) noexcept {
  return std::string_view(":/?#[]@").find(c) != std::string_view::npos;
}

std::string Quote(std::string_view text) {
  if (text.size() <= kMaxQuoted) {
    return fmt::format("\"{}\"", text);
  }
  return fmt::format("\"{}...\"", text.substr(0, kMaxQuoted));
}

std::string DescribeChar(char c) {
  auto byte = static_cast<unsigned char>(c);
  if (byte >= 0x20 && byte <= 0x7E) {
    return fmt::format("'{}'", c);
  }
  return fmt::format("byte 0x{:02X}", static_cast<unsigned>(byte));
}

bool HasEdgeWhitespace(std::string_view value) {
  auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  return !value.empty() && (is_space(value.front()) || is_space(value.back()));
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<SiweMessage> Run() {
    if (text_.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "SIWE message is empty");
    }
    SG_RETURN_IF_ERROR(SplitLines());
    SiweMessage message;
    SG_RETURN_IF_ERROR(ParseHeader(message));
    SG_RETURN_IF_ERROR(ParseAddressLine(message));
    SG_RETURN_IF_ERROR(ParseStatement(message));
    SG_RETURN_IF_ERROR(ParseFields(message));
    return message;
  }

 private:
  template <class... Args>
  tl::unexpected<Error> LineError(std::size_t index, std::string_view what,
                                  fmt::format_string<Args...> format, Args&&... args) const {
    return MakeError(ErrorCode::kInvalidArgument, "SIWE message line {} ({}): {}", index + 1, what,
                     fmt::format(format, std::forward<Args>(args)...));
  }

  Result<> SplitLines() {
    std::size_t start = 0;
    while (true) {
      std::size_t end = text_.find('\n', start);
      std::string_view line =
          text_.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
      if (line.find('\r') != std::string_view::npos) {
        return LineError(lines_.size(), "line end",
                         "carriage return (CR) is not allowed: lines end with LF only");
      }
      lines_.push_back(line);
      if (end == std::string_view::npos) {
        return {};
      }
      start = end + 1;
    }
  }

  // Line `index`, or an error saying the message stopped before `expected`.
  Result<std::string_view> Line(std::size_t index, std::string_view expected) const {
    if (index >= lines_.size()) {
      return LineError(index, expected, "missing: the message ends after line {}", lines_.size());
    }
    return lines_[index];
  }

  Result<> ParseHeader(SiweMessage& message) const {
    std::string_view line = lines_[0];
    if (line.size() < kHeaderSuffix.size() ||
        line.substr(line.size() - kHeaderSuffix.size()) != kHeaderSuffix) {
      return LineError(0, "header", "must be \"[scheme://]domain{}\"", kHeaderSuffix);
    }
    std::string_view origin = line.substr(0, line.size() - kHeaderSuffix.size());
    std::size_t separator = origin.find("://");
    std::string_view domain = origin;
    if (separator != std::string_view::npos) {
      std::string_view scheme = origin.substr(0, separator);
      SG_RETURN_IF_ERROR(CheckScheme(scheme));
      message.scheme = std::string(scheme);
      domain = origin.substr(separator + 3);
    }
    SG_RETURN_IF_ERROR(CheckDomain(domain));
    message.domain = std::string(domain);
    return {};
  }

  Result<> CheckScheme(std::string_view scheme) const {
    // RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
    if (scheme.empty() || !IsAlpha(scheme[0])) {
      return LineError(0, "scheme", "{} is not an RFC 3986 scheme (must start with a letter)",
                       Quote(scheme));
    }
    for (char c : scheme) {
      if (!IsAlpha(c) && !IsDigit(c) && c != '+' && c != '-' && c != '.') {
        return LineError(0, "scheme", "{} is not allowed in an RFC 3986 scheme", DescribeChar(c));
      }
    }
    return {};
  }

  Result<> CheckDomain(std::string_view domain) const {
    if (domain.empty()) {
      return LineError(0, "domain", "the domain is empty");
    }
    if (domain.find_first_of(" \t") != std::string_view::npos) {
      return LineError(0, "domain", "{} contains whitespace", Quote(domain));
    }
    auto authority = boost::urls::parse_authority(domain);
    if (!authority) {
      return LineError(0, "domain", "{} is not an RFC 3986 authority", Quote(domain));
    }
    if (authority->encoded_host().empty()) {
      return LineError(0, "domain", "{} has no host", Quote(domain));
    }
    return {};
  }

  Result<> ParseAddressLine(SiweMessage& message) const {
    SG_ASSIGN_OR_RETURN(std::string_view line, Line(1, "address"));
    auto bytes = ParseAddress(line);
    if (!bytes) {
      return LineError(1, "address", "{}", bytes.error().message);
    }
    std::string checksummed = ChecksumAddress(*bytes);
    if (checksummed != line) {
      return LineError(1, "address", "not in EIP-55 checksummed form (expected {})", checksummed);
    }
    message.address = std::move(checksummed);
    return {};
  }

  // address LF LF [ statement LF ] LF "URI: "...: the statement sits between two empty lines
  // and may itself be empty (three empty lines); without it there are exactly two.
  Result<> ParseStatement(SiweMessage& message) {
    SG_ASSIGN_OR_RETURN(std::string_view blank, Line(2, "empty line"));
    if (!blank.empty()) {
      return LineError(2, "empty line", "expected an empty line after the address, got {}",
                       Quote(blank));
    }
    SG_ASSIGN_OR_RETURN(std::string_view third, Line(3, "statement"));
    if (third.empty()) {
      SG_ASSIGN_OR_RETURN(std::string_view fourth, Line(4, "URI"));
      if (!fourth.empty()) {  // no statement
        next_ = 4;
        return {};
      }
      message.statement = std::string();
      next_ = 5;
      return {};
    }
    for (std::size_t i = 0; i < third.size(); ++i) {
      char c = third[i];
      if (!IsUnreserved(c) && !IsSubDelim(c) && !IsGenDelim(c) && c != ' ') {
        return LineError(3, "statement",
                         "{} at column {} is not allowed (only RFC 3986 reserved and unreserved "
                         "characters and spaces)",
                         DescribeChar(c), i + 1);
      }
    }
    message.statement = std::string(third);
    SG_ASSIGN_OR_RETURN(std::string_view after, Line(4, "empty line"));
    if (!after.empty()) {
      if (Identify(third) == kUri) {
        return LineError(3, "empty line",
                         "expected two empty lines between the address and "
                         "\"URI: \" when there is no statement");
      }
      return LineError(4, "empty line",
                       "expected an empty line after the statement (a statement is one line), "
                       "got {}",
                       Quote(after));
    }
    next_ = 5;
    return {};
  }

  // Which field a line names ("Nonce: ..." or "Nonce:..."), or kFieldCount for none.
  static Field Identify(std::string_view line) {
    for (int i = 0; i < kFieldCount; ++i) {
      std::string_view name = kFieldNames[static_cast<std::size_t>(i)];
      if (line.size() > name.size() && line.substr(0, name.size()) == name &&
          line[name.size()] == ':') {
        return static_cast<Field>(i);
      }
    }
    return kFieldCount;
  }

  // The value of field `field` on line `index`, which must read "<Name>: <value>".
  Result<std::string_view> FieldValue(std::size_t index, Field field) const {
    std::string_view name = kFieldNames[field];
    SG_ASSIGN_OR_RETURN(std::string_view line, Line(index, name));
    Field found = Identify(line);
    if (found != field) {
      if (found != kFieldCount) {
        return LineError(index, name,
                         "expected \"{}: \", found the {} field (fields must come "
                         "in the EIP-4361 order, each once)",
                         name, kFieldNames[found]);
      }
      return LineError(index, name, "expected \"{}: \", got {}", name, Quote(line));
    }
    if (line.size() < name.size() + 2 || line[name.size() + 1] != ' ') {
      return LineError(index, name, "expected exactly one space after \"{}:\"", name);
    }
    std::string_view value = line.substr(name.size() + 2);
    if (HasEdgeWhitespace(value)) {
      return LineError(index, name, "unexpected whitespace around the value");
    }
    return value;
  }

  Result<> CheckUri(std::size_t index, std::string_view what, std::string_view value) const {
    if (value.find_first_of(" \t") != std::string_view::npos) {
      return LineError(index, what, "a URI cannot contain whitespace");
    }
    if (!boost::urls::parse_uri(value)) {
      return LineError(index, what, "{} is not an RFC 3986 URI", Quote(value));
    }
    return {};
  }

  Result<WallTime> Timestamp(std::size_t index, Field field, std::string_view value) const {
    auto time = ParseRfc3339(value);
    if (!time) {
      return LineError(index, kFieldNames[field], "{}", time.error().message);
    }
    return *time;
  }

  Result<> ParseFields(SiweMessage& message) {
    std::size_t index = next_;
    SG_ASSIGN_OR_RETURN(std::string_view uri, FieldValue(index, kUri));
    SG_RETURN_IF_ERROR(CheckUri(index, "URI", uri));
    message.uri = std::string(uri);

    ++index;
    SG_ASSIGN_OR_RETURN(std::string_view version, FieldValue(index, kVersion));
    if (version != "1") {
      return LineError(index, "Version", "must be 1, got {}", Quote(version));
    }
    message.version = std::string(version);

    ++index;
    SG_ASSIGN_OR_RETURN(std::string_view chain_id, FieldValue(index, kChainId));
    SG_ASSIGN_OR_RETURN(message.chain_id, ParseChainId(index, chain_id));

    ++index;
    SG_ASSIGN_OR_RETURN(std::string_view nonce, FieldValue(index, kNonce));
    SG_RETURN_IF_ERROR(CheckNonce(index, nonce));
    message.nonce = std::string(nonce);

    ++index;
    SG_ASSIGN_OR_RETURN(std::string_view issued_at, FieldValue(index, kIssuedAt));
    SG_ASSIGN_OR_RETURN(message.issued_at, Timestamp(index, kIssuedAt, issued_at));

    return ParseOptionalFields(message, index + 1);
  }

  Result<std::uint64_t> ParseChainId(std::size_t index, std::string_view value) const {
    if (value.empty()) {
      return LineError(index, "Chain ID", "is empty");
    }
    for (char c : value) {
      if (!IsDigit(c)) {
        return LineError(index, "Chain ID", "must be decimal digits, got {}", Quote(value));
      }
    }
    if (value.size() > 1 && value[0] == '0') {
      return LineError(index, "Chain ID", "must not have leading zeros, got {}", Quote(value));
    }
    std::uint64_t chain_id = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), chain_id);
    if (ec != std::errc() || end != value.data() + value.size()) {
      return LineError(index, "Chain ID", "{} does not fit in 64 bits", Quote(value));
    }
    return chain_id;
  }

  Result<> CheckNonce(std::size_t index, std::string_view nonce) const {
    for (std::size_t i = 0; i < nonce.size(); ++i) {
      if (!IsAlpha(nonce[i]) && !IsDigit(nonce[i])) {
        return LineError(index, "Nonce", "{} at column {} is not a letter or digit",
                         DescribeChar(nonce[i]), i + 1);
      }
    }
    if (nonce.size() < kMinNonceLength) {
      return LineError(index, "Nonce", "must be at least {} letters or digits, got {}",
                       kMinNonceLength, nonce.size());
    }
    return {};
  }

  Result<> CheckRequestId(std::size_t index, std::string_view value) const {
    // RFC 3986 *pchar: unreserved / pct-encoded / sub-delims / ":" / "@"
    for (std::size_t i = 0; i < value.size(); ++i) {
      char c = value[i];
      if (c == '%') {
        if (i + 2 >= value.size() || !IsHexDigit(value[i + 1]) || !IsHexDigit(value[i + 2])) {
          return LineError(index, "Request ID",
                           "'%' at column {} is not followed by two hex "
                           "digits",
                           i + 1);
        }
        i += 2;
        continue;
      }
      if (!IsUnreserved(c) && !IsSubDelim(c) && c != ':' && c != '@') {
        return LineError(index, "Request ID",
                         "{} at column {} is not allowed (RFC 3986 pchar only)", DescribeChar(c),
                         i + 1);
      }
    }
    return {};
  }

  // [ LF "Expiration Time: " ... ] [ LF "Not Before: " ... ] [ LF "Request ID: " ... ]
  // [ LF "Resources:" *( LF "- " URI ) ], then the end of the text.
  Result<> ParseOptionalFields(SiweMessage& message, std::size_t index) {
    int last = kIssuedAt;
    for (; index < lines_.size(); ++index) {
      std::string_view line = lines_[index];
      if (line.empty() && index + 1 == lines_.size()) {
        return LineError(index, "end", "the message must not end with a line break");
      }
      if (last == kResources) {
        if (line.size() < 2 || line.substr(0, 2) != "- ") {
          return LineError(index, "Resources",
                           "expected \"- <URI>\" (Resources is the last field), got {}",
                           Quote(line));
        }
        std::string_view resource = line.substr(2);
        if (HasEdgeWhitespace(resource)) {
          return LineError(index, "Resources", "unexpected whitespace around the URI");
        }
        SG_RETURN_IF_ERROR(CheckUri(index, "Resources", resource));
        message.resources.emplace_back(resource);
        continue;
      }
      Field field = Identify(line);
      if (field == kFieldCount) {
        return LineError(index, "unknown", "unexpected line {}", Quote(line));
      }
      if (field == last || field <= kIssuedAt) {  // the required fields were all read
        return LineError(index, kFieldNames[field], "duplicate field");
      }
      if (field < last) {
        return LineError(index, kFieldNames[field],
                         "{} field out of place (it must come before {}; fields must come in "
                         "the EIP-4361 order, each once)",
                         kFieldNames[field], kFieldNames[static_cast<std::size_t>(last)]);
      }
      last = field;
      if (field == kResources) {
        if (line != kResourcesLine) {
          return LineError(index, "Resources", "expected \"Resources:\" alone on its line");
        }
        continue;
      }
      SG_ASSIGN_OR_RETURN(std::string_view value, FieldValue(index, field));
      switch (field) {
        case kExpirationTime: {
          SG_ASSIGN_OR_RETURN(message.expiration_time, Timestamp(index, field, value));
          break;
        }
        case kNotBefore: {
          SG_ASSIGN_OR_RETURN(message.not_before, Timestamp(index, field, value));
          break;
        }
        case kRequestId: {
          SG_RETURN_IF_ERROR(CheckRequestId(index, value));
          message.request_id = std::string(value);
          break;
        }
        default:
          return LineError(index, kFieldNames[field], "unexpected field");
      }
    }
    return {};
  }

  std::string_view text_;
  std::vector<std::string_view> lines_;
  std::size_t next_ = 0;  // the line after the statement block: "URI: "
};

}  // namespace

Result<SiweMessage> SiweMessage::Parse(std::string_view text) {
  try {
    return Parser(text).Run();
  } catch (const std::exception& e) {  // allocation failure; Boost.URL parse does not throw
    return MakeError(ErrorCode::kInternal, "SIWE message parser failed: {}", e.what());
  }
}

std::string SiweMessage::Format() const {
  std::string out;
  if (scheme) {
    out += *scheme;
    out += "://";
  }
  out += domain;
  out += kHeaderSuffix;
  out += '\n';
  out += address;
  out += "\n\n";
  if (statement) {
    out += *statement;
    out += '\n';
  }
  out += '\n';
  out += fmt::format("URI: {}\nVersion: {}\nChain ID: {}\nNonce: {}\nIssued At: {}", uri, version,
                     chain_id, nonce, FormatRfc3339Exact(issued_at));
  if (expiration_time) {
    out += fmt::format("\nExpiration Time: {}", FormatRfc3339Exact(*expiration_time));
  }
  if (not_before) {
    out += fmt::format("\nNot Before: {}", FormatRfc3339Exact(*not_before));
  }
  if (request_id) {
    out += fmt::format("\nRequest ID: {}", *request_id);
  }
  if (!resources.empty()) {
    out += "\nResources:";
    for (const std::string& resource : resources) {
      out += "\n- ";
      out += resource;
    }
  }
  return out;
}

}  // namespace sg::eth
