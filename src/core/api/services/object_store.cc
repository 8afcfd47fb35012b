#include "core/api/services/object_store.h"

namespace sg {
namespace {

constexpr std::size_t kMaxKeyBytes = 512;

bool IsKeyChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

}  // namespace

Result<> ValidateObjectKey(std::string_view key) {
  if (key.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "object key is empty");
  }
  if (key.size() > kMaxKeyBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "object key is {} bytes long, at most {} allowed",
                     key.size(), kMaxKeyBytes);
  }
  // Checked character by character before anything else so that the messages below never
  // echo control bytes or NUL back to the caller.
  for (std::size_t i = 0; i < key.size(); ++i) {
    char c = key[i];
    if (c != '/' && !IsKeyChar(c)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "object key has a character outside [A-Za-z0-9._-/] at byte {}", i);
    }
  }
  std::size_t start = 0;
  while (true) {
    std::size_t slash = key.find('/', start);
    std::string_view segment =
        key.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (segment.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "object key {} has an empty segment (leading, trailing or double '/')", key);
    }
    if (segment == "." || segment == "..") {
      return MakeError(ErrorCode::kInvalidArgument, "object key {} has a '{}' segment", key,
                       segment);
    }
    if (slash == std::string_view::npos) {
      return {};
    }
    start = slash + 1;
  }
}

}  // namespace sg
