#include "core/api/services/event_bus.h"

namespace sg {
namespace {

/// Splits off the next dot-separated token; advances `rest` past it and its dot. Returns
/// false when nothing is left. A trailing dot yields one final empty token.
bool NextToken(std::string_view& rest, bool& done, std::string_view& token) {
  if (done) {
    return false;
  }
  std::size_t dot = rest.find('.');
  if (dot == std::string_view::npos) {
    token = rest;
    rest = {};
    done = true;
  } else {
    token = rest.substr(0, dot);
    rest.remove_prefix(dot + 1);
  }
  return true;
}

}  // namespace

Result<> ValidateSubject(std::string_view subject, bool allow_wildcards) {
  if (subject.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "subject is empty");
  }
  for (char c : subject) {
    auto byte = static_cast<unsigned char>(c);
    // Space and control characters split a NATS protocol line; bytes >= 0x80 (UTF-8) are
    // allowed, as in NATS.
    if (byte <= 0x20 || byte == 0x7F) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "subject \"{}\" contains whitespace or a control character", subject);
    }
  }
  std::string_view rest = subject;
  bool done = false;
  std::string_view token;
  while (NextToken(rest, done, token)) {
    if (token.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "subject \"{}\" has an empty token", subject);
    }
    // `*` and `>` are wildcards only as whole tokens; `a*b` is an ordinary token.
    if (token == "*" || token == ">") {
      if (!allow_wildcards) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "subject \"{}\" contains a wildcard; publish to a concrete subject",
                         subject);
      }
      if (token == ">" && !done) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "subject \"{}\": '>' is only allowed as the last token", subject);
      }
    }
  }
  return {};
}

bool SubjectMatches(std::string_view pattern, std::string_view subject) noexcept {
  std::string_view pattern_rest = pattern;
  std::string_view subject_rest = subject;
  bool pattern_done = false;
  bool subject_done = false;
  std::string_view pattern_token;
  std::string_view subject_token;
  while (NextToken(pattern_rest, pattern_done, pattern_token)) {
    if (!NextToken(subject_rest, subject_done, subject_token)) {
      return false;  // the pattern is longer than the subject
    }
    if (pattern_token == ">") {
      // One or more remaining tokens: we just consumed at least one. Only valid last.
      return pattern_done;
    }
    if (pattern_token != "*" && pattern_token != subject_token) {
      return false;
    }
  }
  // Both must run out together.
  return !NextToken(subject_rest, subject_done, subject_token);
}

}  // namespace sg
